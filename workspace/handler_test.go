package workspace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/workspace"
)

type owners map[string][2]string // workspace id → owner, session

func (o owners) WorkspaceOwner(ctx context.Context, id string) (string, string, error) {
	v, ok := o[id]
	if !ok {
		return "", "", fmt.Errorf("workspace %s: %w", id, workspace.ErrNotFound)
	}
	return v[0], v[1], nil
}

type event struct {
	session, typ, role string
	data               map[string]any
}

type sink struct {
	mu     sync.Mutex
	events []event
}

func (s *sink) Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, event{sessionID, typ, role, data})
	return nil
}

func (s *sink) all() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...)
}

var (
	_ workspace.OwnerLookup = owners(nil)
	_ workspace.EventSink   = (*sink)(nil)
)

type env struct {
	srv     *httptest.Server
	ws      *workspace.Workspaces
	dir     string // the workspace "w1" on disk
	outside string // a directory beside the workspaces that must stay untouched
	events  *sink
}

// newEnv serves the files API for workspace w1 (owner alice, session s1) and w2 (bob).
// The test caller names itself with the X-Test-User header ("admin" is an admin).
func newEnv(t testing.TB, maxBytes int64) *env {
	t.Helper()
	data := t.TempDir()
	ws, err := workspace.New(workspace.Config{DataDir: data, MaxFileBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := ws.Create(t.Context(), "w1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Create(t.Context(), "w2"); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(data, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	ev := &sink{}
	h := &workspace.Handler{Workspaces: ws, Owners: owners{"w1": {"alice", "s1"}, "w2": {"bob", "s2"}}, Events: ev}
	mux := http.NewServeMux()
	h.Mount(mux)
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			r = r.WithContext(identity.With(r.Context(), identity.Principal{UserID: u, Realm: "mgx", Admin: u == "admin"}))
		}
		mux.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(workspace.Guard(auth))
	t.Cleanup(srv.Close)
	return &env{srv: srv, ws: ws, dir: dir, outside: outside, events: ev}
}

func (e *env) do(t *testing.T, user, method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// Send the path exactly as written (no client-side cleaning or re-escaping).
	req.URL.Opaque = path
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestReadWriteWithETags(t *testing.T) {
	e := newEnv(t, 1<<20)
	content := []byte("export default 1\n\x00\xff binary-safe")
	resp, _ := e.do(t, "alice", "PUT", "/api/workspaces/w1/files/src/app/page.tsx", content)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on PUT")
	}
	resp, got := e.do(t, "alice", "GET", "/api/workspaces/w1/files/src/app/page.tsx", nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, content) || resp.Header.Get("ETag") != etag {
		t.Fatalf("read back %d %q etag %s", resp.StatusCode, got, resp.Header.Get("ETag"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"stale If-Match", []string{"If-Match", `"0123"`}, http.StatusPreconditionFailed},
		{"If-None-Match star on an existing file", []string{"If-None-Match", "*"}, http.StatusPreconditionFailed},
		{"current If-Match", []string{"If-Match", etag}, http.StatusOK},
		{"no precondition", nil, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, "alice", "PUT", "/api/workspaces/w1/files/src/app/page.tsx", []byte("v-"+tc.name), tc.headers...)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
		})
	}
	if resp, _ := e.do(t, "alice", "PUT", "/api/workspaces/w1/files/new.txt", []byte("x"), "If-Match", `"abc"`); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("If-Match on a missing file: %d, want 412", resp.StatusCode)
	}
	cur, _ := e.do(t, "alice", "GET", "/api/workspaces/w1/files/src/app/page.tsx", nil)
	if resp, _ := e.do(t, "alice", "GET", "/api/workspaces/w1/files/src/app/page.tsx", nil, "If-None-Match", cur.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET with a current If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp, _ := e.do(t, "alice", "GET", "/api/workspaces/w1/files/src/app/page.tsx", nil, "If-None-Match", etag); resp.StatusCode != http.StatusOK {
		t.Errorf("GET with a stale If-None-Match: %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.do(t, "alice", "GET", "/api/workspaces/w1/files/missing.txt", nil); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "alice", "GET", "/api/workspaces/w1/files/src", nil); resp.StatusCode != 400 {
		t.Errorf("GET a folder: %d", resp.StatusCode)
	}
}

func TestTreeSkipsDependencyFolders(t *testing.T) {
	e := newEnv(t, 1<<20)
	for _, p := range []string{"package.json", "src/a.ts", "node_modules/x/index.js", ".next/cache", "frontend/dist/a.js", "backend/.venv/bin/python", ".git/HEAD", "frontend/src/main.tsx"} {
		if err := os.MkdirAll(filepath.Join(e.dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.dir, p), []byte("12345"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.do(t, "alice", "GET", "/api/workspaces/w1/files", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("tree: %d %s", resp.StatusCode, body)
	}
	var tree struct {
		Files []workspace.Entry `json:"files"`
	}
	if err := json.Unmarshal(body, &tree); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range tree.Files {
		got = append(got, fmt.Sprintf("%s:%s:%d", f.Path, f.Type, f.Size))
	}
	want := "backend:dir:0 frontend:dir:0 frontend/src:dir:0 frontend/src/main.tsx:file:5 package.json:file:5 src:dir:0 src/a.ts:file:5"
	if strings.Join(got, " ") != want {
		t.Errorf("tree\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestAuthorisation(t *testing.T) {
	e := newEnv(t, 1<<20)
	if err := os.WriteFile(filepath.Join(e.dir, "a.txt"), []byte("alice's"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, method, path string
		want                     int
	}{
		{"owner reads", "alice", "GET", "/api/workspaces/w1/files/a.txt", 200},
		{"admin reads", "admin", "GET", "/api/workspaces/w1/files/a.txt", 200},
		{"another user cannot read", "bob", "GET", "/api/workspaces/w1/files/a.txt", 404},
		{"another user cannot list", "bob", "GET", "/api/workspaces/w1/files", 404},
		{"another user cannot write", "bob", "PUT", "/api/workspaces/w1/files/b.txt", 404},
		{"another user cannot delete", "bob", "DELETE", "/api/workspaces/w1/files/a.txt", 404},
		{"anonymous", "", "GET", "/api/workspaces/w1/files/a.txt", 401},
		{"unknown workspace", "alice", "GET", "/api/workspaces/nope/files", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, tc.user, tc.method, tc.path, []byte("x"))
			if resp.StatusCode != tc.want {
				t.Errorf("%d, want %d: %s", resp.StatusCode, tc.want, body)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dir, "b.txt")); err == nil {
		t.Error("bob wrote into alice's workspace")
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "a.txt")); string(b) != "alice's" {
		t.Error("a.txt changed")
	}
}

func TestBadPathsAreRefused(t *testing.T) {
	e := newEnv(t, 1<<20)
	// Links inside the workspace: one out of it, one to a folder inside it.
	if err := os.Symlink(e.outside, filepath.Join(e.dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(e.dir, "inlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(e.dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"dot dot", "/api/workspaces/w1/files/../outside/x"},
		{"dot dot deep", "/api/workspaces/w1/files/a/../../../outside/x"},
		{"encoded dot dot", "/api/workspaces/w1/files/%2e%2e/%2e%2e/outside/x"},
		{"encoded slash", "/api/workspaces/w1/files/..%2F..%2Foutside%2Fx"},
		{"encoded slash in a name", "/api/workspaces/w1/files/a%2Fb"},
		{"absolute", "/api/workspaces/w1/files//etc/x"},
		{"NUL byte", "/api/workspaces/w1/files/a%00b"},
		{"backslash", "/api/workspaces/w1/files/..%5C..%5Coutside%5Cx"},
		{"dot segment", "/api/workspaces/w1/files/./a"},
		{"symlink out of the workspace", "/api/workspaces/w1/files/out/x"},
		{"symlink to a folder inside", "/api/workspaces/w1/files/inlink/x"},
		{"symlink to a file outside", "/api/workspaces/w1/files/passwd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"PUT", "GET", "DELETE"} {
				resp, body := e.do(t, "alice", method, tc.path, []byte("pwned"))
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s: %d, want 400: %s", method, resp.StatusCode, body)
				}
			}
		})
	}
	moves := []struct{ name, from, to string }{
		{"move out", "real", "../outside/real"},
		{"move absolute", "real", "/tmp/real"},
		{"move through a link", "real", "out/real"},
		{"move a link", "passwd", "p2"},
	}
	for _, tc := range moves {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"from": tc.from, "to": tc.to})
			resp, b := e.do(t, "alice", "POST", "/api/workspaces/w1/move", body, "Content-Type", "application/json")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%d, want 400: %s", resp.StatusCode, b)
			}
		})
	}
	entries, _ := os.ReadDir(e.outside)
	if len(entries) != 0 {
		t.Errorf("something was written outside the workspace: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "real", "x")); err == nil {
		t.Error("a write went through the in-workspace link")
	}
}

func TestSizeLimit(t *testing.T) {
	e := newEnv(t, 1024)
	if resp, _ := e.do(t, "alice", "PUT", "/api/workspaces/w1/files/big.bin", bytes.Repeat([]byte("x"), 1025)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %d, want 413", resp.StatusCode)
	}
	if resp, _ := e.do(t, "alice", "PUT", "/api/workspaces/w1/files/ok.bin", bytes.Repeat([]byte("x"), 1024)); resp.StatusCode != http.StatusCreated {
		t.Errorf("at the limit: %d, want 201", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "big.bin")); err == nil {
		t.Error("the oversized file was written")
	}
}

func TestDeleteMoveAndEvents(t *testing.T) {
	e := newEnv(t, 1<<20)
	put, _ := e.do(t, "alice", "PUT", "/api/workspaces/w1/files/a/b.txt", []byte("hello"))
	mv, body := e.do(t, "alice", "POST", "/api/workspaces/w1/move", []byte(`{"from":"a/b.txt","to":"c/d.txt"}`), "Content-Type", "application/json")
	if mv.StatusCode != 200 {
		t.Fatalf("move: %d %s", mv.StatusCode, body)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "c", "d.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("moved file: %q %v", b, err)
	}
	e.do(t, "alice", "PUT", "/api/workspaces/w1/files/e.txt", []byte("e"))
	if resp, _ := e.do(t, "alice", "POST", "/api/workspaces/w1/move", []byte(`{"from":"c/d.txt","to":"e.txt"}`), "Content-Type", "application/json"); resp.StatusCode != http.StatusConflict {
		t.Errorf("move onto an existing file: %d, want 409", resp.StatusCode)
	}
	if resp, _ := e.do(t, "alice", "DELETE", "/api/workspaces/w1/files/c/d.txt", nil, "If-Match", `"stale"`); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("delete with a stale If-Match: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "admin", "DELETE", "/api/workspaces/w1/files/c", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete a folder: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "c")); err == nil {
		t.Error("folder still there")
	}
	var ops []string
	for _, ev := range e.events.all() {
		if ev.session != "s1" || ev.typ != workspace.EventFileChanged {
			t.Errorf("event %+v", ev)
		}
		ops = append(ops, fmt.Sprintf("%s:%s:%s", ev.data["op"], ev.data["path"], ev.data["by"]))
	}
	want := "write:a/b.txt:alice move:c/d.txt:alice write:e.txt:alice delete:c:admin"
	if strings.Join(ops, " ") != want {
		t.Errorf("events\n got %s\nwant %s", strings.Join(ops, " "), want)
	}
	if evs := e.events.all(); len(evs) > 0 && evs[0].data["etag"] != put.Header.Get("ETag") {
		t.Errorf("write event etag %v, response %s", evs[0].data["etag"], put.Header.Get("ETag"))
	}
}
