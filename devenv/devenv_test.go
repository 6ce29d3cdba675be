package devenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/process"
)

// A dev server that says who it is; the "install" step counts its runs in installs.txt.
const serverJS = `const http = require("http");
const svc = process.argv[2];
http.createServer((q, s) => s.end(JSON.stringify({svc, pid: process.pid, url: q.url, base: process.env.BASE_PATH, public: process.env.PUBLIC_URL, db: process.env.MONGODB_URL})))
  .listen(+process.env.PORT, process.env.HOST, () => console.log(svc + " listening"));
`

const installJS = `require("fs").appendFileSync("installs.txt", "x"); console.log("installed " + process.argv[2]);`

type apps map[string]*devenv.App

func (a apps) DevApp(ctx context.Context, slug string) (*devenv.App, error) {
	app, ok := a[slug]
	if !ok {
		return nil, fmt.Errorf("%s: %w", slug, devenv.ErrNotFound)
	}
	return app, nil
}

var _ devenv.AppSource = apps(nil)

// writeApp lays out a workspace whose services are given as mgx.json service objects.
func writeApp(t testing.TB, dir string, services ...string) {
	t.Helper()
	files := map[string]string{
		"server.js":    serverJS,
		"install.js":   installJS,
		"package.json": `{"name":"demo"}`,
		"mgx.json":     `{"framework":"nextjs","services":[` + strings.Join(services, ",") + `]}`,
	}
	for name, content := range files {
		// Atomically, as editors and the files API write: a watcher never sees half a file.
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

const webService = `{"name":"web","dir":".","route":"/","install":["node","install.js","web"],"dev":["node","server.js","web"],"start":["node","server.js","web"],"watch":["package.json"]}`
const apiService = `{"name":"api","dir":".","route":"/api","strip_prefix":true,"dev":["node","server.js","api"],"start":["node","server.js","api"],"health":"/api/health"}`

type fixture struct {
	prefix  string // workload names start with it
	m       *devenv.Manager
	dataDir string
	ws      string
	apps    apps
	drv     runtime.Driver
	cancel  context.CancelFunc
	done    chan struct{}
}

func newProcessDriver(t testing.TB, dataDir string) runtime.Driver {
	t.Helper()
	d, err := process.New(process.Config{StateDir: filepath.Join(dataDir, "process")})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newFixture(t testing.TB, drv runtime.Driver, dataDir, ws string, cfg devenv.Config) *fixture {
	t.Helper()
	f := &fixture{dataDir: dataDir, ws: ws, drv: drv, apps: apps{"demo": {
		Slug: "demo", OwnerID: "alice", Dir: ws,
		Env: map[string]string{"MONGODB_URL": "mongodb://127.0.0.1:27017", "MONGODB_DB": "app_demo"},
	}}}
	cfg.Driver, cfg.Apps, cfg.DataDir, cfg.PublicURL = drv, f.apps, dataDir, "http://mgx.test"
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 400*time.Millisecond
	}
	cfg.WatchInterval = 200 * time.Millisecond
	cfg.StopTimeout = 2 * time.Second
	m, err := devenv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m, f.prefix = m, cfg.NamePrefix
	if f.prefix == "" {
		f.prefix = "mgx-dev"
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() { _ = m.Run(ctx); close(f.done) }()
	return f
}

// detach stops the manager as an MGX shutdown does, leaving dev servers running.
func (f *fixture) detach() {
	f.cancel()
	<-f.done
}

func (f *fixture) stopAll(t *testing.T) {
	t.Helper()
	_ = f.m.Stop(context.Background(), "demo")
	f.detach()
}

func ensure(t *testing.T, m *devenv.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := m.Ensure(ctx, "demo"); err != nil {
		t.Fatalf("Ensure: %v; console:\n%s", err, m.Console("demo").Scrollback())
	}
}

type answer struct {
	Svc, URL, Base, Public, DB string
	PID                        int
}

func get(t *testing.T, addr, path string) answer {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func waitState(t *testing.T, m *devenv.Manager, want string, timeout time.Duration) devenv.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := m.Status("demo")
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %q, want %q: %+v", st.State, want, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func needNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs node on PATH for the process driver")
	}
}

func TestEnsureRoutesAndStatus(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, webService, apiService)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{})
	defer f.stopAll(t)

	if _, _, ok := f.m.Upstream("demo", "/"); ok {
		t.Fatal("Upstream answered before the environment started")
	}
	ensure(t, f.m)
	tests := []struct {
		name, path, svc string
		strip           bool
	}{
		{"root", "/", "web", false},
		{"page", "/items/1", "web", false},
		{"api", "/api/health", "api", true},
		{"api prefix only on a segment boundary", "/apifoo", "web", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, strip, ok := f.m.Upstream("demo", tc.path)
			if !ok || strip != tc.strip {
				t.Fatalf("Upstream(%q) = %q %v %v", tc.path, addr, strip, ok)
			}
			if a := get(t, addr, "/x"); a.Svc != tc.svc {
				t.Errorf("reached %q, want %q", a.Svc, tc.svc)
			}
		})
	}
	addr, _, _ := f.m.Upstream("demo", "/")
	a := get(t, addr, "/dev/demo/")
	if a.Base != "/dev/demo" || a.Public != "http://mgx.test/dev/demo" || a.DB != "mongodb://127.0.0.1:27017" {
		t.Errorf("app env: %+v", a)
	}
	st := f.m.Status("demo")
	if st.State != devenv.StateRunning || len(st.Services) != 2 || st.Services[0].Upstream == "" || st.URL != "http://mgx.test/dev/demo/" {
		t.Errorf("status %+v", st)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "installs.txt")); string(b) != "x" {
		t.Errorf("install ran %d times, want once", len(b))
	}
	time.Sleep(300 * time.Millisecond) // the log follower polls
	console := string(f.m.Console("demo").Scrollback())
	for _, want := range []string{"installed web", "[web] web listening", "[api] api listening", "ready at http://mgx.test/dev/demo/"} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q:\n%s", want, console)
		}
	}
	var out bytes.Buffer
	code, err := f.m.Exec(t.Context(), "demo", runtime.ExecOptions{Command: []string{"/bin/sh", "-c", "cat package.json; echo \" $BASE_PATH [$NODE_ENV]\""}, Stdout: &out})
	// The shell has the app's env but not the dev servers' NODE_ENV (next build fails under it).
	if err != nil || code != 0 || out.String() != `{"name":"demo"} /dev/demo []`+"\n" {
		t.Errorf("Exec: %d %v %q", code, err, out.String())
	}
	if err := f.m.Ensure(t.Context(), "nope"); err == nil {
		t.Error("Ensure of an unknown app succeeded")
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, `{"name":"web","dir":".","route":"/","dev":["/bin/sh","-c","echo boom; exit 3"],"start":["true"]}`)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{BackoffMin: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond})
	defer f.stopAll(t)
	if err := f.m.Start(t.Context(), "demo"); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, f.m, devenv.StateCrashed, 10*time.Second)
	if !strings.Contains(st.Message, "exited with code 3") {
		t.Errorf("message %q", st.Message)
	}
	time.Sleep(2 * time.Second)
	st = f.m.Status("demo")
	// 0.1 + 0.2 + 0.4 + 0.4 + 0.4 … : about 6 restarts in 2 s, never a hot loop.
	if r := st.Services[0].Restarts; r < 3 || r > 9 {
		t.Errorf("%d restarts in about 2s, want a capped backoff (3-9)", r)
	}
	if st.Services[0].ExitCode == nil || *st.Services[0].ExitCode != 3 {
		t.Errorf("exit code %v", st.Services[0].ExitCode)
	}
	if err := f.m.Ensure(t.Context(), "demo"); err == nil {
		t.Error("Ensure succeeded on a crashing environment")
	}
}

func TestReinstallOnDependencyChange(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, webService)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{})
	defer f.stopAll(t)
	ensure(t, f.m)
	addr, _, _ := f.m.Upstream("demo", "/")
	before := get(t, addr, "/")
	if err := os.WriteFile(filepath.Join(ws, "package.json"), []byte(`{"name":"demo","dependencies":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(ws, "installs.txt"))
		addr, _, ok := f.m.Upstream("demo", "/")
		if len(b) == 2 && ok && get(t, addr, "/").PID != before.PID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no re-install and restart: installs %q; console:\n%s", b, f.m.Console("demo").Scrollback())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestIdleStopAndWake(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, webService)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{IdleTimeout: 400 * time.Millisecond})
	defer f.stopAll(t)
	ensure(t, f.m)
	waitState(t, f.m, devenv.StateIdle, 10*time.Second)
	if _, _, ok := f.m.Upstream("demo", "/"); ok {
		t.Error("an idle environment still has an upstream")
	}
	ensure(t, f.m) // the next preview request wakes it
	if _, _, ok := f.m.Upstream("demo", "/"); !ok {
		t.Error("no upstream after waking")
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "installs.txt")); len(b) != 1 {
		t.Errorf("install ran %d times; waking must not re-install unchanged dependencies", len(b))
	}
}

// After an MGX restart the dev servers are re-attached, not restarted or orphaned.
func TestRecoveryAfterRestart(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, webService)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{})
	ensure(t, f.m)
	addr, _, _ := f.m.Upstream("demo", "/")
	before := get(t, addr, "/")
	f.detach()
	if a := get(t, addr, "/"); a.PID != before.PID { // still serving while MGX is down
		t.Fatalf("server changed during the restart")
	}

	f2 := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{})
	defer f2.stopAll(t)
	waitState(t, f2.m, devenv.StateRunning, 20*time.Second)
	addr2, _, ok := f2.m.Upstream("demo", "/")
	if !ok {
		t.Fatal("no upstream after recovery")
	}
	if after := get(t, addr2, "/"); after.PID != before.PID || addr2 != addr {
		t.Errorf("recovered %s pid %d, had %s pid %d: restarted instead of re-attached", addr2, after.PID, addr, before.PID)
	}
	f2.m.Stop(t.Context(), "demo")
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("the dev server still answers after Stop")
	}
}

// A bounded console: its scrollback stays within the configured size.
func TestConsoleSubscribe(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, webService)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{Scrollback: 4096})
	defer f.stopAll(t)
	ensure(t, f.m)
	c := f.m.Console("demo")
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Contains(c.Scrollback(), []byte("web listening")) {
		if time.Now().After(deadline) {
			t.Fatalf("scrollback lacks the server output: %q", c.Scrollback())
		}
		time.Sleep(50 * time.Millisecond)
	}
	back, ch, cancel := c.Subscribe()
	defer cancel()
	if !bytes.Contains(back, []byte("web listening")) {
		t.Errorf("a subscriber's scrollback lacks the server output: %q", back)
	}
	var mu sync.Mutex
	var got []byte
	go func() {
		for chunk := range ch {
			mu.Lock()
			got = append(got, chunk...)
			mu.Unlock()
		}
	}()
	_, _ = io.WriteString(c, strings.Repeat("z", 10000)+"\n")
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 10000 {
		t.Errorf("subscriber got %d bytes", len(got))
	}
	if n := len(c.Scrollback()); n > 4096 {
		t.Errorf("scrollback %d bytes, over 4096", n)
	}
}

// A changed mgx.json restarts the environment with the new services; a broken one is a
// clear status.
func TestManifestChange(t *testing.T) {
	needNode(t)
	data, ws := t.TempDir(), t.TempDir()
	writeApp(t, ws, webService)
	f := newFixture(t, newProcessDriver(t, data), data, ws, devenv.Config{})
	defer f.stopAll(t)
	ensure(t, f.m)
	if _, strip, _ := f.m.Upstream("demo", "/api/x"); strip {
		t.Fatal("an api route before it exists")
	}
	writeApp(t, ws, webService, apiService)
	deadline := time.Now().Add(20 * time.Second)
	for {
		addr, strip, ok := f.m.Upstream("demo", "/api/x")
		if ok && strip {
			if resp, err := http.Get("http://" + addr + "/api/x"); err == nil {
				var a answer
				_ = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if a.Svc == "api" {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new api service never served; status %+v", f.m.Status("demo"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(ws, "mgx.json"), []byte(`{"framework":"nextjs","services":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	st := waitState(t, f.m, devenv.StateCrashed, 20*time.Second)
	if !strings.Contains(st.Message, "mgx.json") {
		t.Errorf("message %q does not name mgx.json", st.Message)
	}
}
