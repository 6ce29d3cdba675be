package deploy_test

import (
	"bufio"
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
	"time"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/deploy"
	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/store"
)

// testApps is the AppSource of the tests.
type testApps struct {
	mu   sync.Mutex
	apps map[string]*deploy.App
}

func (a *testApps) DeployApp(_ context.Context, slug string) (*deploy.App, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	app, ok := a.apps[slug]
	if !ok {
		return nil, fmt.Errorf("%s: %w", slug, store.ErrNotFound)
	}
	c := *app
	return &c, nil
}

// harness is a Deployer with its gateway, API server and app-facing gateway server.
type harness struct {
	t       *testing.T
	st      *store.Store
	apps    *testApps
	gw      *gateway.Gateway
	emb     *gateway.Embedded
	logs    *applogs.Logs
	dp      *deploy.Deployer
	api     *httptest.Server // the deployment API; X-User names the caller
	front   *httptest.Server // the embedded gateway: /apps/<slug>/
	cfg     deploy.Config
	maxWait time.Duration
	cancel  context.CancelFunc
	runDone chan struct{}
}

func newHarness(t *testing.T, st *store.Store, drv runtime.Driver, b deploy.Builder, tune func(*deploy.Config)) *harness {
	t.Helper()
	h := &harness{t: t, st: st, apps: &testApps{apps: map[string]*deploy.App{}}, maxWait: 2 * time.Minute}
	h.emb = gateway.NewEmbedded(gateway.EmbeddedConfig{})
	gw, err := gateway.New(t.Context(), gateway.Config{Store: st, Driver: h.emb})
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	h.logs, err = applogs.New(t.Context(), applogs.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	h.front = httptest.NewServer(h.emb)
	t.Cleanup(h.front.Close)
	h.cfg = deploy.Config{
		Store: st, Apps: h.apps, Driver: drv, Builder: b, Router: gw, Logs: h.logs,
		PublicURL: h.front.URL, HealthTimeout: 5 * time.Second, HealthInterval: 100 * time.Millisecond,
		DrainDelay: 300 * time.Millisecond, StopTimeout: 2 * time.Second, SuperviseInterval: 300 * time.Millisecond,
	}
	if tune != nil {
		tune(&h.cfg)
	}
	h.start()
	return h
}

// start builds the Deployer, recovers and runs it (again after stop: an MGX restart).
func (h *harness) start() {
	t := h.t
	dp, err := deploy.New(t.Context(), h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.dp = dp
	if err := dp.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.runDone = cancel, make(chan struct{})
	go func() { defer close(h.runDone); _ = dp.Run(ctx) }()
	mux := http.NewServeMux()
	dp.Mount(mux)
	if h.api != nil {
		h.api.Close()
	}
	h.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-User"); u != "" {
			r = r.WithContext(identity.With(r.Context(), identity.Principal{UserID: u}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { h.stop(); h.api.Close() })
}

// stop ends Run (deployments in flight are abandoned, as when MGX stops).
func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.runDone
		h.cancel = nil
	}
}

func (h *harness) addApp(slug, owner, dir string) {
	h.apps.mu.Lock()
	defer h.apps.mu.Unlock()
	h.apps.apps[slug] = &deploy.App{Slug: slug, OwnerID: owner, Framework: "nextjs", Dir: dir,
		Env: map[string]string{"MONGODB_URL": "mongodb://127.0.0.1:1", "MONGODB_DB": slug, "MGX_OAUTH_CLIENT_SECRET": "s3cret"}}
}

func (h *harness) do(method, path, user, body string) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(h.t.Context(), method, h.api.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// deploy posts a deployment and waits for its end.
func (h *harness) deploy(slug, body string) *deploy.Deployment {
	h.t.Helper()
	code, out := h.do("POST", "/api/apps/"+slug+"/deployments", "owner", body)
	if code != http.StatusAccepted {
		h.t.Fatalf("POST deployments: %d %v", code, out)
	}
	return h.wait(slug, out["id"].(string))
}

func (h *harness) wait(slug, id string) *deploy.Deployment {
	h.t.Helper()
	deadline := time.Now().Add(h.maxWait)
	for time.Now().Before(deadline) {
		d, err := h.dp.Get(h.t.Context(), slug, id)
		if err != nil {
			h.t.Fatal(err)
		}
		if !deploy.InProgress(d.Status) {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	lines, _ := h.buildLogSoFar(slug, id)
	h.t.Fatalf("deployment %s did not finish in %v; build log ends:\n%s", id, h.maxWait, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	return nil
}

// fetch GETs a path through the gateway and returns status and body.
func (h *harness) fetch(path string) (int, string) {
	resp, err := http.Get(h.front.URL + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// buildLog reads the whole build log through the SSE endpoint.
func (h *harness) buildLog(slug, id string) (lines []string, events []string) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.t.Context(), "GET", h.api.URL+"/api/apps/"+slug+"/deployments/"+id+"/logs", nil)
	req.Header.Set("X-User", "owner")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var event string
	for sc.Scan() {
		l := sc.Text()
		if e, ok := strings.CutPrefix(l, "event: "); ok {
			event = e
			events = append(events, e)
		}
		if d, ok := strings.CutPrefix(l, "data: "); ok && event == "log" {
			var ll deploy.LogLine
			_ = json.Unmarshal([]byte(d), &ll)
			lines = append(lines, ll.Text)
		}
	}
	return lines, events
}

// writeFiles writes a workspace.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// buildLogSoFar reads the stored build log without waiting for the end.
func (h *harness) buildLogSoFar(slug, id string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.api.URL+"/api/apps/"+slug+"/deployments/"+id+"/logs", nil)
	req.Header.Set("X-User", "owner")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ll deploy.LogLine
			if json.Unmarshal([]byte(d), &ll) == nil && ll.Text != "" {
				lines = append(lines, ll.Text)
			}
		}
	}
	return lines, nil
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// fetchOnce GETs a path through the gateway without following redirects and returns the
// status and the body (the Location of a redirect).
func (h *harness) fetchOnce(path string) (int, string) {
	resp, err := noRedirects.Get(h.front.URL + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}
