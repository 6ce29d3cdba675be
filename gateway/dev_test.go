package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/store"
)

// fakeDevenv plays package devenv: Upstream answers for running environments, Ensure
// starts one (at once, or when release is closed for "slow").
type fakeDevenv struct {
	mu      sync.Mutex
	running map[string]string // slug → addr
	addr    string
	release chan struct{}
	ensured map[string]int
}

func (f *fakeDevenv) Upstream(slug, p string) (string, bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.running[slug]
	return a, strings.HasPrefix(p, "/api"), ok
}

func (f *fakeDevenv) Ensure(ctx context.Context, slug string) error {
	f.mu.Lock()
	f.ensured[slug]++
	f.mu.Unlock()
	switch slug {
	case "nobody":
		return fmt.Errorf("devenv: %w", store.ErrNotFound)
	case "broken":
		return fmt.Errorf("npm install failed")
	case "slow":
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.running[slug] = f.addr
	f.mu.Unlock()
	return nil
}

func TestDevResolverAndWake(t *testing.T) {
	up := upstream(t, "dev")
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := addr(down)
	down.Close()
	dev := &fakeDevenv{running: map[string]string{"hot": addr(up)}, addr: addr(up), release: make(chan struct{}), ensured: map[string]int{}}
	g := gateway.NewEmbedded(gateway.EmbeddedConfig{Waker: dev, Dev: dev, WakeWait: 200 * time.Millisecond})
	for _, r := range append(gateway.PlatformRoutes("127.0.0.1:1"), gateway.AppRoute(gateway.KindDev, "crashed", "/", false, downAddr)) {
		if err := g.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(g)
	defer srv.Close()

	tests := []struct {
		name     string
		path     string
		status   int
		contains string
	}{
		{name: "running env resolved per request", path: "/dev/hot/src/app.tsx", status: 200, contains: `"RawPath":"/dev/hot/src/app.tsx"`},
		{name: "resolver decides strip", path: "/dev/hot/api/items", status: 200, contains: `"RawPath":"/api/items"`},
		{name: "sleeping env woken within the wait is served", path: "/dev/lazy/", status: 200, contains: `"App":"dev"`},
		{name: "slow env gets the starting page", path: "/dev/slow/", status: 503, contains: "starting"},
		{name: "unknown app", path: "/dev/nobody/", status: 404, contains: "app_not_found"},
		{name: "failed start", path: "/dev/broken/", status: 503, contains: "wake_failed"},
		{name: "crashed dev server is woken, not 502", path: "/dev/crashed/", status: 503, contains: "starting"},
		{name: "prod is never resolved through devenv", path: "/apps/hot/", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := rawGet(t, srv.URL, tt.path, "application/json")
			if status != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("GET %s: %d %s, want %d containing %q", tt.path, status, body, tt.status, tt.contains)
			}
		})
	}
	close(dev.release)
	// Once started, the next refresh is served.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if status, _, _ := rawGet(t, srv.URL, "/dev/slow/", "application/json"); status == 200 {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("slow env never served after it started")
		}
	}
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if dev.ensured["slow"] != 1 {
		t.Fatalf("Ensure(slow) called %d times; concurrent wakes must share one call", dev.ensured["slow"])
	}
}

func TestFallbackProxiesDevAndRefusesPlatform(t *testing.T) {
	up := upstream(t, "dev")
	dev := &fakeDevenv{running: map[string]string{"hot": addr(up)}, addr: addr(up), release: make(chan struct{}), ensured: map[string]int{}}
	g, err := gateway.New(t.Context(), gateway.Config{Store: newStoreForTest(t), Driver: gateway.NewEmbedded(gateway.EmbeddedConfig{}), Waker: dev, Dev: dev})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range gateway.PlatformRoutes("127.0.0.1:1") {
		if err := g.Upsert(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(g.Fallback())
	defer srv.Close()
	if status, _, body := rawGet(t, srv.URL, "/dev/hot/x", "application/json"); status != 200 || !strings.Contains(body, `"App":"dev"`) {
		t.Fatalf("dev preview through the fallback: %d %s", status, body)
	}
	if status, _, _ := rawGet(t, srv.URL, "/api/me", "application/json"); status != 404 {
		t.Fatalf("fallback served a platform path: %d (it would proxy to MGX itself)", status)
	}
}
