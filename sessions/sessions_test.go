package sessions_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/scheduler/redistest"
	"github.com/mgx-dev/mgx/sessions"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// dirWorkspaces is the workspace contract on a temp dir.
type dirWorkspaces struct{ base string }

func (d dirWorkspaces) Create(ctx context.Context, id string) (string, error) {
	dir := filepath.Join(d.base, id)
	return dir, os.MkdirAll(dir, 0o755)
}

func (d dirWorkspaces) Remove(ctx context.Context, id string) error {
	return os.RemoveAll(filepath.Join(d.base, id))
}

type fakeOAuth struct {
	mu      sync.Mutex
	fail    bool
	clients map[string]string
	deleted []string
}

func (f *fakeOAuth) CreateAppClient(ctx context.Context, slug string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return "", "", errors.New("provider down")
	}
	f.clients["app-"+slug] = "secret-of-" + slug
	return "app-" + slug, "secret-of-" + slug, nil
}

func (f *fakeOAuth) DeleteAppClient(ctx context.Context, slug string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, "app-"+slug)
	f.deleted = append(f.deleted, slug)
	return nil
}

type fakeDev struct {
	mu      sync.Mutex
	started []string
}

func (f *fakeDev) Start(ctx context.Context, slug string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, slug)
	return nil
}

type env struct {
	t           testing.TB
	redisClient func() *redis.Client
	st          *store.Store
	ev          *events.Store
	q           *scheduler.Queue
	apps        *apps.Store
	h           *sessions.Handler
	srv         *httptest.Server
	wsBase      string
	oauth       *fakeOAuth
	dev         *fakeDev
	renderF     func(framework, dir, name, slug string) error
}

func newEnv(t testing.TB, mod func(*sessions.Config)) *env {
	t.Helper()
	st := storetest.New(t)
	ctx := t.Context()
	for _, f := range []func(context.Context, *store.Store) error{events.EnsureIndexes, scheduler.EnsureIndexes, apps.EnsureIndexes, sessions.EnsureIndexes} {
		if err := f(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	rdb := redistest.Start(t, redistest.Options{}).Client()
	redisClient := rdb
	ev := events.NewStore(st.DB(), rdb)
	q, err := scheduler.NewQueue(scheduler.QueueConfig{DB: st.DB(), Redis: rdb, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := apps.LoadOrCreateKey(t.TempDir())
	box, _ := apps.NewSecretBox(key)
	e := &env{t: t, redisClient: func() *redis.Client { return redisClient }, st: st, ev: ev, q: q, apps: apps.NewStore(st.DB(), box), wsBase: t.TempDir(),
		oauth: &fakeOAuth{clients: map[string]string{}}, dev: &fakeDev{}}
	e.renderF = func(framework, dir, name, slug string) error {
		return os.WriteFile(filepath.Join(dir, "README.md"), []byte(name+" "+slug+" "+framework), 0o644)
	}
	cfg := sessions.Config{
		DB: st.DB(), Apps: e.apps, Events: ev, Queue: q, Runs: q.Runs(), Workspaces: dirWorkspaces{e.wsBase},
		Render: func(f, d, n, s string) error { return e.renderF(f, d, n, s) },
		OAuth:  e.oauth, Dev: e.dev, Heartbeat: 15 * time.Second, Poll: 10 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := sessions.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	mux := http.NewServeMux()
	h.Mount(mux)
	// Stand-in for the OAuth middleware: "Bearer <user>" or "Bearer admin:<user>".
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			p := identity.Principal{UserID: tok, Realm: "mgx"}
			if u, ok := strings.CutPrefix(tok, "admin:"); ok {
				p = identity.Principal{UserID: u, Realm: "mgx", Admin: true}
			}
			if u, ok := strings.CutPrefix(tok, "enduser:"); ok {
				p = identity.Principal{UserID: u, Realm: "some-app"}
			}
			r = r.WithContext(identity.With(r.Context(), p))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(method, path, user string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if strings.Contains(string(raw), "secret-of-") {
		e.t.Fatalf("client secret in a response: %s", raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func (e *env) counts() (nApps, nSessions, nDirs int) {
	e.t.Helper()
	ctx := context.Background()
	a, _ := e.st.DB().Collection("apps").CountDocuments(ctx, map[string]any{})
	s, _ := e.st.DB().Collection("sessions").CountDocuments(ctx, map[string]any{})
	entries, _ := os.ReadDir(e.wsBase)
	return int(a), int(s), len(entries)
}

func TestCreateSession(t *testing.T) {
	e := newEnv(t, nil)
	status, body := e.do("POST", "/api/sessions", "alice", map[string]any{
		"prompt": "Build me a recipe book where I keep recipes with minutes to cook", "framework": "nextjs"})
	if status != http.StatusCreated {
		t.Fatalf("%d %v", status, body)
	}
	app := body["app"].(map[string]any)
	if app["slug"] != "recipe-book" || app["name"] != "Recipe book" || app["framework"] != "nextjs" ||
		app["oauth_client_id"] != "app-recipe-book" || app["session_id"] != body["id"] {
		t.Fatalf("app %v", app)
	}
	if body["status"] != "queued" || body["workspace_id"] == "" || body["created_at"] == nil {
		t.Fatalf("session %v", body)
	}
	id := body["id"].(string)
	ws := body["workspace_id"].(string)
	readme, err := os.ReadFile(filepath.Join(e.wsBase, ws, "README.md"))
	if err != nil || string(readme) != "Recipe book recipe-book nextjs" {
		t.Fatalf("workspace not rendered: %q %v", readme, err)
	}
	if secret, err := e.apps.ClientSecret(t.Context(), "recipe-book"); err != nil || secret != "secret-of-recipe-book" {
		t.Fatalf("stored secret %q %v", secret, err)
	}
	if len(e.dev.started) != 1 || e.dev.started[0] != "recipe-book" || body["app_slug"] != "recipe-book" {
		t.Fatalf("dev start %+v", e.dev.started)
	}
	run, err := e.q.Runs().Latest(t.Context(), id)
	if err != nil || run.Number != 1 || run.Prompt == "" || run.AppSlug != "recipe-book" || run.WorkspaceID != ws {
		t.Fatalf("run %+v %v", run, err)
	}
	evs, _ := e.ev.List(t.Context(), id, 0, 0)
	if len(evs) != 1 || evs[0].Type != events.Message || evs[0].Role != "user" {
		t.Fatalf("events %+v", evs)
	}
	// A second app of the same name gets the next slug; the name given wins over the prompt.
	_, body2 := e.do("POST", "/api/sessions", "alice", map[string]any{"prompt": "x", "framework": "fastapi-react", "name": "Recipe Book"})
	if body2["app"].(map[string]any)["slug"] != "recipe-book-2" {
		t.Fatalf("second app %v", body2["app"])
	}
}

func TestCreateSessionValidation(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		body   any
		status int
		reason string
	}{
		{"empty prompt", map[string]any{"prompt": "  ", "framework": "nextjs"}, 400, "prompt is empty"},
		{"prompt too long", map[string]any{"prompt": strings.Repeat("é", 20001), "framework": "nextjs"}, 400, "longer than 20000"},
		{"unknown framework", map[string]any{"prompt": "todo", "framework": "rails"}, 400, "framework \"rails\""},
		{"missing framework", map[string]any{"prompt": "todo"}, 400, "framework"},
		{"bad name", map[string]any{"prompt": "todo", "framework": "nextjs", "name": "a\u0000b"}, 400, "control characters"},
		{"empty name", map[string]any{"prompt": "todo", "framework": "nextjs", "name": " "}, 400, "name: empty"},
		{"every problem at once", map[string]any{"prompt": "", "framework": "x"}, 400, "prompt is empty; framework"},
		{"unknown field", `{"prompt":"todo","framework":"nextjs","model":"gpt"}`, 400, "unknown field"},
		{"not json", `prompt=todo`, 400, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do("POST", "/api/sessions", "alice", tt.body)
			msg := fmt.Sprint(body["error"])
			if status != tt.status || !strings.Contains(msg, tt.reason) {
				t.Fatalf("%d %s", status, msg)
			}
		})
	}
	if a, s, d := e.counts(); a+s+d != 0 {
		t.Fatalf("bad requests left %d apps, %d sessions, %d workspaces", a, s, d)
	}
	if status, _ := e.do("POST", "/api/sessions", "", map[string]any{"prompt": "x", "framework": "nextjs"}); status != 401 {
		t.Fatalf("anonymous: %d", status)
	}
}

func TestCreateSessionCleansUpOnFailure(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(e *env)
	}{
		{"render fails", func(e *env) {
			e.renderF = func(string, string, string, string) error { return errors.New("template broken") }
		}},
		{"oauth fails", func(e *env) { e.oauth.fail = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tt.break_(e)
			status, body := e.do("POST", "/api/sessions", "alice", map[string]any{"prompt": "todo list", "framework": "nextjs"})
			if status != 500 {
				t.Fatalf("%d %v", status, body)
			}
			if a, s, d := e.counts(); a+s+d != 0 {
				t.Fatalf("left %d apps, %d sessions, %d workspaces", a, s, d)
			}
			if len(e.oauth.clients) != 0 || len(e.dev.started) != 0 {
				t.Fatalf("left OAuth clients %v, dev starts %v", e.oauth.clients, e.dev.started)
			}
		})
	}
}

func TestSessionAuthorisationAndMessages(t *testing.T) {
	e := newEnv(t, nil)
	_, body := e.do("POST", "/api/sessions", "alice", map[string]any{"prompt": "todo list", "framework": "nextjs"})
	id := body["id"].(string)
	base := "/api/sessions/" + id
	tests := []struct {
		name, method, path, user string
		body                     any
		status                   int
	}{
		{"owner reads", "GET", base, "alice", nil, 200},
		{"admin reads", "GET", base, "admin:root", nil, 200},
		{"other user 404", "GET", base, "bob", nil, 404},
		{"other user cannot message", "POST", base + "/messages", "bob", map[string]any{"content": "hi"}, 404},
		{"other user cannot cancel", "POST", base + "/cancel", "bob", nil, 404},
		{"other user cannot stream", "GET", base + "/events", "bob", nil, 404},
		{"missing session", "GET", "/api/sessions/nope", "alice", nil, 404},
		{"empty message", "POST", base + "/messages", "alice", map[string]any{"content": ""}, 400},
		{"follow-up queued", "POST", base + "/messages", "alice", map[string]any{"content": "add tags"}, 202},
		{"anonymous", "GET", base, "", nil, 401},
		{"app end user with the owner's id", "GET", base, "enduser:alice", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := e.do(tt.method, tt.path, tt.user, tt.body); status != tt.status {
				t.Fatalf("%d %v", status, body)
			}
		})
	}
	// Both runs wait: the follow-up is queued behind the first, not run beside it.
	latest, _ := e.q.Runs().Latest(t.Context(), id)
	if latest.Number != 2 || latest.State != scheduler.StateQueued || latest.Prompt != "add tags" {
		t.Fatalf("latest run %+v", latest)
	}
	_, list := e.do("GET", "/api/sessions", "alice", nil)
	if n := len(list["sessions"].([]any)); n != 1 {
		t.Fatalf("alice sees %d sessions", n)
	}
	_, list = e.do("GET", "/api/sessions", "bob", nil)
	if n := len(list["sessions"].([]any)); n != 0 {
		t.Fatalf("bob sees %d sessions", n)
	}
	// Cancel ends both queued runs (no scheduler is running here), then there is nothing left.
	if status, body := e.do("POST", base+"/cancel", "alice", nil); status != 202 || body["cancelled"] != float64(2) {
		t.Fatalf("cancel %d %v", status, body)
	}
	if status, _ := e.do("POST", base+"/cancel", "alice", nil); status != 409 {
		t.Fatalf("second cancel %d", status)
	}
	_, got := e.do("GET", base, "alice", nil)
	if got["status"] != "cancelled" {
		t.Fatalf("status %v", got["status"])
	}
}

// sseEvent is one parsed SSE message.
type sseEvent struct {
	id, event, data string
}

// openSSE connects and returns a channel of events (comments come as event ":").
func openSSE(t testing.TB, url, user, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+user)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("SSE %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 1024)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur != (sseEvent{}) {
					ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ch <- sseEvent{event: ":", data: line}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return ch, cancel
}

func next(t testing.TB, ch <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream closed")
			}
			if ev.event == ":" || (ev.id == "" && ev.event == "") {
				continue // comments, retry:
			}
			return ev
		case <-time.After(within):
			t.Fatalf("no event within %s", within)
		}
	}
}

func TestEventsSSE(t *testing.T) {
	e := newEnv(t, func(c *sessions.Config) { c.Heartbeat = 100 * time.Millisecond })
	_, body := e.do("POST", "/api/sessions", "alice", map[string]any{"prompt": "todo list", "framework": "nextjs"})
	id := body["id"].(string)
	for i := range 3 {
		if err := e.ev.Emit(t.Context(), id, events.MessageDelta, "engineer", map[string]any{"text": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	url := e.srv.URL + "/api/sessions/" + id + "/events"
	ch, stop := openSSE(t, url, "alice", "")
	defer stop()
	first := next(t, ch, 5*time.Second)
	if first.id != "1" || first.event != events.Message {
		t.Fatalf("first %+v", first)
	}
	var ev events.Event
	if err := json.Unmarshal([]byte(first.data), &ev); err != nil || ev.SessionID != id || ev.Seq != 1 || ev.Role != "user" {
		t.Fatalf("data %s %v", first.data, err)
	}
	for want := 2; want <= 4; want++ {
		if got := next(t, ch, 5*time.Second); got.id != fmt.Sprint(want) || got.event != events.MessageDelta {
			t.Fatalf("got %+v, want id %d", got, want)
		}
	}
	// A new event arrives through the Redis wake-up, well before the 10s poll.
	t0 := time.Now()
	_ = e.ev.Emit(t.Context(), id, events.Finish, "team_leader", map[string]any{"status": "succeeded"})
	got := next(t, ch, 2*time.Second)
	if got.id != "5" || got.event != events.Finish {
		t.Fatalf("got %+v", got)
	}
	t.Logf("live delivery took %s", time.Since(t0))
	// Heartbeat comments flow.
	deadline := time.After(2 * time.Second)
	for hb := false; !hb; {
		select {
		case ev := <-ch:
			hb = ev.event == ":" && strings.Contains(ev.data, "heartbeat")
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}
	stop()

	// Resume after Last-Event-ID, and with ?after=.
	ch2, stop2 := openSSE(t, url, "alice", "3")
	defer stop2()
	if got := next(t, ch2, 5*time.Second); got.id != "4" {
		t.Fatalf("resume from 3 gave %+v", got)
	}
	ch3, stop3 := openSSE(t, url+"?after=4", "admin:root", "")
	defer stop3()
	if got := next(t, ch3, 5*time.Second); got.id != "5" {
		t.Fatalf("after=4 gave %+v", got)
	}
	if status, _ := e.do("GET", "/api/sessions/"+id+"/events?after=x", "alice", nil); status != 400 {
		t.Fatalf("bad after: %d", status)
	}
}
