package devenv_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/docker"
	"github.com/mgx-dev/mgx/runtime/docker/dockertest"
)

func testImage() string { return dockertest.Image("MGX_TEST_IMAGE", "mgx/node:22") }

// newDockerDriver skips (or fails with MGX_TEST_DOCKER=1) when no daemon or image is there.
func newDockerDriver(t testing.TB) *docker.Driver { return dockertest.Driver(t, testImage()) }

// dockerWorkspace makes a workspace the containers' uid 1000 can write.
func dockerWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	if os.Geteuid() == 0 {
		if err := os.Chown(ws, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(ws, 0o777); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestDockerDevEnvironment(t *testing.T) {
	drv := newDockerDriver(t)
	data, ws := t.TempDir(), dockerWorkspace(t)
	writeApp(t, ws, webService, apiService)
	cfg := devenv.Config{NamePrefix: uniquePrefix(), ImageNode: testImage(), ImagePythonNode: testImage(), Resources: runtime.Resources{MemoryBytes: 256 << 20, CPUs: 1, Pids: 256}}
	if ca := "/etc/ssl/certs/ca-certificates.crt"; fileExists(ca) {
		cfg.CABundle = ca
	}
	f := newFixture(t, drv, data, ws, cfg)
	ensure(t, f.m)

	addr, _, ok := f.m.Upstream("demo", "/")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Upstream = %q %v", addr, ok)
	}
	a := get(t, addr, "/dev/demo/")
	if a.Svc != "web" || a.Base != "/dev/demo" || a.DB != "mongodb://host.docker.internal:27017" {
		t.Errorf("the container got %+v (BASE_PATH, loopback rewritten to host.docker.internal)", a)
	}
	if api, strip, _ := f.m.Upstream("demo", "/api/x"); !strip || get(t, api, "/api/x").Svc != "api" {
		t.Errorf("the /api route does not reach the api service")
	}
	var out bytes.Buffer
	code, err := f.m.Exec(t.Context(), "demo", runtime.ExecOptions{Command: []string{"/bin/sh", "-c", `id -u; pwd; echo "$NODE_EXTRA_CA_CERTS"; ls /var/run/docker.sock 2>&1 || true`}, Stdout: &out})
	if err != nil || code != 0 {
		t.Fatalf("Exec: %d %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 4 || lines[0] != "1000" || lines[1] != "/workspace" || !strings.Contains(lines[3], "No such file") {
		t.Errorf("shell: %q (want uid 1000, /workspace, no docker socket)", out.String())
	}
	if cfg.CABundle != "" && lines[2] != "/etc/ssl/certs/mgx-extra-ca.pem" {
		t.Errorf("NODE_EXTRA_CA_CERTS = %q", lines[2])
	}

	// MGX restarts: the containers keep running and are re-attached.
	before := a.PID
	f.detach()
	f2 := newFixture(t, drv, data, ws, cfg)
	waitState(t, f2.m, devenv.StateRunning, 30*time.Second)
	addr2, _, _ := f2.m.Upstream("demo", "/")
	if got := get(t, addr2, "/"); got.PID != before || addr2 != addr {
		t.Errorf("after restart %s pid %d, before %s pid %d", addr2, got.PID, addr, before)
	}
	f2.stopAll(t)
	if hs, err := drv.List(context.Background(), map[string]string{"mgx.app": "demo", "mgx.instance": cfg.NamePrefix}); err != nil || len(hs) != 0 {
		t.Errorf("containers left after Stop: %d %v", len(hs), err)
	}
}

// uniquePrefix keeps concurrent test runs on one Docker host apart.
func uniquePrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "mgxtest-" + hex.EncodeToString(b)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
