package docker_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/docker"
	"github.com/mgx-dev/mgx/runtime/docker/dockertest"
	"github.com/mgx-dev/mgx/runtime/runtimetest"
)

// testImage has sh, coreutils and node: deploy/images/build.sh builds it.
func testImage() string { return dockertest.Image("MGX_TEST_IMAGE", "mgx/node:22") }

// newDriver returns a driver when a daemon answers and the test image exists; otherwise it
// skips with the reason, or fails when MGX_TEST_DOCKER=1.
func newDriver(t *testing.T) *docker.Driver { return dockertest.Driver(t, testImage()) }

func TestConformance(t *testing.T) {
	newDriver(t) // skip early
	runtimetest.RunTests(t, func(t *testing.T) runtimetest.Harness {
		return runtimetest.Harness{
			Driver:  newDriver(t),
			Image:   testImage(),
			Restart: func(t *testing.T) runtime.Driver { return newDriver(t) },
		}
	})
}

// The hardening every container gets, read back from the Engine.
func TestHardening(t *testing.T) {
	d := newDriver(t)
	h, err := d.Start(t.Context(), runtime.Spec{
		Name: "mgxtest-hardening-" + time.Now().Format("150405.000000000")[7:], Image: testImage(),
		Command: []string{"sleep", "60"}, User: "1000:1000", Ports: []int{3000},
		Labels:    map[string]string{"mgx.app": "demo", "mgx.role": "dev"},
		Resources: runtime.Resources{MemoryBytes: 128 << 20, CPUs: 0.5, Pids: 64},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove(context.Background(), h) })
	out, err := exec.CommandContext(t.Context(), "docker", "inspect", "-f",
		`{{.HostConfig.SecurityOpt}}|{{.HostConfig.CapDrop}}|{{.HostConfig.Memory}}|{{.HostConfig.MemorySwap}}|{{.HostConfig.NanoCpus}}|{{.HostConfig.PidsLimit}}|{{.Config.User}}|{{.HostConfig.ExtraHosts}}|{{index .Config.Labels "mgx.app"}}|{{index .Config.Labels "mgx.managed"}}|{{(index (index .HostConfig.PortBindings "3000/tcp") 0).HostIp}}|{{.HostConfig.Privileged}}`,
		h.ID).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect: %v %s", err, out)
	}
	want := "[no-new-privileges]|[ALL]|134217728|134217728|500000000|64|1000:1000|[host.docker.internal:host-gateway]|demo|1|127.0.0.1|false"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("container settings\n got %s\nwant %s", got, want)
	}
	var id strings.Builder
	if _, err := d.Exec(t.Context(), h, runtime.ExecOptions{Command: []string{"id", "-u"}, Stdout: &id}); err != nil || strings.TrimSpace(id.String()) != "1000" {
		t.Errorf("exec runs as %q (%v), want uid 1000", id.String(), err)
	}
	hs, err := d.List(t.Context(), map[string]string{"mgx.app": "demo"})
	if err != nil || len(hs) == 0 || hs[0].Addr(3000) != h.Addr(3000) {
		t.Errorf("List = %+v, %v", hs, err)
	}
}

func TestRefusals(t *testing.T) {
	d := newDriver(t)
	tests := []struct {
		name string
		spec runtime.Spec
		want error
	}{
		{"docker socket mount", runtime.Spec{Name: "mgxtest-sock", Image: testImage(), Mounts: []runtime.Mount{{Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}}, runtime.ErrInvalidSpec},
		{"missing image", runtime.Spec{Name: "mgxtest-noimg", Image: "mgx/does-not-exist:1"}, runtime.ErrImageNotFound},
		{"no image", runtime.Spec{Name: "mgxtest-x"}, runtime.ErrInvalidSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := d.Start(t.Context(), tc.spec)
			if err == nil {
				_ = d.Remove(context.Background(), h)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Start: %v, want %v", err, tc.want)
			}
		})
	}
}
