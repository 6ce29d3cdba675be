package deploy_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/deploy"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// TestProcessTemplates deploys both real templates with the process runtime, as `mgx up`
// does on a machine without Docker: npm install / pip install and the production builds
// run on the host, which takes minutes, so it runs only with MGX_TEST_PROCESS_TEMPLATES=1
// (the fast process-runtime tests above use a tiny app and always run).
func TestProcessTemplates(t *testing.T) {
	if os.Getenv("MGX_TEST_PROCESS_TEMPLATES") != "1" {
		t.Skip("installs the templates' dependencies from the registries and builds them (minutes): set MGX_TEST_PROCESS_TEMPLATES=1")
	}
	ca := os.Getenv("MGX_EXTRA_CA_BUNDLE")
	for _, framework := range []string{"nextjs", "fastapi-react"} {
		t.Run(framework, func(t *testing.T) {
			drv, err := process.New(process.Config{StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			b, err := deploy.NewProcessBuilder(deploy.ProcessBuilderConfig{ReleasesDir: t.TempDir(), CABundle: ca})
			if err != nil {
				t.Fatal(err)
			}
			st := storetest.New(t)
			h := newHarness(t, st, drv, b, func(c *deploy.Config) { c.HealthTimeout = 90 * time.Second })
			t.Cleanup(func() { cleanupWorkloads(h, st) })
			h.maxWait = 20 * time.Minute
			slug := "pr-" + strings.ReplaceAll(framework, "-", "") + "-" + store.ShortID()[:5]
			dir := renderApp(t, framework, slug)
			h.addApp(slug, "owner", dir)
			h.apps.apps[slug].Env = map[string]string{
				"MGX_OAUTH_ISSUER": "http://127.0.0.1:1/oauth2", "MGX_OAUTH_CLIENT_ID": "app-" + slug, "MGX_OAUTH_CLIENT_SECRET": "test-secret",
				"MONGODB_URL": storetest.URI(t), "MONGODB_DB": "t_" + strings.ReplaceAll(slug, "-", "_"), "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1/otlp",
			}
			t0 := time.Now()
			d := h.deploy(slug, "")
			if d.Status != deploy.StatusLive {
				lines, _ := h.buildLog(slug, d.ID)
				t.Fatalf("%s: %s\n%s", d.Status, d.Reason, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
			t.Logf("BENCH process %s click→live %.1fs", framework, time.Since(t0).Seconds())
			if code, body := h.fetch("/apps/" + slug + "/api/health"); code != 200 {
				t.Fatalf("health: %d %s", code, body)
			}
			if code, loc := h.fetchOnce("/apps/" + slug + "/"); code != 200 {
				// See the Docker test: Next.js's trailing-slash redirect meets the gateway's.
				t.Errorf("home page: %d (Location %q)", code, loc)
			}
		})
	}
}
