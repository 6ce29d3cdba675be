package execapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/execapi"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// appSource is a real devenv.AppSource over a map: the apps the dev environments know.
type appSource map[string]*devenv.App

func (a appSource) DevApp(ctx context.Context, slug string) (*devenv.App, error) {
	app, ok := a[slug]
	if !ok {
		return nil, fmt.Errorf("%s: %w", slug, devenv.ErrNotFound)
	}
	return app, nil
}

var _ devenv.AppSource = appSource(nil)

// A dev server for the app's one service; the dev environment starts it beside the shell.
const serverJS = `require("http").createServer((q, s) => s.end("ok")).listen(+process.env.PORT, process.env.HOST);`

const manifest = `{"framework":"nextjs","services":[{"name":"web","dir":".","route":"/","dev":["node","server.js"],"start":["node","server.js"]}]}`

// writeApp lays out a minimal workspace with a sub folder.
func writeApp(t testing.TB, dir string) {
	t.Helper()
	for name, content := range map[string]string{"server.js": serverJS, "mgx.json": manifest, "sub/hello.txt": "hello from sub\n"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func needNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs node on PATH: the process runtime runs the app's dev server with it")
	}
}

// testLogger logs to the test until it ends (background loops may log later).
func testLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// newDevenv runs a real dev environment manager for the app "demo" in ws; its
// environments are stopped when the test ends.
func newDevenv(t testing.TB, drv runtime.Driver, ws string, cfg devenv.Config) *devenv.Manager {
	t.Helper()
	cfg.Driver, cfg.DataDir, cfg.PublicURL = drv, t.TempDir(), "http://mgx.test"
	cfg.Apps = appSource{"demo": {Slug: "demo", OwnerID: "alice", Dir: ws, Env: map[string]string{"MONGODB_DB": "app_demo"}}}
	cfg.StopTimeout = 2 * time.Second
	m, err := devenv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	t.Cleanup(func() {
		_ = m.Stop(context.Background(), "demo")
		cancel()
		<-done
	})
	return m
}

func newProcessDriver(t testing.TB) runtime.Driver {
	t.Helper()
	d, err := process.New(process.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// harness is the endpoint on a real store, real runs and a real dev environment.
type harness struct {
	st     *store.Store
	tokens *execapi.Tokens
	srv    *httptest.Server
	ws     string
}

func newHarness(t testing.TB, drv runtime.Driver, ws string, h execapi.Handler, dcfg devenv.Config) *harness {
	t.Helper()
	st := storetest.New(t)
	if err := execapi.EnsureIndexes(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	if err := scheduler.EnsureIndexes(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	tokens := execapi.NewTokens(st.DB())
	h.Tokens, h.Runs, h.Shells = tokens, scheduler.NewRuns(st.DB()), newDevenv(t, drv, ws, dcfg)
	h.Logger = testLogger(t)
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &harness{st: st, tokens: tokens, srv: srv, ws: ws}
}

// addRun records a run as the scheduler does and returns it.
func (h *harness) addRun(t testing.TB, id, slug, state string, attempts int) *scheduler.Run {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := &scheduler.Run{ID: id, SessionID: "sess-" + id, Number: 1, State: state, Prompt: "p", WorkspaceID: "ws",
		Framework: "nextjs", AppSlug: slug, Attempts: attempts, CreatedAt: now, StartedAt: now, Deadline: now.Add(30 * time.Minute), HeartbeatAt: now}
	if _, err := h.st.DB().Collection("runs").InsertOne(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// issue gives a token for r through the scheduler hook the platform uses.
func (h *harness) issue(t testing.TB, r *scheduler.Run) string {
	t.Helper()
	env, err := execapi.RunEnv(h.tokens, h.srv.URL+execapi.Path)(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if env["MGX_EXEC_URL"] != h.srv.URL+execapi.Path || env["MGX_EXEC_TOKEN"] == "" {
		t.Fatalf("RunEnv = %v", env)
	}
	return env["MGX_EXEC_TOKEN"]
}

type errorBody struct {
	Error struct{ Code, Message string } `json:"error"`
}

// post calls the endpoint with a raw body; token "" sends no Authorization.
func (h *harness) post(t testing.TB, token, body string) (int, execapi.Result, errorBody, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+execapi.Path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res execapi.Result
	var eb errorBody
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("200 with body %q: %v", b, err)
		}
	} else if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("status %d with body %q, not the one error shape", resp.StatusCode, b)
	}
	return resp.StatusCode, res, eb, string(b)
}

func body(command, dir string, timeout int) string {
	b, _ := json.Marshal(map[string]any{"command": command, "dir": dir, "timeout_seconds": timeout})
	return string(b)
}
