package execapi_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/execapi"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/docker"
	"github.com/mgx-dev/mgx/runtime/docker/dockertest"
	"github.com/mgx-dev/mgx/scheduler"
)

func testImage() string { return dockertest.Image("MGX_TEST_NODE_IMAGE", "mgx/node:22") }

// newDockerDriver skips (or fails with MGX_TEST_DOCKER=1) when no daemon or image is there.
func newDockerDriver(t testing.TB) *docker.Driver { return dockertest.Driver(t, testImage()) }

// With the docker runtime the command runs inside the app's dev shell container (its
// image, uid 1000, /workspace, no Docker socket), and a timed-out command is stopped
// inside the container, not only abandoned by the API call.
func TestDockerCommandRunsInDevContainer(t *testing.T) {
	drv := newDockerDriver(t)
	ws := t.TempDir()
	if os.Geteuid() == 0 {
		if err := os.Chown(ws, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(ws, 0o777); err != nil {
		t.Fatal(err)
	}
	writeApp(t, ws)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "mgxtest-" + hex.EncodeToString(b)
	h := newHarness(t, drv, ws, execapi.Handler{}, devenv.Config{
		NamePrefix: prefix, ImageNode: testImage(), ImagePythonNode: testImage(),
		Resources: runtime.Resources{MemoryBytes: 256 << 20, CPUs: 1, Pids: 256},
	})
	tok := h.issue(t, h.addRun(t, "run-1", "demo", scheduler.StateRunning, 1))

	status, res, _, raw := h.post(t, tok, body(`cat /etc/hostname; id -u; node --version; pwd; cat hello.txt; ls /var/run/docker.sock 2>&1 || true`, "sub", 120))
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	lines := strings.Split(strings.TrimSpace(res.Output), "\n")
	if res.ExitCode != 0 || len(lines) != 6 {
		t.Fatalf("got %+v", res)
	}
	shells, err := drv.List(t.Context(), map[string]string{"mgx.instance": prefix, "mgx.service": "shell"})
	if err != nil || len(shells) != 1 {
		t.Fatalf("shell containers: %d %v", len(shells), err)
	}
	if !strings.HasPrefix(shells[0].ID, lines[0]) {
		t.Errorf("hostname %q is not the dev shell container %s", lines[0], shells[0].ID)
	}
	if lines[1] != "1000" || !strings.HasPrefix(lines[2], "v22.") || lines[3] != "/workspace/sub" || lines[4] != "hello from sub" || !strings.Contains(lines[5], "No such file") {
		t.Errorf("output %q: want uid 1000, node v22, /workspace/sub, the workspace's file, no Docker socket", res.Output)
	}

	status, res, _, raw = h.post(t, tok, body(`echo started; sleep 300`, "", 1))
	if status != 200 || !res.TimedOut || res.Output != "started\n" || res.DurationMS > 10000 {
		t.Fatalf("timeout: status %d %s", status, raw)
	}
	const count = `n=0; for p in /proc/[0-9]*; do case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in "sleep 300 "*) n=$((n+1));; esac; done; echo $n`
	status, res, _, raw = h.post(t, tok, body(count, "", 10))
	if status != 200 || res.Output != "0\n" {
		t.Errorf("sleep 300 processes left in the container after the timeout: status %d %s", status, raw)
	}
}
