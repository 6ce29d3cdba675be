// Package dockertest gives tests a Docker driver, or skips them with the reason when no
// daemon answers or an image is missing; with MGX_TEST_DOCKER=1 (make test-docker) that is
// a failure instead, so CI cannot pass by skipping.
package dockertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/runtime/docker"
)

// Required tells whether Docker tests must run (MGX_TEST_DOCKER=1).
func Required() bool { return os.Getenv("MGX_TEST_DOCKER") == "1" }

// Unavailable skips the test with the reason, or fails it when Docker is required.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Required() {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format+" (set MGX_TEST_DOCKER=1 to make this a failure)", args...)
}

// Image is the value of the environment variable env, else def.
func Image(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// Driver returns a driver on the local daemon, closed when the test ends, once the daemon
// answers and every image is present (build them with deploy/images/build.sh).
func Driver(tb testing.TB, images ...string) *docker.Driver {
	tb.Helper()
	d, err := docker.New(docker.Config{})
	if err != nil {
		Unavailable(tb, "docker client: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := d.Ping(ctx); err != nil {
		Unavailable(tb, "no Docker daemon answers: %v", err)
	}
	for _, img := range images {
		if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", img).CombinedOutput(); err != nil {
			Unavailable(tb, "image %s missing (run deploy/images/build.sh): %v %s", img, err, out)
		}
	}
	return d
}
