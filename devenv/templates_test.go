package devenv_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/templates"
)

// TestDockerTemplates runs the real templates in dev containers: npm and pip install from
// the registries, then the dev servers under /dev/<slug>/. It needs the registries, so it
// runs only with MGX_TEST_TEMPLATES=1 (and Docker).
func TestDockerTemplates(t *testing.T) {
	if os.Getenv("MGX_TEST_TEMPLATES") != "1" {
		t.Skip("set MGX_TEST_TEMPLATES=1 to install and run the real templates (needs npm and PyPI)")
	}
	drv := newDockerDriver(t)
	for _, fw := range templates.Frameworks() {
		t.Run(fw, func(t *testing.T) {
			data, ws := t.TempDir(), dockerWorkspace(t)
			if err := os.Remove(ws); err != nil {
				t.Fatal(err)
			}
			if err := templates.Render(fw, ws, templates.Vars{AppName: "Demo", Slug: "demo"}); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				if err := chownR(ws, 1000, 1000); err != nil {
					t.Fatal(err)
				}
			}
			cfg := devenv.Config{NamePrefix: uniquePrefix()}
			if fileExists("/etc/ssl/certs/ca-certificates.crt") {
				cfg.CABundle = "/etc/ssl/certs/ca-certificates.crt"
			}
			f := newFixture(t, drv, data, ws, cfg)
			defer f.stopAll(t)
			// What the core gives every app (no provider answers here: sign-in is not tested).
			for k, v := range map[string]string{
				"MGX_OAUTH_ISSUER": "http://127.0.0.1:9/oauth2", "MGX_OAUTH_CLIENT_ID": "app-demo",
				"MGX_OAUTH_CLIENT_SECRET": "test-secret", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9/otlp",
			} {
				f.apps["demo"].Env[k] = v
			}
			begin := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			defer cancel()
			if err := f.m.Ensure(ctx, "demo"); err != nil {
				t.Fatalf("Ensure: %v; console:\n%s", err, tailString(f.m.Console("demo").Scrollback(), 4000))
			}
			t.Logf("%s: install + dev server ready in %s", fw, time.Since(begin).Round(time.Second))
			addr, _, _ := f.m.Upstream("demo", "/")
			resp, err := http.Get("http://" + addr + "/dev/demo/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(body)), "<html") {
				t.Errorf("GET /dev/demo/: %d %.300s", resp.StatusCode, body)
			}
			time.Sleep(5 * time.Second)
			t.Logf("%s: idle memory %.0f MiB (container cgroup, web service)", fw, idleMemory(t, drv, f.m, f.prefix)/(1<<20))
			// A warm restart: dependencies are installed, only the dev servers start.
			_ = f.m.Stop(context.Background(), "demo")
			begin = time.Now()
			if err := f.m.Ensure(ctx, "demo"); err != nil {
				t.Fatalf("warm Ensure: %v", err)
			}
			t.Logf("%s: warm start (no install) ready in %s", fw, time.Since(begin).Round(100*time.Millisecond))
		})
	}
}

func tailString(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func chownR(dir string, uid, gid int) error {
	return walk(dir, func(p string) error { return os.Lchown(p, uid, gid) })
}

func walk(dir string, fn func(string) error) error {
	if err := fn(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if e.IsDir() {
			if err := walk(p, fn); err != nil {
				return err
			}
		} else if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}
