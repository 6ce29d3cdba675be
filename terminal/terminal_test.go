package terminal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/terminal"
)

type apps map[string]*devenv.App

func (a apps) DevApp(ctx context.Context, slug string) (*devenv.App, error) {
	if app, ok := a[slug]; ok {
		return app, nil
	}
	return nil, fmt.Errorf("%s: %w", slug, devenv.ErrNotFound)
}

func (a apps) AppOwner(ctx context.Context, slug string) (string, error) {
	if app, ok := a[slug]; ok {
		return app.OwnerID, nil
	}
	return "", fmt.Errorf("%s: %w", slug, store.ErrNotFound)
}

var _ terminal.AppOwners = apps(nil)

type env struct {
	srv     *httptest.Server
	tickets *terminal.Tickets
	ws      string
}

// newEnv serves the terminal and tickets for app "demo" of alice, whose dev server prints
// a line a second. The test's caller names itself with X-Test-User, standing in for the
// bearer-token middleware.
func newEnv(t *testing.T) *env {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs node on PATH for the process driver")
	}
	data, ws := t.TempDir(), t.TempDir()
	files := map[string]string{
		"mgx.json": `{"framework":"nextjs","services":[{"name":"web","dir":".","route":"/","dev":["node","-e","console.log('server says hi'); setInterval(()=>console.log('tick'),200); require('http').createServer((q,s)=>s.end('ok')).listen(+process.env.PORT)"],"start":["true"]}]}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ws, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	drv, err := process.New(process.Config{StateDir: filepath.Join(data, "process")})
	if err != nil {
		t.Fatal(err)
	}
	a := apps{"demo": {Slug: "demo", OwnerID: "alice", Dir: ws}}
	m, err := devenv.New(devenv.Config{Driver: drv, Apps: a, DataDir: data, PublicURL: "http://mgx.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background(), "demo") })
	tickets := &terminal.Tickets{}
	mux := http.NewServeMux()
	(&terminal.Handler{Apps: a, Consoles: m, Ping: time.Second}).Mount(mux)
	tickets.Mount(mux)
	bearer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := identity.From(r.Context()); !ok {
			if u := r.Header.Get("X-Test-User"); u != "" {
				r = r.WithContext(identity.With(r.Context(), identity.Principal{UserID: u, Admin: u == "admin"}))
			}
		}
		mux.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(tickets.Middleware(bearer))
	t.Cleanup(srv.Close)
	return &env{srv: srv, tickets: tickets, ws: ws}
}

func (e *env) dial(t *testing.T, user, query string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	hdr := http.Header{}
	if user != "" {
		hdr.Set("X-Test-User", user)
	}
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/apps/demo/terminal" + query
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: hdr})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// readUntil reads messages until the output contains want.
func readUntil(t *testing.T, c *websocket.Conn, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	for !strings.Contains(out.String(), want) {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v; so far %q", err, out.String())
		}
		out.Write(b)
	}
	return out.String()
}

func TestTerminalStreamsTheConsole(t *testing.T) {
	e := newEnv(t)
	c, _, err := e.dial(t, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, "server says hi")
	// Input is ignored, and the stream goes on.
	if err := c.Write(t.Context(), websocket.MessageText, []byte("rm -rf /\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, "tick")

	// A second viewer gets the scrollback.
	c2, _, err := e.dial(t, "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, c2, "server says hi")
}

func TestTerminalAccess(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, user string
		want       int
	}{
		{"anonymous", "", http.StatusUnauthorized},
		{"another user", "bob", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := e.dial(t, tc.user, "")
			if err == nil || resp == nil || resp.StatusCode != tc.want {
				t.Errorf("dial: %v, status %v, want %d", err, resp, tc.want)
			}
		})
	}
}

func TestTickets(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/tickets", nil)
	req.Header.Set("X-Test-User", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Ticket string `json:"ticket"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || len(body.Ticket) < 20 {
		t.Fatalf("POST /api/tickets: %d %+v", resp.StatusCode, body)
	}
	c, _, err := e.dial(t, "", "?ticket="+body.Ticket)
	if err != nil {
		t.Fatalf("dial with a ticket: %v", err)
	}
	readUntil(t, c, "server says hi")
	if _, resp, err := e.dial(t, "", "?ticket="+body.Ticket); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a ticket worked twice: %v", err)
	}
	if _, resp, err := e.dial(t, "", "?ticket=forged"); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged ticket: %v", err)
	}
	// Bob's ticket names bob: no access to alice's terminal.
	bobs, _ := e.tickets.Issue(identity.Principal{UserID: "bob"})
	if _, resp, err := e.dial(t, "", "?ticket="+bobs); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob's ticket opened alice's terminal: %v", err)
	}
}

func TestTicketsExpire(t *testing.T) {
	now := time.Now()
	tk := &terminal.Tickets{TTL: time.Minute, Now: func() time.Time { return now }}
	a, _ := tk.Issue(identity.Principal{UserID: "alice"})
	now = now.Add(61 * time.Second)
	if _, ok := tk.Redeem(a); ok {
		t.Error("an expired ticket was accepted")
	}
	b, _ := tk.Issue(identity.Principal{UserID: "alice"})
	if p, ok := tk.Redeem(b); !ok || p.UserID != "alice" {
		t.Error("a fresh ticket was refused")
	}
}
