package devenv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-units"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/runtime"
)

// BenchmarkDevServerReady measures a cold start of an app's dev environment with a warm
// image: from Start to the dev server answering HTTP (a small node server, no install),
// and the memory of the idle environment after it. Docker runs when a daemon answers.
func BenchmarkDevServerReady(b *testing.B) {
	b.Run("process", func(b *testing.B) {
		if _, err := exec.LookPath("node"); err != nil {
			b.Skip("needs node")
		}
		data := b.TempDir()
		benchReady(b, newProcessDriver(b, data), data, b.TempDir(), devenv.Config{})
	})
	b.Run("docker", func(b *testing.B) {
		drv := newDockerDriver(b)
		data, ws := b.TempDir(), b.TempDir()
		if os.Geteuid() == 0 {
			_ = os.Chown(ws, 1000, 1000)
		}
		benchReady(b, drv, data, ws, devenv.Config{ImageNode: testImage(), ImagePythonNode: testImage(), NamePrefix: uniquePrefix()})
	})
}

func benchReady(b *testing.B, drv runtime.Driver, data, ws string, cfg devenv.Config) {
	writeApp(b, ws, `{"name":"web","dir":".","route":"/","dev":["node","server.js","web"],"start":["node","server.js","web"]}`)
	f := newFixture(b, drv, data, ws, cfg)
	defer f.detach()
	var mem float64
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if err := f.m.Ensure(ctx, "demo"); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StopTimer()
		time.Sleep(time.Second) // idle
		mem = idleMemory(b, drv, f.m, f.prefix)
		_ = f.m.Stop(context.Background(), "demo")
		b.StartTimer()
	}
	if mem > 0 {
		b.ReportMetric(mem/(1<<20), "MiB/idle-env")
	}
}

// idleMemory is the memory of the app's dev server: the container's cgroup usage
// (docker stats) or the RSS of the process group.
func idleMemory(b testing.TB, drv runtime.Driver, m *devenv.Manager, prefix string) float64 {
	st := m.Status("demo")
	if len(st.Services) == 0 {
		return 0
	}
	if drv.Name() == "docker" {
		out, err := exec.Command("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", prefix+"-demo-web").Output()
		if err != nil {
			return 0
		}
		used, _, _ := strings.Cut(strings.TrimSpace(string(out)), " /")
		n, err := units.RAMInBytes(used)
		if err != nil {
			return 0
		}
		return float64(n)
	}
	// The process driver: the RSS of the dev server, found by its command line.
	var total float64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !strings.Contains(string(cmd), "server.js\x00web") {
			continue
		}
		status, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.Atoi(strings.Fields(line)[1])
				total += float64(kb) * 1024
			}
		}
	}
	return total
}
