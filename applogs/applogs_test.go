package applogs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store/storetest"
)

type fakeApps map[string]string // slug → owner

func (f fakeApps) Get(_ context.Context, slug string) (*apps.App, error) {
	owner, ok := f[slug]
	if !ok {
		return nil, apps.ErrNotFound
	}
	return &apps.App{Slug: slug, OwnerID: owner}, nil
}

func setup(t *testing.T, cfg applogs.Config) (*applogs.Logs, *httptest.Server) {
	t.Helper()
	cfg.Store = storetest.New(t)
	cfg.Apps = fakeApps{"shop": "u1"}
	l, err := applogs.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	l.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-User"); u != "" {
			r = r.WithContext(identity.With(r.Context(), identity.Principal{UserID: u}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return l, srv
}

func get(t *testing.T, url, user string) (*http.Response, map[string]json.RawMessage) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	req.Header.Set("X-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestQueryAPI(t *testing.T) {
	l, srv := setup(t, applogs.Config{})
	old := time.Now().Add(-2 * time.Hour)
	err := l.AppendLogs(t.Context(), []applogs.Entry{
		{Slug: "shop", Message: "server listening on 3000", Time: old},
		applogs.ContainerEntry("shop", "web", "d1", `{"level":"error","msg":"Payment FAILED","order":7}`, time.Now()),
		applogs.ContainerEntry("shop", "api", "d1", "WARNING:  slow query", time.Now()),
		applogs.ContainerEntry("shop", "api", "d1", "GET /api/items 200", time.Now()),
		{Slug: "other", Message: "payment failed elsewhere"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, query, user string
		status            int
		want              []string
	}{
		{"all", "", "u1", 200, []string{"server listening on 3000", "Payment FAILED", "WARNING:  slow query", "GET /api/items 200"}},
		{"q is a case-insensitive substring", "q=payment+failed", "u1", 200, []string{"Payment FAILED"}},
		{"q with regexp characters", "q=%2F(api", "u1", 200, nil},
		{"level is a minimum", "level=warn", "u1", 200, []string{"Payment FAILED", "WARNING:  slow query"}},
		{"since as a duration", "since=1h", "u1", 200, []string{"Payment FAILED", "WARNING:  slow query", "GET /api/items 200"}},
		{"limit keeps the newest", "limit=1", "u1", 200, []string{"GET /api/items 200"}},
		{"bad level", "level=loud", "u1", 400, nil},
		{"bad since", "since=yesterday", "u1", 400, nil},
		{"someone else's app", "", "u2", 404, nil},
		{"anonymous", "", "", 401, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/api/apps/shop/logs?"+tc.query, tc.user)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			var entries []applogs.Entry
			if err := json.Unmarshal(body["entries"], &entries); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Message)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTrimByCount(t *testing.T) {
	l, _ := setup(t, applogs.Config{MaxEntries: 50})
	for i := range 10 {
		var batch []applogs.Entry
		for j := range 10 {
			batch = append(batch, applogs.Entry{Slug: "shop", Message: fmt.Sprintf("line %d", i*10+j)})
		}
		if err := l.AppendLogs(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Trim(t.Context(), "shop"); err != nil {
		t.Fatal(err)
	}
	entries, err := l.Query(t.Context(), "shop", applogs.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 50 || entries[0].Message != "line 50" || entries[49].Message != "line 99" {
		t.Fatalf("kept %d entries, first %q", len(entries), entries[0].Message)
	}
}

func TestFollow(t *testing.T) {
	l, srv := setup(t, applogs.Config{PollInterval: 5 * time.Second})
	if err := l.AppendLogs(t.Context(), []applogs.Entry{{Slug: "shop", Message: "before"}}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/apps/shop/logs?follow=1&level=info", nil)
	req.Header.Set("X-User", "u1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e applogs.Entry
				_ = json.Unmarshal([]byte(s), &e)
				lines <- e.Message
			}
		}
		close(lines)
	}()
	next := func() string {
		select {
		case s := <-lines:
			return s
		case <-time.After(3 * time.Second):
			return "(timeout)"
		}
	}
	if s := next(); s != "before" {
		t.Fatalf("backlog: %q", s)
	}
	start := time.Now()
	if err := l.AppendLogs(t.Context(), []applogs.Entry{{Slug: "shop", Message: "debug noise", Level: "debug"}, {Slug: "shop", Message: "after"}}); err != nil {
		t.Fatal(err)
	}
	if s := next(); s != "after" {
		t.Fatalf("followed: %q", s)
	}
	// Woken by the append, not by the 5 s poll.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("follow latency %v", d)
	}
}

func TestContainerEntryLevels(t *testing.T) {
	cases := []struct{ name, line, level, msg string }{
		{"plain", "ready on port 3000", "info", "ready on port 3000"},
		{"uvicorn", "ERROR:    Exception in ASGI application", "error", "ERROR:    Exception in ASGI application"},
		{"logfmt", `time=now level=warn msg="slow"`, "warn", `time=now level=warn msg="slow"`},
		{"json", `{"level":"warning","message":"cache miss"}`, "warn", "cache miss"},
		{"pino", `{"level":50,"msg":"db down"}`, "error", "db down"},
		{"bracket", "[error] boom", "error", "[error] boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := applogs.ContainerEntry("s", "web", "d", tc.line, time.Now())
			if e.Level != tc.level || e.Message != tc.msg {
				t.Errorf("got %q %q", e.Level, e.Message)
			}
		})
	}
}
