package genbench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent"
	"github.com/mgx-dev/mgx/agent/appgen"
	"github.com/mgx-dev/mgx/internal/proctest"
	"github.com/mgx-dev/mgx/platform"
)

// TestMain doubles as `mgx agent`: the process runtime runs os.Executable() with the
// argument "agent" for every agent run of the in-process platform.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		os.Exit(runAgent())
	}
	os.Exit(m.Run())
}

// runAgent is cmd/mgx's `mgx agent`.
func runAgent() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := agent.RunFromEnv(ctx, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
		fmt.Fprintf(os.Stderr, "mgx agent: %v (after %s)\n", err, time.Since(start).Round(time.Millisecond))
		return 1
	}
	return 0
}

const adminPassword = "genbench-admin-Passw0rd!"

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envDuration(tb testing.TB, k string, def time.Duration) time.Duration {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("%s=%q: %v", k, v, err)
	}
	return d
}

// requireTools skips when a tool the generated apps' checks run is missing.
func requireTools(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"npm", "node", "python3", "flock", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not on PATH: the generated apps cannot be installed, tested and served", tool)
		}
	}
}

// mgx is the platform under test, started in this process.
type mgx struct {
	base    string
	dataDir string
	logPath string
	p       *platform.Platform
	http    *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
	slugs   []string // apps whose dev environments to stop at the end
}

// startMGX starts MGX in process on a temp data dir (process runtime, offline LLM) and
// signs in as the admin. Its dev environments share one package cache that outlives the
// data dir (MGX_GENBENCH_CACHE, default <user cache dir>/mgx-genbench), so a second run
// installs from the cache. MGX_GENBENCH_KEEP=1 keeps the data dir.
func startMGX(tb testing.TB) *mgx {
	tb.Helper()
	dataDir, err := os.MkdirTemp("", "mgx-genbench-")
	if err != nil {
		tb.Fatal(err)
	}
	cache := os.Getenv("MGX_GENBENCH_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "mgx-genbench")
		}
	}
	if cache != "" {
		// devenv keeps the dev environments' npm and pip caches in <data-dir>/devenv/cache.
		if err := os.MkdirAll(cache, 0o755); err == nil && os.MkdirAll(filepath.Join(dataDir, "devenv"), 0o755) == nil {
			_ = os.Symlink(cache, filepath.Join(dataDir, "devenv", "cache"))
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	env := map[string]string{
		"MGX_DATA_DIR": dataDir, "MGX_HTTP_ADDR": ln.Addr().String(),
		"MGX_RUNTIME": "process", "MGX_LLM_PROVIDER": "offline", "MGX_SSH_ADDR": "off",
		"MGX_ADMIN_PASSWORD": adminPassword, "MGX_LOG_LEVEL": envOr("MGX_LOG_LEVEL", "info"),
		"MGX_EXTRA_CA_BUNDLE": os.Getenv("MGX_EXTRA_CA_BUNDLE"),
	}
	cfg := platform.Load(func(k string) string { return env[k] })
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	m := &mgx{base: "http://" + ln.Addr().String(), dataDir: dataDir, logPath: filepath.Join(dataDir, "mgx.log"),
		http: &http.Client{Timeout: 60 * time.Second}}
	logf, err := os.Create(m.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: lvl}))
	dd, err := platform.OpenDataDir(cfg.DataDir, true)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m.p, err = platform.Start(ctx, cfg, dd, log)
	if err != nil {
		dd.Close()
		tb.Fatalf("start MGX: %v\n%s", err, fileTail(m.logPath, 40))
	}
	srv := &http.Server{Handler: m.p.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Close()
		m.stopDevEnvs()
		m.p.Close()
		dd.Close()
		// The process runtime's workloads outlive MGX by design (a restart re-attaches to
		// them): end the ones of this data dir that are left (agents of unfinished runs).
		if n := killWorkloads(dataDir); n > 0 {
			tb.Logf("ended %d process groups left running under %s", n, dataDir)
		}
		logf.Close()
		if tb.Failed() {
			tb.Logf("last lines of the MGX log (%s):\n%s", m.logPath, fileTail(m.logPath, 40))
		}
		if os.Getenv("MGX_GENBENCH_KEEP") == "1" || tb.Failed() {
			tb.Logf("data dir kept: %s", dataDir)
		} else {
			_ = os.RemoveAll(dataDir)
		}
	})
	if err := m.grant(); err != nil {
		tb.Fatalf("sign in as the admin: %v", err)
	}
	tb.Logf("MGX up in %s at %s (data dir %s, log %s)", time.Since(start).Round(time.Millisecond), m.base, dataDir, m.logPath)
	return m
}

// grant signs in as the admin with the password grant of the mgx-cli client.
func (m *mgx) grant() error {
	form := url.Values{"grant_type": {"password"}, "client_id": {"mgx-cli"}, "username": {"admin@mgx.local"},
		"password": {adminPassword}, "scope": {"openid"}}
	resp, err := m.http.PostForm(m.base+"/oauth2/token", form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		return fmt.Errorf("POST /oauth2/token: %d %s", resp.StatusCode, clip(b, 300))
	}
	if tok.ExpiresIn <= 0 {
		tok.ExpiresIn = 300
	}
	m.mu.Lock()
	m.token, m.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	m.mu.Unlock()
	return nil
}

// bearer is a token valid for at least another minute (access tokens are short-lived).
func (m *mgx) bearer() (string, error) {
	m.mu.Lock()
	tok, exp := m.token, m.expires
	m.mu.Unlock()
	if time.Until(exp) > time.Minute {
		return tok, nil
	}
	if err := m.grant(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token, nil
}

// api sends v as JSON with the admin's token and decodes the answer into out.
func (m *mgx) api(ctx context.Context, method, path string, v any, want int, out any) error {
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	tok, err := m.bearer()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, clip(b, 300))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (m *mgx) stopDevEnvs() {
	m.mu.Lock()
	slugs := m.slugs
	m.slugs = nil
	m.mu.Unlock()
	for _, s := range slugs {
		m.stopDev(s)
	}
}

func (m *mgx) stopDev(slug string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if m.p.Dev != nil {
		_ = m.p.Dev.Stop(ctx, slug)
	}
}

// result is one prompt's run through the platform.
type result struct {
	Prompt, Framework            string
	Slug, SessionID, WorkspaceID string
	OK                           bool
	Finish, Preview              time.Duration // from POST /api/sessions; 0 when not reached
	FinishStatus                 string        // FINISH data.status
	Check                        string        // how the preview was seen: html, dom, module
	Reason                       string        // why it failed
}

// generate posts prompt as a new session and waits for its FINISH and for the dev
// preview to show the generated entities (the home page's "Open <entities>" links), within
// timeout. After FINISH the preview gets previewGrace more. Call release afterwards.
// (The templates' own home page links "Open items": a prompt whose entity is "items"
// would pass the preview check before the generator wrote anything; the corpus has none.)
func (m *mgx) generate(ctx context.Context, prompt, fw string, timeout, previewGrace time.Duration) result {
	res := result{Prompt: prompt, Framework: fw}
	var wants []string
	for _, e := range appgen.Extract(prompt).Entities {
		wants = append(wants, "Open "+strings.ReplaceAll(e.Plural, "_", " "))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	var sess struct {
		ID          string `json:"id"`
		WorkspaceID string `json:"workspace_id"`
		App         struct {
			Slug string `json:"slug"`
		} `json:"app"`
	}
	if err := m.api(ctx, "POST", "/api/sessions", map[string]any{"prompt": prompt, "framework": fw}, http.StatusCreated, &sess); err != nil {
		res.Reason = err.Error()
		return res
	}
	res.Slug, res.SessionID, res.WorkspaceID = sess.App.Slug, sess.ID, sess.WorkspaceID
	m.mu.Lock()
	m.slugs = append(m.slugs, sess.App.Slug)
	m.mu.Unlock()

	finCh := make(chan finishInfo, 1)
	go func() { finCh <- m.waitFinish(ctx, sess.ID) }()
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	pvCh := make(chan previewInfo, 1)
	go func() { pvCh <- m.waitPreview(pctx, sess.App.Slug, wants, t0) }()
	var fin finishInfo
	var pv previewInfo
	for gotFin, gotPv := false, false; !gotFin || !gotPv; {
		select {
		case fin = <-finCh:
			gotFin = true
			if fin.err == nil {
				res.Finish, res.FinishStatus = fin.at.Sub(t0), fin.status
			}
			if !gotPv {
				time.AfterFunc(previewGrace, pcancel)
			}
		case pv = <-pvCh:
			gotPv = true
			if pv.err == nil {
				res.Preview, res.Check = pv.at.Sub(t0), pv.check
			}
		}
	}
	var reasons []string
	switch {
	case fin.err != nil:
		reasons = append(reasons, "no FINISH: "+fin.err.Error())
		_ = m.api(context.Background(), "POST", "/api/sessions/"+sess.ID+"/cancel", nil, http.StatusAccepted, nil)
	case fin.status != "succeeded":
		reasons = append(reasons, "FINISH "+fin.status+": "+fin.reason)
	}
	if pv.err != nil {
		reasons = append(reasons, "preview: "+pv.err.Error()+m.devState(sess.App.Slug))
	}
	res.OK = len(reasons) == 0
	res.Reason = strings.Join(reasons, "; ")
	return res
}

// release stops the app's dev environment and removes a successful app's dependency
// and build folders (hundreds of MB each); a failed app's workspace stays for a look.
func (m *mgx) release(tb testing.TB, r result) {
	if r.Slug == "" {
		return
	}
	m.stopDev(r.Slug)
	ws := filepath.Join(m.dataDir, "workspaces", r.WorkspaceID)
	if !r.OK {
		tb.Logf("workspace of the failed app %s: %s", r.Slug, ws)
		return
	}
	for _, d := range []string{"node_modules", ".next", "backend/.venv", "frontend/node_modules", "frontend/dist"} {
		_ = os.RemoveAll(filepath.Join(ws, d))
	}
}

// devState describes the dev environment for a failure reason.
func (m *mgx) devState(slug string) string {
	var app struct {
		Dev struct {
			State   string `json:"state"`
			Message string `json:"message"`
		} `json:"dev"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.api(ctx, "GET", "/api/apps/"+slug, nil, http.StatusOK, &app); err != nil {
		return ""
	}
	return fmt.Sprintf(" (dev environment %s %s)", app.Dev.State, app.Dev.Message)
}

type finishInfo struct {
	at             time.Time
	status, reason string
	err            error
}

// waitFinish reads the session's events over SSE (resuming with Last-Event-ID when the
// stream ends) until FINISH.
func (m *mgx) waitFinish(ctx context.Context, sessionID string) finishInfo {
	lastID := ""
	stream := &http.Client{} // no overall timeout: ctx bounds it
	var last string
	for {
		if ctx.Err() != nil {
			return finishInfo{err: fmt.Errorf("%w; last event: %s", context.Cause(ctx), last)}
		}
		tok, err := m.bearer()
		if err != nil {
			return finishInfo{err: err}
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", m.base+"/api/sessions/"+sessionID+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := stream.Do(req)
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				_ = m.grant()
				continue
			}
			return finishInfo{err: fmt.Errorf("GET events: %d %s", resp.StatusCode, clip(b, 200))}
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					var e struct {
						Seq  int64          `json:"seq"`
						Type string         `json:"type"`
						Role string         `json:"role"`
						Data map[string]any `json:"data"`
					}
					if err := json.Unmarshal([]byte(data), &e); err == nil {
						lastID = strconv.FormatInt(e.Seq, 10)
						last = e.Type + "/" + e.Role
						if e.Type == "FINISH" {
							resp.Body.Close()
							st, _ := e.Data["status"].(string)
							reason, _ := e.Data["reason"].(string)
							return finishInfo{at: time.Now(), status: st, reason: reason}
						}
					}
				}
				data = ""
			case strings.HasPrefix(line, "data:"):
				data += strings.TrimPrefix(line[5:], " ")
			}
		}
		resp.Body.Close()
	}
}

type previewInfo struct {
	at    time.Time
	check string
	err   error
}

// waitPreview asks /dev/<slug>/ every second, as a browser would (following redirects),
// until it answers 200 HTML showing every string of wants and the app's API answers too
// (/dev/<slug>/api/health 200: the backend of a FastAPI + React app, the API routes of a
// Next.js one). A server-rendered page (Next.js) shows wants in its HTML; a single-page
// app (Vite) gets its home page module checked, then is rendered by Chromium (--dump-dom)
// when one is installed. The time of success is when the successful poll began.
func (m *mgx) waitPreview(ctx context.Context, slug string, wants []string, t0 time.Time) previewInfo {
	page := m.base + "/dev/" + slug + "/"
	client := &http.Client{Timeout: 30 * time.Second}
	chromium, _ := exec.LookPath("chromium")
	last := "no answer yet"
	for {
		at := time.Now()
		check, why := shows(ctx, client, chromium, page, wants)
		if check != "" {
			st, _, body, err := get(ctx, client, page+"api/health")
			if err == nil && st == http.StatusOK {
				return previewInfo{at: at, check: check}
			}
			why = fmt.Sprintf("the page shows %q but GET api/health: %d %v %s", wants, st, err, clip(body, 120))
		}
		last = why
		select {
		case <-ctx.Done():
			return previewInfo{err: fmt.Errorf("not shown after %s: %s", time.Since(t0).Round(time.Second), last)}
		case <-time.After(time.Second):
		}
	}
}

// shows reports how page was seen showing wants ("html", "dom", "module"), or why not.
func shows(ctx context.Context, client *http.Client, chromium, page string, wants []string) (check, why string) {
	st, ctype, body, err := get(ctx, client, page)
	switch {
	case err != nil:
		return "", err.Error()
	case st != http.StatusOK || !strings.Contains(ctype, "text/html"):
		return "", fmt.Sprintf("GET %s: %d %s: %s", page, st, ctype, clip(body, 120))
	case containsAll(body, wants):
		return "html", ""
	case bytes.Contains(body, []byte(`id="root"`)):
		// A single-page app: is the generated home page served?
		mst, _, mbody, err := get(ctx, client, page+"src/pages/HomePage.tsx")
		if err != nil || mst != http.StatusOK || !containsAll(mbody, wants) {
			return "", fmt.Sprintf("single-page app served, its home page module (%d) lacks %q", mst, wants)
		}
		if chromium == "" {
			return "module", ""
		}
		dom, err := dumpDOM(ctx, chromium, page)
		if err == nil && containsAll(dom, wants) {
			return "dom", ""
		}
		return "", fmt.Sprintf("home page module has %q but Chromium's DOM does not (%v): %s", wants, err, clip(dom, 200))
	}
	return "", fmt.Sprintf("200 HTML without %q (the template's page?): %s", wants, clip(body, 120))
}

func get(ctx context.Context, c *http.Client, u string) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, resp.Header.Get("Content-Type"), b, nil
}

func containsAll(b []byte, wants []string) bool {
	for _, w := range wants {
		if !bytes.Contains(b, []byte(w)) {
			return false
		}
	}
	return len(wants) > 0
}

// dumpDOM renders u in headless Chromium and returns the DOM after scripts ran.
func dumpDOM(ctx context.Context, chromium, u string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "genbench-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dir, "--virtual-time-budget=10000", "--dump-dom", u)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("chromium: %w: %s", err, clip(errb.Bytes(), 200))
	}
	return out.Bytes(), nil
}

// killWorkloads ends what MGX started under dir (proctest.KillUnder).
func killWorkloads(dir string) int { return proctest.KillUnder(dir) }

func clip(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// corpus reads the prompts of the extraction suite.
func corpus(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("../appgen/testdata/prompts.txt")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if prompt, _, ok := strings.Cut(line, " => "); ok {
			out = append(out, strings.TrimSpace(prompt))
		}
	}
	if len(out) == 0 {
		tb.Fatal(errors.New("no prompts in ../appgen/testdata/prompts.txt"))
	}
	return out
}
