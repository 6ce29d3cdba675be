package templates_test

// The template conformance test: for each template, render it, install, run its own tests
// and lint, build for BASE_PATH=/apps/demo, start the production servers behind a small
// gateway that routes by mgx.json, next to MGX's real OAuth provider (package oauth on
// embedded FerretDB), and walk the sign-in as a browser would. It takes minutes, so it
// runs only with MGX_TEST_TEMPLATES=1.
//
// TODO(templates-mgx-up): run the same walk against a real `mgx up` (its gateway plugin,
// OTLP receiver and process runtime) once cmd/mgx wires them together; until then this
// test stands in for them with the oauth package, a manifest-driven proxy and an OTLP sink
// that only counts exports.

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
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"golang.org/x/net/html"

	"github.com/mgx-dev/mgx/oauth"
	"github.com/mgx-dev/mgx/store/storetest"
	"github.com/mgx-dev/mgx/templates"
	"github.com/mgx-dev/mgx/users"
)

const (
	slug     = "demo"
	basePath = "/apps/demo"
	appName  = "Demo App"
	email    = "grace@example.com"
	password = "hopper-cobol-1959"
)

// checks are each template's own test and lint commands, by service dir.
var checks = map[string]struct{ test, lint [][]string }{
	"nextjs": {
		test: [][]string{{".", "npm", "test"}},
		lint: [][]string{{".", "npm", "run", "lint"}},
	},
	"fastapi-react": {
		test: [][]string{{"backend", ".venv/bin/pytest"}, {"frontend", "npm", "test"}},
		lint: [][]string{
			{"backend", ".venv/bin/ruff", "check", "."},
			{"backend", ".venv/bin/ruff", "format", "--check", "."},
			{"frontend", "npm", "run", "lint"},
		},
	},
}

func TestConformance(t *testing.T) {
	if os.Getenv("MGX_TEST_TEMPLATES") != "1" {
		t.Skip("set MGX_TEST_TEMPLATES=1 to run the template conformance test (installs, tests, lints, builds and runs each template; minutes)")
	}
	for _, fw := range templates.Frameworks() {
		t.Run(fw, func(t *testing.T) { conform(t, fw) })
	}
}

func conform(t *testing.T, fw string) {
	dir := t.TempDir()
	if err := templates.Render(fw, dir, templates.Vars{AppName: appName, Slug: slug}); err != nil {
		t.Fatalf("Render: %v", err)
	}
	m, err := templates.LoadManifest(dir)
	if err != nil {
		t.Fatalf("LoadManifest: %v", err)
	}
	// Install and build run as MGX's process runtime runs them: NODE_ENV=production.
	prod := map[string]string{"BASE_PATH": basePath, "NODE_ENV": "production"}
	dev := map[string]string{"BASE_PATH": basePath}
	var timing []string
	step := func(name string, env map[string]string, cmds [][]string) {
		t.Helper()
		start := time.Now()
		for _, c := range cmds {
			run(t, filepath.Join(dir, c[0]), env, c[1:]...)
		}
		timing = append(timing, fmt.Sprintf("%s=%.1fs", name, time.Since(start).Seconds()))
	}
	var install, builds [][]string
	for _, s := range m.Services {
		if len(s.Install) > 0 {
			install = append(install, append([]string{s.Dir}, s.Install...))
		}
		if len(s.Build) > 0 {
			builds = append(builds, append([]string{s.Dir}, s.Build...))
		}
	}
	step("install", prod, install)
	step("test", dev, checks[fw].test)
	step("lint", dev, checks[fw].lint)
	step("build", prod, builds)
	t.Logf("TIMING %s %s", fw, strings.Join(timing, " "))

	mgx := startMGX(t)
	appDB := storetest.New(t).DB()
	env := map[string]string{
		"BASE_PATH":                   basePath,
		"PUBLIC_URL":                  mgx.srv.URL + basePath,
		"MGX_OAUTH_ISSUER":            mgx.srv.URL + "/oauth2",
		"MGX_OAUTH_CLIENT_ID":         mgx.clientID,
		"MGX_OAUTH_CLIENT_SECRET":     mgx.secret,
		"MONGODB_URL":                 storetest.URI(t),
		"MONGODB_DB":                  appDB.Name(),
		"OTEL_EXPORTER_OTLP_ENDPOINT": mgx.srv.URL + "/otlp",
		"OTEL_SERVICE_NAME":           slug,
	}
	upstreams := map[string]string{}
	for _, s := range m.Services {
		port := freePort(t)
		upstreams[s.Name] = "127.0.0.1:" + port
		start(t, filepath.Join(dir, s.Dir), with(env, "PORT", port), s.Start...)
	}
	mgx.route(m, upstreams)
	for _, s := range m.Services {
		if s.Health != "" {
			waitOK(t, mgx.srv.URL+basePath+s.Health, 90*time.Second)
		}
	}

	b := newBrowser(mgx.srv.URL)
	t.Run("health checks the database", func(t *testing.T) {
		var h map[string]any
		b.json(t, "GET", "/api/health", nil, http.StatusOK, &h)
		if h["status"] != "ok" || h["database"] != "ok" {
			t.Fatalf("health = %v", h)
		}
	})
	t.Run("pages are served under the base path", func(t *testing.T) {
		for _, p := range []string{"/", "/items"} {
			body := b.text(t, p, http.StatusOK)
			if !strings.Contains(body, appName) {
				t.Errorf("%s does not show the app name", p)
			}
			assets := regexp.MustCompile(`(?:src|href)="(/[^"]+\.(?:js|css))"`).FindAllStringSubmatch(body, -1)
			if len(assets) == 0 {
				t.Errorf("%s references no scripts or styles", p)
			}
			for _, a := range assets {
				if !strings.HasPrefix(a[1], basePath+"/") {
					t.Errorf("%s references %s outside the base path", p, a[1])
					continue
				}
				b.text(t, strings.TrimPrefix(a[1], basePath), http.StatusOK)
			}
		}
	})
	t.Run("callback refuses a bad state", func(t *testing.T) {
		b.json(t, "GET", "/api/auth/callback?code=x&state=forged", nil, http.StatusBadRequest, nil)
	})
	t.Run("sign-in walk", func(t *testing.T) {
		b.signIn(t, mgx)
		var me map[string]any
		b.json(t, "GET", "/api/me", nil, http.StatusOK, &me)
		if me["email"] != email {
			t.Fatalf("/api/me = %v", me)
		}
		n, err := appDB.Collection("users").CountDocuments(t.Context(), bson.D{{Key: "email", Value: email}})
		if err != nil || n != 1 {
			t.Fatalf("users with %s in the app's database: %d (%v)", email, n, err)
		}
	})
	t.Run("an expired access token is refreshed at MGX", func(t *testing.T) {
		sessions := appDB.Collection("sessions")
		var before struct {
			RefreshToken string `bson:"refresh_token"`
		}
		if err := sessions.FindOne(t.Context(), bson.D{}).Decode(&before); err != nil || before.RefreshToken == "" {
			t.Fatalf("session has no refresh token (%v); is offline_access granted?", err)
		}
		expire := bson.D{{Key: "$set", Value: bson.D{{Key: "access_expires_at", Value: time.Unix(0, 0)}}}}
		if _, err := sessions.UpdateMany(t.Context(), bson.D{}, expire); err != nil {
			t.Fatal(err)
		}
		b.json(t, "GET", "/api/me", nil, http.StatusOK, nil)
		var after struct {
			RefreshToken    string    `bson:"refresh_token"`
			AccessExpiresAt time.Time `bson:"access_expires_at"`
		}
		if err := sessions.FindOne(t.Context(), bson.D{}).Decode(&after); err != nil {
			t.Fatal(err)
		}
		if after.RefreshToken == before.RefreshToken || !after.AccessExpiresAt.After(time.Now()) {
			t.Fatalf("session not refreshed: rotated %v, access expires %s", after.RefreshToken != before.RefreshToken, after.AccessExpiresAt)
		}
	})
	t.Run("items through the gateway", func(t *testing.T) {
		var item map[string]any
		b.json(t, "POST", "/api/items", map[string]any{"title": "from the conformance test"}, http.StatusCreated, &item)
		id, _ := item["id"].(string)
		b.json(t, "PATCH", "/api/items/"+id, map[string]any{"done": true}, http.StatusOK, &item)
		if item["done"] != true {
			t.Errorf("patched item = %v", item)
		}
		var list struct{ Items []map[string]any }
		b.json(t, "GET", "/api/items", nil, http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0]["id"] != id {
			t.Errorf("items = %v", list.Items)
		}
		b.json(t, "DELETE", "/api/items/"+id, nil, http.StatusNoContent, nil)
	})
	t.Run("logout", func(t *testing.T) {
		b.json(t, "POST", "/api/auth/logout", nil, http.StatusOK, nil)
		b.json(t, "GET", "/api/me", nil, http.StatusUnauthorized, nil)
	})
	t.Run("traces arrive at MGX", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for mgx.traces.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
		}
		if mgx.traces.Load() == 0 {
			t.Fatal("no OTLP trace export within 30s")
		}
		t.Logf("OTLP posts: traces %d, logs %d", mgx.traces.Load(), mgx.logs.Load())
	})

	// The service that answers /api/health, run alone against broken environments.
	var api templates.Service
	for _, s := range m.Services {
		if s.Health == "/api/health" {
			api = s
		}
	}
	t.Run("health reports an unreachable database", func(t *testing.T) {
		port := freePort(t)
		down := with(with(env, "PORT", port), "MONGODB_URL", "mongodb://127.0.0.1:"+freePort(t))
		start(t, filepath.Join(dir, api.Dir), down, api.Start...)
		path := api.Health
		if !api.StripPrefix {
			path = basePath + path
		}
		u := "http://127.0.0.1:" + port + path
		waitFor(t, u, 60*time.Second, func(status int) bool { return status != 0 })
		began := time.Now()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "unreachable") {
			t.Fatalf("health with the database down = %d %s", resp.StatusCode, body)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Fatalf("health took %s with the database down", d)
		}
	})
	t.Run("missing env stops the server with one line naming it", func(t *testing.T) {
		broken := with(with(env, "PORT", freePort(t)), "MONGODB_URL", "")
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		out, err := command(ctx, filepath.Join(dir, api.Dir), broken, api.Start...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("server did not exit non-zero (%v):\n%s", err, out)
		}
		if !regexp.MustCompile(`(?m)^config: MONGODB_URL is not set$`).Match(out) {
			t.Fatalf("no line naming MONGODB_URL in:\n%s", out)
		}
	})
}

// mgx is the part of MGX the apps talk to: the OAuth provider on embedded FerretDB, an
// OTLP receiver that counts exports, and the gateway route /apps/demo/.
type mgx struct {
	srv              *httptest.Server
	mux              *http.ServeMux
	clientID, secret string
	traces, logs     atomic.Int64
}

func startMGX(t *testing.T) *mgx {
	t.Helper()
	m := &mgx{mux: http.NewServeMux()}
	m.srv = httptest.NewServer(m.mux)
	t.Cleanup(m.srv.Close)
	ctx := t.Context()
	p, err := oauth.New(ctx, oauth.Config{
		PublicURL: m.srv.URL, Store: storetest.New(t), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("oauth.New: %v", err)
	}
	p.Mount(m.mux)
	if m.clientID, m.secret, err = p.CreateAppClient(ctx, slug); err != nil {
		t.Fatalf("CreateAppClient: %v", err)
	}
	if _, err := p.Users().Create(ctx, users.NewUser{Realm: slug, Email: email, Name: "Grace", Password: password}); err != nil {
		t.Fatalf("create app user: %v", err)
	}
	count := func(n *atomic.Int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			n.Add(1)
			w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusOK)
		}
	}
	m.mux.Handle("POST /otlp/v1/traces", count(&m.traces))
	m.mux.Handle("POST /otlp/v1/logs", count(&m.logs))
	return m
}

// route mounts the gateway at the base path: the longest matching service route wins, and
// strip_prefix services get the path without the base path (as mgx-app-router does).
func (m *mgx) route(man *templates.Manifest, upstreams map[string]string) {
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		rest := strings.TrimPrefix(r.In.URL.Path, basePath)
		if rest == "" {
			rest = "/"
		}
		svc, _ := man.ServiceFor(rest)
		r.Out.URL.Scheme = "http"
		r.Out.URL.Host = upstreams[svc.Name]
		if svc.StripPrefix {
			r.Out.URL.Path = rest
			r.Out.URL.RawPath = ""
		}
		r.SetXForwarded()
		r.Out.Host = r.In.Host
	}, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
		w.WriteHeader(http.StatusBadGateway) // a service still starting; the waits retry
	}}
	m.mux.Handle(basePath+"/", proxy)
	m.mux.Handle(basePath, proxy)
}

// browser is a cookie-keeping client that stops at every redirect, as the tests follow
// them by hand.
type browser struct {
	origin string
	c      *http.Client
}

func newBrowser(origin string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{origin: origin, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(t *testing.T, method, target string, body io.Reader, contentType string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// json calls the app's API under the base path and decodes the answer into out.
func (b *browser) json(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	var body io.Reader
	ct := ""
	if in != nil {
		data, _ := json.Marshal(in)
		body, ct = bytes.NewReader(data), "application/json"
	}
	resp, data := b.do(t, method, b.origin+basePath+path, body, ct)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// text GETs a page under the base path, following one permanent redirect (Next.js drops
// a trailing slash, the static server adds one to the bare base path).
func (b *browser) text(t *testing.T, path string, want int) string {
	t.Helper()
	resp, data := b.do(t, "GET", b.origin+basePath+path, nil, "")
	if resp.StatusCode == http.StatusPermanentRedirect {
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.Path, basePath) {
			t.Fatalf("GET %s redirects to %q, outside the base path", path, resp.Header.Get("Location"))
		}
		resp, data = b.do(t, "GET", loc.String(), nil, "")
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d, want %d", path, resp.StatusCode, want)
	}
	return string(data)
}

// signIn walks /api/auth/login → MGX's sign-in form → the app's callback → the app.
func (b *browser) signIn(t *testing.T, m *mgx) {
	t.Helper()
	next := b.origin + basePath + "/api/auth/login"
	for range 10 {
		resp, page := b.do(t, "GET", next, nil, "")
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if loc.String() == m.srv.URL+basePath+"/" {
				return // the app's callback sent us home: signed in
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK && strings.Contains(string(page), `name="password"`):
			action, fields := parseForm(t, resp.Request.URL, page)
			fields.Set("username", email)
			fields.Set("password", password)
			resp, data := b.do(t, "POST", action, strings.NewReader(fields.Encode()), "application/x-www-form-urlencoded")
			if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in form answered %d: %s", resp.StatusCode, data)
			}
			loc, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
			next = loc.String()
		default:
			t.Fatalf("GET %s = %d: %s", next, resp.StatusCode, page)
		}
	}
	t.Fatal("sign-in did not finish within 10 steps")
}

// parseForm reads the sign-in page's form: its action and every input's value.
func parseForm(t *testing.T, base *url.URL, page []byte) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse sign-in page: %v", err)
	}
	action := ""
	fields := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				action = attrs["action"]
			case "input":
				if attrs["name"] != "" {
					fields.Set(attrs["name"], attrs["value"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	u, err := base.Parse(action)
	if action == "" || err != nil {
		t.Fatalf("no usable form on the sign-in page (action %q, %v):\n%s", action, err, page)
	}
	return u.String(), fields
}

// with returns a copy of env with k set to v ("" removes it).
func with(env map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for key, val := range env {
		out[key] = val
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// appEnvNames are never inherited from the test's environment.
var appEnvNames = []string{"PORT", "BASE_PATH", "PUBLIC_URL", "MGX_OAUTH_ISSUER", "MGX_OAUTH_CLIENT_ID",
	"MGX_OAUTH_CLIENT_SECRET", "MONGODB_URL", "MONGODB_DB", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}

func command(ctx context.Context, dir string, env map[string]string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !contains(appEnvNames, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CI=1", "NEXT_TELEMETRY_DISABLED=1", "NO_COLOR=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// A process group, so stopping npm also stops the node server it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run runs a command to completion (10 minutes at most) and fails the test with its output.
func run(t *testing.T, dir string, env map[string]string, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	began := time.Now()
	out, err := command(ctx, dir, env, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s (in %s): %v\n%s", strings.Join(argv, " "), filepath.Base(dir), err, tail(out, 6000))
	}
	t.Logf("%s (in %s): %.1fs", strings.Join(argv, " "), filepath.Base(dir), time.Since(began).Seconds())
}

// start runs a server until the test ends; its output is logged when the test fails.
func start(t *testing.T, dir string, env map[string]string, argv ...string) {
	t.Helper()
	cmd := command(context.Background(), dir, env, argv...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("output of %s (in %s):\n%s", strings.Join(argv, " "), filepath.Base(dir), tail(out.Bytes(), 6000))
		}
	})
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, "  | "+sc.Text())
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitOK(t *testing.T, u string, timeout time.Duration) {
	t.Helper()
	waitFor(t, u, timeout, func(status int) bool { return status == http.StatusOK })
}

// waitFor polls u until ok(status) holds; status 0 means no answer yet.
func waitFor(t *testing.T, u string, timeout time.Duration, ok func(int) bool) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(timeout)
	last := 0
	for time.Now().Before(deadline) {
		status := 0
		if resp, err := client.Get(u); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		if ok(status) {
			return
		}
		last = status
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: no good answer within %s (last status %d)", u, timeout, last)
}
