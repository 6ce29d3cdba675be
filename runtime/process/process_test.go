package process_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/runtime/runtimetest"
)

func newDriver(t *testing.T, dir string) *process.Driver {
	t.Helper()
	d, err := process.New(process.Config{StateDir: dir, MaxLogBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("the conformance suite needs node on PATH")
	}
	runtimetest.RunTests(t, func(t *testing.T) runtimetest.Harness {
		dir := t.TempDir()
		return runtimetest.Harness{
			Driver:  newDriver(t, dir),
			Restart: func(t *testing.T) runtime.Driver { return newDriver(t, dir) },
		}
	})
}

// The whole process group goes, not only its leader.
func TestStopKillsTheGroup(t *testing.T) {
	d := newDriver(t, t.TempDir())
	pidFile := filepath.Join(t.TempDir(), "pid")
	h, err := d.Start(t.Context(), runtime.Spec{Name: "group", Command: []string{"/bin/sh", "-c", "sleep 300 & echo $! > " + pidFile + "; wait"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(t.Context(), h) })
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("the grandchild never started")
	}
	if err := d.Stop(t.Context(), h, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived Stop", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The log file stays bounded while a chatty process runs.
func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, dir)
	h, err := d.Start(t.Context(), runtime.Spec{Name: "chatty", Command: []string{"/bin/sh", "-c", "i=0; while [ $i -lt 6000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; sleep 3"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(t.Context(), h) })
	if _, err := d.Wait(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "chatty.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "chatty.log.1")); err != nil {
		t.Errorf("no rotated file: %v", err)
	}
	if fi.Size() > 64<<10 {
		t.Errorf("log file is %d bytes, over the 64 KiB bound", fi.Size())
	}
}

func TestInvalidSpecs(t *testing.T) {
	d := newDriver(t, t.TempDir())
	tests := []struct {
		name string
		spec runtime.Spec
	}{
		{"no name", runtime.Spec{Command: []string{"true"}}},
		{"name with a slash", runtime.Spec{Name: "../x", Command: []string{"true"}}},
		{"no command", runtime.Spec{Name: "x"}},
		{"missing dir", runtime.Spec{Name: "x", Command: []string{"true"}, Dir: "/nonexistent/dir"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.Start(t.Context(), tc.spec); err == nil {
				t.Error("Start accepted an invalid spec")
			}
		})
	}
}

// MGX's own settings (admin password, API keys) never reach workloads.
func TestWorkloadsDoNotInheritMGXSettings(t *testing.T) {
	t.Setenv("MGX_ADMIN_PASSWORD", "do-not-leak")
	t.Setenv("MGX_TEST_KEEP_THIS_OUT", "x")
	t.Setenv("PLAIN_HOST_VAR", "kept")
	for _, kv := range process.HostEnv() {
		if strings.HasPrefix(kv, "MGX_") {
			t.Fatalf("HostEnv carries %s", kv)
		}
	}
	if !slices.Contains(process.HostEnv(), "PLAIN_HOST_VAR=kept") {
		t.Fatal("HostEnv dropped an ordinary host variable")
	}
}
