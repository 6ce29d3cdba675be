package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/deploy"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/store/storetest"
)

// A tiny app for the process runtime: its build copies version.txt (and fails when the
// workspace has a file named "broken", like a syntax error); its server answers
// BASE_PATH/api/health (503 when "unhealthy" exists) and serves the built version; it
// crashes at start when "crash" exists.
const manifestJSON = `{"framework":"nextjs","services":[{"name":"web","dir":".","route":"/","strip_prefix":false,
 "dev":["python3","server.py"],"build":["sh","-c","if [ -f broken ]; then echo 'app/page.tsx:3:1 SyntaxError: Unexpected token' >&2; exit 1; fi; if [ -f slow ]; then sleep 2; fi; cp version.txt built-version.txt"],
 "start":["python3","server.py"],"health":"/api/health"}]}`

const serverPy = `import http.server, os, sys
if os.path.exists("crash"):
    print("Error: cannot connect to the database", file=sys.stderr, flush=True)
    sys.exit(3)
base = os.environ["BASE_PATH"]
version = open("built-version.txt").read().strip()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code, body = 200, version
        if self.path == base + "/api/health":
            code, body = (503, "db down") if os.path.exists("unhealthy") else (200, "ok")
        elif not self.path.startswith(base + "/"):
            code, body = 404, "not under " + base
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, fmt, *args):
        print("GET " + self.path, flush=True)
print("listening on", os.environ["PORT"], "secret set:", bool(os.environ.get("MGX_OAUTH_CLIENT_SECRET")), flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

func processHarness(t *testing.T) (*harness, string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH: the process-runtime test app is a Python server")
	}
	drv, err := process.New(process.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := deploy.NewProcessBuilder(deploy.ProcessBuilderConfig{ReleasesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.New(t)
	h := newHarness(t, st, drv, b, nil)
	t.Cleanup(func() { cleanupWorkloads(h, st) })
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"mgx.json": manifestJSON, "server.py": serverPy, "version.txt": "v1"})
	h.addApp("shop", "owner", dir)
	return h, dir
}

func setFile(t *testing.T, dir, name string, on bool) {
	t.Helper()
	p := filepath.Join(dir, name)
	if on {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	os.Remove(p)
}

func TestProcessDeployLifecycle(t *testing.T) {
	h, dir := processHarness(t)

	if code, body := h.fetch("/apps/shop/"); code == 200 {
		t.Fatalf("served before any deployment: %d %q", code, body)
	}
	d1 := h.deploy("shop", "")
	if d1.Status != deploy.StatusLive {
		t.Fatalf("first deployment: %s (%s)", d1.Status, d1.Reason)
	}
	if code, body := h.fetch("/apps/shop/"); code != 200 || body != "v1" {
		t.Fatalf("after deploy: %d %q", code, body)
	}
	if d1.DurationMS <= 0 || d1.URL != h.front.URL+"/apps/shop/" || len(d1.Services) != 1 {
		t.Errorf("deployment = %+v", d1)
	}
	lines, events := h.buildLog("shop", d1.ID)
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "==> live at") }) || events[len(events)-1] != "end" {
		t.Errorf("build log %q, events %q", lines, events)
	}

	type step struct {
		name       string
		setup      func()
		wantStatus string
		wantReason string
		serves     string
	}
	steps := []step{
		{"a build that fails leaves v1 serving", func() { writeFiles(t, dir, map[string]string{"version.txt": "v2"}); setFile(t, dir, "broken", true) },
			deploy.StatusFailed, "build of service web failed: exit code 1", "v1"},
		{"a crash at start leaves v1 serving", func() { setFile(t, dir, "broken", false); setFile(t, dir, "crash", true) },
			deploy.StatusFailed, "service web exited with code 3 while starting", "v1"},
		{"an unhealthy start leaves v1 serving", func() { setFile(t, dir, "crash", false); setFile(t, dir, "unhealthy", true) },
			deploy.StatusFailed, "service web did not pass its health check /api/health", "v1"},
		{"a good build goes live", func() { setFile(t, dir, "unhealthy", false) },
			deploy.StatusLive, "", "v2"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.setup()
			d := h.deploy("shop", "")
			if d.Status != s.wantStatus || !strings.Contains(d.Reason, s.wantReason) {
				t.Fatalf("status %s, reason %q; want %s, %q", d.Status, d.Reason, s.wantStatus, s.wantReason)
			}
			if code, body := h.fetch("/apps/shop/"); code != 200 || body != s.serves {
				t.Fatalf("serves %d %q, want %q", code, body, s.serves)
			}
		})
	}
	// The crash's output is in the build log.
	ds, _ := h.dp.List(t.Context(), "shop", 10)
	crash := ds[2]
	lines, _ = h.buildLog("shop", crash.ID)
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "cannot connect to the database") }) {
		t.Errorf("crash log %q", lines)
	}

	t.Run("rollback to v1", func(t *testing.T) {
		d := h.deploy("shop", `{"from":"`+d1.ID+`"}`)
		if d.Status != deploy.StatusLive || d.RollbackOf != d1.ID {
			t.Fatalf("rollback: %+v", d)
		}
		if _, body := h.fetch("/apps/shop/"); body != "v1" {
			t.Fatalf("after rollback serves %q", body)
		}
	})
	t.Run("rollback to a failed deployment is refused", func(t *testing.T) {
		if code, _ := h.do("POST", "/api/apps/shop/deployments/"+crash.ID+"/rollback", "owner", ""); code != 409 {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("history", func(t *testing.T) {
		code, out := h.do("GET", "/api/apps/shop/deployments", "owner", "")
		list, _ := out["deployments"].([]any)
		if code != 200 || len(list) != 6 || out["live_deployment_id"] == nil {
			t.Fatalf("%d %v", code, out)
		}
		var statuses []string
		for _, d := range list {
			statuses = append(statuses, d.(map[string]any)["status"].(string))
		}
		want := []string{"live", "superseded", "failed", "failed", "failed", "superseded"}
		if !slices.Equal(statuses, want) {
			t.Errorf("statuses %v, want %v", statuses, want)
		}
		if strings.Contains(mustJSON(out), "s3cret") {
			t.Error("the client secret leaks into the API")
		}
	})
	t.Run("the app's output reaches the production logs", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			es, _ := h.logs.Query(t.Context(), "shop", applogs.Query{Q: "GET /apps/shop/"})
			if len(es) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no container output in applogs")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestProcessDeployAPI(t *testing.T) {
	h, dir := processHarness(t)
	setFile(t, dir, "slow", true)
	code, first := h.do("POST", "/api/apps/shop/deployments", "owner", "")
	if code != 202 {
		t.Fatalf("first POST: %d %v", code, first)
	}
	cases := []struct {
		name, method, path, user, body string
		want                           int
	}{
		{"second deployment while one runs", "POST", "/api/apps/shop/deployments", "owner", "", 409},
		{"someone else's app", "POST", "/api/apps/shop/deployments", "intruder", "", 404},
		{"someone else's deployment list", "GET", "/api/apps/shop/deployments", "intruder", "", 404},
		{"anonymous", "GET", "/api/apps/shop/deployments", "", "", 401},
		{"unknown app", "POST", "/api/apps/nope/deployments", "owner", "", 404},
		{"unknown deployment", "GET", "/api/apps/shop/deployments/nope", "owner", "", 404},
		{"unknown rollback source", "POST", "/api/apps/shop/deployments", "owner", `{"from":"nope"}`, 404},
		{"bad body", "POST", "/api/apps/shop/deployments", "owner", `{"fromm":1}`, 400},
		{"the running one", "GET", "/api/apps/shop/deployments/" + first["id"].(string), "owner", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, out := h.do(tc.method, tc.path, tc.user, tc.body); code != tc.want {
				t.Fatalf("%d %v, want %d", code, out, tc.want)
			}
		})
	}
	// The live build log: streamed while building, ends with the final status.
	lines, events := h.buildLog("shop", first["id"].(string))
	if events[len(events)-1] != "end" || !slices.Contains(events, "status") || len(lines) == 0 {
		t.Fatalf("events %v lines %v", events, lines)
	}
	d := h.wait("shop", first["id"].(string))
	if d.Status != deploy.StatusLive {
		t.Fatalf("%s %s", d.Status, d.Reason)
	}
	// Once finished, the next one is accepted.
	setFile(t, dir, "slow", false)
	if d := h.deploy("shop", ""); d.Status != deploy.StatusLive {
		t.Fatalf("%s %s", d.Status, d.Reason)
	}
}

func TestProcessRedeployWhilePolling(t *testing.T) {
	h, dir := processHarness(t)
	if d := h.deploy("shop", ""); d.Status != deploy.StatusLive {
		t.Fatalf("%s %s", d.Status, d.Reason)
	}
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body := h.fetch("/apps/shop/")
				if code == 200 && (body == "v1" || body == "v2") {
					ok.Add(1)
				} else {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, body)
					mu.Unlock()
				}
			}
		}()
	}
	writeFiles(t, dir, map[string]string{"version.txt": "v2"})
	d := h.deploy("shop", "")
	time.Sleep(time.Second) // past the drain: the old server is gone
	close(stop)
	wg.Wait()
	if d.Status != deploy.StatusLive {
		t.Fatalf("%s %s", d.Status, d.Reason)
	}
	if _, body := h.fetch("/apps/shop/"); body != "v2" {
		t.Fatalf("serves %q", body)
	}
	t.Logf("%d requests during the redeploy, %d failed", ok.Load()+failed.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() < 20 {
		t.Fatalf("%d ok, %d failed: %q", ok.Load(), failed.Load(), failures[:min(len(failures), 5)])
	}
}

func TestProcessRecoverAndRestart(t *testing.T) {
	h, _ := processHarness(t)
	d := h.deploy("shop", "")
	if d.Status != deploy.StatusLive {
		t.Fatalf("%s %s", d.Status, d.Reason)
	}
	// The app crashes: the supervisor restarts it and re-routes.
	if err := h.cfg.Driver.Stop(t.Context(), d.Services[0].Handle, time.Second); err != nil {
		t.Fatal(err)
	}
	waitServes(t, h, "v1")
	d2, _ := h.dp.Get(t.Context(), "shop", d.ID)
	if d2.Services[0].Restarts != 1 {
		t.Errorf("restarts = %d", d2.Services[0].Restarts)
	}

	// MGX restarts: the gateway's routes are gone (a fresh embedded driver), an
	// interrupted deployment is left behind; Recover serves the app again.
	h.stop()
	// A deployment the stop interrupted, holding the app's lock.
	db := h.st.DB()
	if _, err := db.Collection(deploy.DeploymentsCollection).InsertOne(t.Context(), deploy.Deployment{ID: "stale", Slug: "shop", Status: deploy.StatusBuilding, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("deployment_locks").InsertOne(t.Context(), map[string]any{"_id": "shop", "deployment_id": "stale"}); err != nil {
		t.Fatal(err)
	}
	_ = h.emb.Delete(t.Context(), "prod-shop")
	if code, _ := h.fetch("/apps/shop/"); code == 200 {
		t.Fatal("the route survived its deletion")
	}
	h.start()
	waitServes(t, h, "v1")
	interrupted, err := h.dp.Get(t.Context(), "shop", "stale")
	if err != nil {
		t.Fatal(err)
	}
	if interrupted.Status != deploy.StatusFailed || !strings.Contains(interrupted.Reason, "interrupted") {
		t.Fatalf("interrupted deployment: %s %q", interrupted.Status, interrupted.Reason)
	}
	// The lock is released: a new deployment goes.
	if d := h.deploy("shop", ""); d.Status != deploy.StatusLive {
		t.Fatalf("%s %s", d.Status, d.Reason)
	}
}

func waitServes(t *testing.T, h *harness, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := h.fetch("/apps/shop/")
		if code == 200 && body == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serves %d %q, want %q", code, body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestProcessPrune(t *testing.T) {
	h, dir := processHarness(t)
	h.stop()
	h.cfg.KeepReleases = 2
	h.start()
	var ds []*deploy.Deployment
	for i := range 5 {
		writeFiles(t, dir, map[string]string{"version.txt": fmt.Sprintf("v%d", i+1)})
		d := h.deploy("shop", "")
		if d.Status != deploy.StatusLive {
			t.Fatalf("deploy %d: %s %s", i+1, d.Status, d.Reason)
		}
		ds = append(ds, d)
	}
	// Live: v5; kept for rollback: v4, v3; pruned: v2, v1. Pruning follows the drain.
	time.Sleep(h.cfg.DrainDelay + time.Second)
	for i, d := range ds {
		got, _ := h.dp.Get(t.Context(), "shop", d.ID)
		_, statErr := os.Stat(d.Services[0].ReleaseDir)
		wantPruned := i < 2
		if got.Pruned != wantPruned || (statErr == nil) == wantPruned {
			t.Errorf("v%d: pruned=%v, release dir exists=%v", i+1, got.Pruned, statErr == nil)
		}
	}
	if code, _ := h.do("POST", "/api/apps/shop/deployments/"+ds[0].ID+"/rollback", "owner", ""); code != 409 {
		t.Errorf("rollback to a pruned deployment: %d", code)
	}
	if d := h.deploy("shop", `{"from":"`+ds[2].ID+`"}`); d.Status != deploy.StatusLive {
		t.Fatalf("rollback to v3: %s %s", d.Status, d.Reason)
	}
	waitServes(t, h, "v3")
}
