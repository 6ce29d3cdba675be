package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/platform"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/templates"
)

const (
	adminEmail    = "admin@conformance.test"
	adminPassword = "conformance-admin-Passw0rd"
)

// mgx is an in-process `mgx up`: platform.Start on a temporary data dir with embedded
// FerretDB and Redis, the process runtime and the embedded gateway, serving
// platform.Handler() on a loopback port, as cmd/mgx does.
type mgx struct {
	p     *platform.Platform
	base  string // its public URL
	log   *lockedBuffer
	admin *apiClient
}

func startMGX(t *testing.T) *mgx {
	t.Helper()
	began := time.Now()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	settings := map[string]string{
		"MGX_HTTP_ADDR":      addr,
		"MGX_DATA_DIR":       filepath.Join(t.TempDir(), "mgx"),
		"MGX_RUNTIME":        "process", // Docker may answer here; the templates run on the host
		"MGX_SSH_ADDR":       "off",
		"MGX_ADMIN_EMAIL":    adminEmail,
		"MGX_ADMIN_PASSWORD": adminPassword,
		"MGX_LLM_PROVIDER":   "offline",
		"MGX_LOG_LEVEL":      "info",
	}
	cfg := platform.Load(func(k string) string { return settings[k] })
	if err := cfg.Validate(); err != nil {
		t.Fatalf("MGX config: %v", err)
	}
	dd, err := platform.OpenDataDir(cfg.DataDir, true)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	m := &mgx{base: cfg.PublicURL, log: &lockedBuffer{}}
	log := slog.New(slog.NewTextHandler(m.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := platform.Start(context.Background(), cfg, dd, log)
	if err != nil {
		ln.Close()
		dd.Close()
		t.Fatalf("platform.Start: %v\n%s", err, tail(m.log.Bytes(), 4000))
	}
	m.p = p
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		stopping := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		shut := time.Since(stopping)
		p.Close()
		dd.Close()
		t.Logf("mgx stopped in %.1fs (HTTP %.1fs)", time.Since(stopping).Seconds(), shut.Seconds())
		if t.Failed() {
			t.Logf("last lines of MGX's log:\n%s", tail(m.log.Bytes(), 8000))
		}
	})
	waitOK(t, m.base+"/readyz", 30*time.Second)
	m.admin = &apiClient{base: m.base, email: adminEmail, password: adminPassword, http: &http.Client{Timeout: 30 * time.Second}}
	t.Logf("mgx up (in process) at %s, data dir %s, runtime %s: ready in %.1fs", m.base, dd.Path, p.RuntimeKind, time.Since(began).Seconds())
	return m
}

// app is an app registered at MGX.
type app struct {
	slug, framework, clientID, secret string
}

// createApp registers an app as POST /api/sessions does (the apps store, the OAuth client
// app-<slug> with its secret sealed in the app) without starting an agent or a dev
// environment, then creates its user through MGX's API.
func (m *mgx) createApp(t *testing.T, fw string) *app {
	t.Helper()
	ctx := t.Context()
	var me struct {
		ID string `json:"id"`
	}
	m.admin.json(t, "GET", "/api/me", nil, http.StatusOK, &me)
	a, err := m.p.Apps.Create(ctx, apps.App{Name: appName, Slug: "demo-" + fw, Framework: fw, OwnerID: me.ID, WorkspaceID: "conformance-" + fw})
	if err != nil {
		t.Fatalf("create app: %v", err)
	}
	prov := m.p.OAuth()
	clientID, secret, err := prov.CreateAppClient(ctx, a.Slug)
	if err != nil {
		t.Fatalf("CreateAppClient: %v", err)
	}
	if err := m.p.Apps.SetOAuthClient(ctx, a.Slug, clientID, secret); err != nil {
		t.Fatalf("SetOAuthClient: %v", err)
	}
	// What the containers get is the sealed secret, opened.
	if got, err := m.p.Apps.ClientSecret(ctx, a.Slug); err != nil || got != secret {
		t.Fatalf("ClientSecret of %s: %v", a.Slug, err)
	}
	m.admin.json(t, "POST", "/api/apps/"+a.Slug+"/users", map[string]any{"email": email, "password": password, "name": "Grace"}, http.StatusCreated, nil)
	return &app{slug: a.Slug, framework: fw, clientID: clientID, secret: secret}
}

// appEnv is the environment MGX gives an app's production services (Platform.AppEnv, as
// deploy gets it, plus BASE_PATH and PUBLIC_URL, which deploy adds); PORT is the process
// runtime's to pick.
func (m *mgx) appEnv(t *testing.T, a *app) map[string]string {
	t.Helper()
	env, err := m.p.AppEnv(t.Context(), a.slug)
	if err != nil {
		t.Fatalf("AppEnv(%s): %v", a.slug, err)
	}
	base := "/apps/" + a.slug
	env["BASE_PATH"] = base
	env["PUBLIC_URL"] = m.base + base
	if env["MGX_OAUTH_CLIENT_SECRET"] != a.secret || env["OTEL_EXPORTER_OTLP_HEADERS"] == "" {
		t.Fatalf("AppEnv(%s) lacks the client secret or the telemetry token: %v", a.slug, env)
	}
	return env
}

// appDB is the app's database on MGX's apps server.
func (m *mgx) appDB(slug string) *mongo.Database {
	return m.p.AppsStore.Database(platform.AppDatabase(slug))
}

// workload is a service running on MGX's runtime.
type workload struct {
	name string
	h    *runtime.Handle
}

// processPort is the port key of process workloads (deploy uses the same): the driver
// picks the real port and sets PORT.
const processPort = 3000

// startService runs a production service on MGX's process runtime from the built
// workspace, as deploy runs a release, and points MGX's gateway route at it.
func (m *mgx) startService(t *testing.T, a *app, dir string, s templates.Service, env map[string]string) *workload {
	t.Helper()
	ctx := t.Context()
	wenv := with(with(env, "NODE_ENV", "production"), "NEXT_TELEMETRY_DISABLED", "1")
	spec := runtime.Spec{
		Name:    "conformance-" + a.slug + "-" + s.Name,
		Command: s.Start,
		Mounts:  []runtime.Mount{{Source: dir, Target: "/release"}},
		Dir:     path.Join("/release", s.Dir),
		Ports:   []int{processPort},
		Env:     wenv,
		Labels:  map[string]string{"mgx-role": "prod", "mgx-app": a.slug, "mgx-service": s.Name},
	}
	h, err := m.p.Runtime.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start %s on the %s runtime: %v", s.Name, m.p.RuntimeKind, err)
	}
	w := &workload{name: s.Name, h: h}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if t.Failed() {
			t.Logf("last lines of service %s:\n%s", s.Name, m.workloadLog(ctx, h, 80))
		}
		stopping := time.Now()
		if err := m.p.Runtime.Stop(ctx, h, 5*time.Second); err != nil {
			t.Errorf("stop service %s: %v", s.Name, err)
		}
		if err := m.p.Runtime.Remove(ctx, h); err != nil {
			t.Errorf("remove service %s: %v", s.Name, err)
		}
		_ = m.p.Gateway.DeleteApp(ctx, a.slug, gateway.KindProd)
		t.Logf("service %s stopped in %.1fs", s.Name, time.Since(stopping).Seconds())
	})
	addr := h.Addr(processPort)
	if addr == "" {
		t.Fatalf("service %s: the runtime published no port", s.Name)
	}
	// The route deploy.switchRoutes sets for a live service.
	if err := m.p.Gateway.Upsert(ctx, gateway.AppRoute(gateway.KindProd, a.slug, s.Route, s.StripPrefix, addr)); err != nil {
		t.Fatalf("gateway route for %s: %v", s.Name, err)
	}
	return w
}

func (m *mgx) workloadLog(ctx context.Context, h *runtime.Handle, lines int) string {
	rc, err := m.p.Runtime.Logs(ctx, h, runtime.LogOptions{Tail: lines})
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	return tail(b, 8000)
}

// waitHealthy polls MGX's URL for the service's health path until it answers 200, and
// stops early, with the service's output, when the service exits.
func (m *mgx) waitHealthy(t *testing.T, p string, w *workload, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		if resp, err := client.Get(m.base + p); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		if st, err := m.p.Runtime.Inspect(t.Context(), w.h); err == nil && st.State == runtime.StateExited {
			t.Fatalf("service %s exited with code %d before %s answered 200", w.name, st.ExitCode, p)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s through MGX's gateway: no 200 within %s (last: %s)", p, timeout, last)
}

// checkTelemetry waits for the app's spans in GET /api/apps/{slug}/traces: the app
// exported them to MGX's /otlp endpoint, which stored them for the app. The items calls
// made before must be among them, and at least one log record (the sign-in's).
func (m *mgx) checkTelemetry(t *testing.T, slug string) {
	t.Helper()
	type span struct {
		Name  string         `json:"name"`
		Attrs map[string]any `json:"attrs"`
	}
	var names []string
	deadline := time.Now().Add(45 * time.Second)
	for {
		var tr struct {
			Traces []struct {
				Spans []span `json:"spans"`
			} `json:"traces"`
		}
		m.admin.json(t, "GET", "/api/apps/"+slug+"/traces?limit=200", nil, http.StatusOK, &tr)
		names = names[:0]
		items := false
		for _, x := range tr.Traces {
			for _, s := range x.Spans {
				names = append(names, s.Name)
				attrs, _ := json.Marshal(s.Attrs)
				if strings.Contains(s.Name, "/api/items") || strings.Contains(string(attrs), "/api/items") {
					items = true
				}
			}
		}
		if items {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span of the /api/items calls in GET /api/apps/%s/traces within 45s; %d spans: %s", slug, len(names), strings.Join(first(names, 20), ", "))
		}
		time.Sleep(time.Second)
	}
	// The sign-in logged a line, which the app also ships over OTLP.
	otel := 0
	for {
		var logs struct {
			Entries []struct {
				Source string `json:"source"`
			} `json:"entries"`
		}
		m.admin.json(t, "GET", "/api/apps/"+slug+"/logs?limit=500", nil, http.StatusOK, &logs)
		otel = 0
		for _, e := range logs.Entries {
			if e.Source == applogs.SourceOTel {
				otel++
			}
		}
		if otel > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no OpenTelemetry log entry in GET /api/apps/%s/logs within 45s (%d entries from other sources)", slug, len(logs.Entries))
		}
		time.Sleep(time.Second)
	}
	t.Logf("MGX has %d spans of %s (e.g. %s) and %d log entries from OpenTelemetry", len(names), slug, strings.Join(first(names, 5), ", "), otel)
}

func first(s []string, n int) []string { return s[:min(len(s), n)] }

// apiClient calls MGX's API as a platform user, with a password-grant token.
type apiClient struct {
	base, email, password string
	http                  *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (c *apiClient) bearer(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.expires) > time.Minute {
		return c.token
	}
	form := url.Values{"grant_type": {"password"}, "client_id": {"mgx-cli"}, "username": {c.email}, "password": {c.password}, "scope": {"openid"}}
	resp, err := c.http.PostForm(c.base+"/oauth2/token", form)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("password grant for %s: %d %s", c.email, resp.StatusCode, clip(b))
	}
	c.token, c.expires = tok.AccessToken, time.Now().Add(time.Duration(max(tok.ExpiresIn, 60))*time.Second)
	return c.token
}

// json calls MGX's API, asserts the status, decodes the answer into out (when non-nil)
// and returns the body.
func (c *apiClient) json(t *testing.T, method, p string, in any, want int, out any) []byte {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.base+p, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.bearer(t))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("MGX API %s %s = %d, want %d: %s", method, p, resp.StatusCode, want, clip(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("MGX API %s %s: decode %s: %v", method, p, clip(b), err)
		}
	}
	return b
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// tail is the last n bytes of b as indented lines.
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
