package conformance

// The template conformance test: for each template, render it, install, check its locks,
// run its own tests and lint, build it for its base path (NODE_ENV=production, as MGX's
// process builder does), then start an in-process `mgx up` (one for all templates),
// register the app there as a session does (apps store, OAuth client, an app user through
// POST /api/apps/{slug}/users), run the production servers on MGX's process runtime behind
// MGX's own gateway routes, and walk the sign-in as a browser would. Traces must reach
// MGX's OTLP endpoint and show in GET /api/apps/{slug}/traces.
//
//	MGX_TEST_TEMPLATES=1 go test -tags ferretdb_no_postgresql -count=1 -timeout 30m \
//	    ./templates/conformance -run TestConformance -v
//
// MGX_TEMPLATES picks templates (default all, comma-separated). CI runs
// scripts/templates-conformance.sh, which also ends any process a crashed run left.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/templates"
)

const (
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
		test: [][]string{{"backend", ".venv/bin/pytest", "-q"}, {"frontend", "npm", "test"}},
		lint: [][]string{
			{"backend", ".venv/bin/ruff", "check", "."},
			{"backend", ".venv/bin/ruff", "format", "--check", "."},
			{"frontend", "npm", "run", "lint"},
		},
	},
}

var (
	summaryMu sync.Mutex
	summary   []string
)

func TestConformance(t *testing.T) {
	if os.Getenv("MGX_TEST_TEMPLATES") != "1" {
		t.Skip("set MGX_TEST_TEMPLATES=1 to run the template conformance test (installs, tests, lints, builds and runs each template against an in-process mgx up; minutes)")
	}
	began := time.Now()
	t.Cleanup(func() {
		summaryMu.Lock()
		defer summaryMu.Unlock()
		t.Logf("SUMMARY (%s in all):\n  %s", time.Since(began).Round(time.Second), strings.Join(summary, "\n  "))
	})
	mgx := startMGX(t)
	want := templates.Frameworks()
	if s := os.Getenv("MGX_TEMPLATES"); s != "" {
		want = strings.Split(s, ",")
	}
	for _, fw := range want {
		t.Run(fw, func(t *testing.T) {
			if _, ok := checks[fw]; !ok {
				t.Fatalf("no checks for template %q (known: %s)", fw, strings.Join(templates.Frameworks(), ", "))
			}
			start := time.Now()
			defer func() { // also after a t.Fatal
				result := "PASS"
				if t.Failed() {
					result = "FAIL"
				}
				summaryMu.Lock()
				summary = append(summary, fmt.Sprintf("%-14s %s in %s", fw, result, time.Since(start).Round(time.Second)))
				summaryMu.Unlock()
			}()
			conform(t, mgx, fw)
		})
	}
}

func conform(t *testing.T, mgx *mgx, fw string) {
	pr := newProgress(t, fw)
	app := mgx.createApp(t, fw)
	slug, basePath := app.slug, "/apps/"+app.slug
	pr.logf("app %s registered at MGX (OAuth client %s, app user %s)", slug, app.clientID, email)

	dir := filepath.Join(t.TempDir(), "workspace")
	if err := templates.Render(fw, dir, templates.Vars{AppName: appName, Slug: slug}); err != nil {
		t.Fatalf("Render: %v", err)
	}
	m, err := templates.LoadManifest(dir)
	if err != nil {
		t.Fatalf("LoadManifest: %v", err)
	}
	locks := snapshotLocks(t, dir, m)

	// Install and build run as MGX's process builder runs them: NODE_ENV=production.
	prod := map[string]string{"BASE_PATH": basePath, "NODE_ENV": "production"}
	dev := map[string]string{"BASE_PATH": basePath}
	var install, builds [][]string
	for _, s := range m.Services {
		if len(s.Install) > 0 {
			install = append(install, append([]string{s.Dir}, s.Install...))
		}
		if len(s.Build) > 0 {
			builds = append(builds, append([]string{s.Dir}, s.Build...))
		}
	}
	pr.step("install", func() { runAll(t, pr, dir, prod, install) })
	t.Run("installs follow the locks", func(t *testing.T) { locks.check(t) })
	pr.step("test", func() { runAll(t, pr, dir, dev, checks[fw].test) })
	pr.step("lint", func() { runAll(t, pr, dir, dev, checks[fw].lint) })
	pr.step("build", func() { runAll(t, pr, dir, prod, builds) })

	// The production servers on MGX's process runtime, behind MGX's gateway.
	env := mgx.appEnv(t, app)
	pr.step("start", func() {
		var ws []*workload
		for _, s := range m.Services {
			ws = append(ws, mgx.startService(t, app, dir, s, env))
		}
		for i, s := range m.Services {
			if s.Health != "" {
				mgx.waitHealthy(t, basePath+s.Health, ws[i], 2*time.Minute)
			}
		}
	})

	b := newBrowser(mgx.base)
	t.Run("health checks the database", func(t *testing.T) {
		var h map[string]any
		b.json(t, "GET", basePath+"/api/health", nil, http.StatusOK, &h)
		if h["status"] != "ok" || h["database"] != "ok" {
			t.Fatalf("health = %v", h)
		}
	})
	t.Run("pages are served under the base path", func(t *testing.T) {
		for _, p := range []string{"/", "/items"} {
			body := b.text(t, basePath, p, http.StatusOK)
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
				b.text(t, basePath, strings.TrimPrefix(a[1], basePath), http.StatusOK)
			}
		}
	})
	t.Run("callback refuses a bad state", func(t *testing.T) {
		b.json(t, "GET", basePath+"/api/auth/callback?code=x&state=forged", nil, http.StatusBadRequest, nil)
	})
	appDB := mgx.appDB(slug)
	t.Run("sign-in walk", func(t *testing.T) {
		b.signIn(t, mgx.base, basePath, app.clientID)
		var me map[string]any
		b.json(t, "GET", basePath+"/api/me", nil, http.StatusOK, &me)
		if me["email"] != email {
			t.Fatalf("/api/me = %v", me)
		}
		n, err := appDB.Collection("users").CountDocuments(t.Context(), bson.D{{Key: "email", Value: email}})
		if err != nil || n != 1 {
			t.Fatalf("users with %s in the app's database %s at MGX: %d (%v)", email, appDB.Name(), n, err)
		}
		// The same, as the app's owner sees it in MGX's database browser.
		raw := mgx.admin.json(t, "GET", "/api/apps/"+slug+"/db/collections/users/documents", nil, http.StatusOK, nil)
		if !strings.Contains(string(raw), email) {
			t.Errorf("GET /api/apps/%s/db/collections/users/documents does not list %s: %s", slug, email, clip(raw))
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
		b.json(t, "GET", basePath+"/api/me", nil, http.StatusOK, nil)
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
		b.json(t, "POST", basePath+"/api/items", map[string]any{"title": "from the conformance test"}, http.StatusCreated, &item)
		id, _ := item["id"].(string)
		b.json(t, "PATCH", basePath+"/api/items/"+id, map[string]any{"done": true}, http.StatusOK, &item)
		if item["done"] != true {
			t.Errorf("patched item = %v", item)
		}
		var list struct{ Items []map[string]any }
		b.json(t, "GET", basePath+"/api/items", nil, http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0]["id"] != id {
			t.Errorf("items = %v", list.Items)
		}
		b.json(t, "DELETE", basePath+"/api/items/"+id, nil, http.StatusNoContent, nil)
	})
	t.Run("logout", func(t *testing.T) {
		b.json(t, "POST", basePath+"/api/auth/logout", nil, http.StatusOK, nil)
		b.json(t, "GET", basePath+"/api/me", nil, http.StatusUnauthorized, nil)
	})
	t.Run("traces arrive at MGX", func(t *testing.T) { mgx.checkTelemetry(t, slug) })

	// The service that answers /api/health, run alone against broken environments.
	var api templates.Service
	for _, s := range m.Services {
		if s.Health == "/api/health" {
			api = s
		}
	}
	t.Run("health reports an unreachable database", func(t *testing.T) {
		port := freePort(t)
		down := with(with(with(env, "PORT", port), "MONGODB_URL", "mongodb://127.0.0.1:"+freePort(t)), "NODE_ENV", "production")
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
		broken := with(with(with(env, "PORT", freePort(t)), "MONGODB_URL", ""), "NODE_ENV", "production")
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
	pr.done()
}

// runAll runs each {dir, argv...} in the workspace, in order.
func runAll(t *testing.T, pr *progress, root string, env map[string]string, cmds [][]string) {
	t.Helper()
	for _, c := range cmds {
		run(t, pr, filepath.Join(root, c[0]), env, c[1:]...)
	}
}

// progress prints what a template's run is doing as it goes (go test -v streams t.Logf),
// and the time of each step at the end.
type progress struct {
	t      *testing.T
	fw     string
	began  time.Time
	timing []string
}

func newProgress(t *testing.T, fw string) *progress {
	return &progress{t: t, fw: fw, began: time.Now()}
}

func (p *progress) logf(format string, args ...any) {
	p.t.Helper()
	p.t.Logf("[%s +%s] %s", p.fw, time.Since(p.began).Round(time.Second), fmt.Sprintf(format, args...))
}

// step runs f as one timed step; a failed step stops the template (its t.Fatal does).
func (p *progress) step(name string, f func()) {
	p.t.Helper()
	p.logf("%s ...", name)
	start := time.Now()
	f()
	d := time.Since(start)
	p.timing = append(p.timing, fmt.Sprintf("%s=%.1fs", name, d.Seconds()))
	p.logf("%s done in %.1fs", name, d.Seconds())
}

func (p *progress) done() {
	p.t.Helper()
	p.logf("TIMING %s %s total=%.1fs", p.fw, strings.Join(p.timing, " "), time.Since(p.began).Seconds())
}
