package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/gateway"
)

// seen is what an upstream received.
type seen struct {
	App, Path, RawPath, Prefix, Host string
}

// upstream answers with JSON describing the request it got, so tests can tell which app a
// request reached and with which path.
func upstream(t *testing.T, app string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(seen{App: app, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Prefix: r.Header.Get("X-Forwarded-Prefix"), Host: r.Host})
	}))
	t.Cleanup(s.Close)
	return s
}

func addr(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

type fakeWaker struct {
	mu    sync.Mutex
	woken []string
}

func (f *fakeWaker) Ensure(_ context.Context, slug string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slug == "ghost" {
		return fmt.Errorf("wake %s: %w", slug, gateway.ErrUnknownApp)
	}
	f.woken = append(f.woken, slug)
	return nil
}

func newGateway(t *testing.T, waker gateway.Waker, routes ...gateway.Route) (*gateway.Embedded, *httptest.Server) {
	t.Helper()
	platform := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(seen{App: "mgx", Path: r.URL.Path, RawPath: r.URL.EscapedPath()})
	})
	g := gateway.NewEmbedded(gateway.EmbeddedConfig{Platform: platform, Waker: waker})
	for _, r := range append(gateway.PlatformRoutes("127.0.0.1:1"), routes...) {
		if err := g.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

// rawGet sends the path exactly as given, bypassing Go's client-side URL cleaning.
func rawGet(t *testing.T, base, path string, accept string) (int, http.Header, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: mgx.example\r\nAccept: %s\r\nConnection: close\r\n\r\n", path, accept)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestEmbeddedRouting(t *testing.T) {
	front, api, other, dev := upstream(t, "a-front"), upstream(t, "a-api"), upstream(t, "ab"), upstream(t, "a-dev")
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := addr(down)
	down.Close()
	waker := &fakeWaker{}
	_, srv := newGateway(t, waker,
		gateway.AppRoute(gateway.KindProd, "a", "/", false, addr(front)),
		gateway.AppRoute(gateway.KindProd, "a", "/api", true, addr(api)),
		gateway.AppRoute(gateway.KindProd, "ab", "/", false, addr(other)),
		gateway.AppRoute(gateway.KindDev, "a", "/", true, addr(dev)),
		gateway.AppRoute(gateway.KindDev, "sleepy", "/", false),
		gateway.AppRoute(gateway.KindProd, "deploying", "/", false),
		gateway.AppRoute(gateway.KindDev, "devonly", "/", false, addr(dev)),
		gateway.AppRoute(gateway.KindProd, "down", "/", false, downAddr),
	)
	tests := []struct {
		name     string
		path     string
		accept   string
		status   int
		app      string // upstream that must get it ("" none)
		rawPath  string // what it must see
		prefix   string
		contains string // in the body of a gateway answer
	}{
		{name: "frontend keeps base path", path: "/apps/a/index.html", status: 200, app: "a-front", rawPath: "/apps/a/index.html"},
		{name: "query kept", path: "/apps/a/?q=1", status: 200, app: "a-front", rawPath: "/apps/a/"},
		{name: "backend strips base path", path: "/apps/a/api/health", status: 200, app: "a-api", rawPath: "/api/health", prefix: "/apps/a"},
		{name: "escaped slash reaches backend escaped", path: "/apps/a/api/files/x%2Fy", status: 200, app: "a-api", rawPath: "/api/files/x%2Fy"},
		{name: "escaped slash reaches frontend escaped", path: "/apps/a/x%2Fy", status: 200, app: "a-front", rawPath: "/apps/a/x%2Fy"},
		{name: "double slashes", path: "/apps//a//api//health", status: 200, app: "a-api", rawPath: "/api/health"},
		{name: "dot segments resolved before routing", path: "/apps/a/x/../api/./health", status: 200, app: "a-api", rawPath: "/api/health"},
		{name: "escaped dot segments resolved", path: "/apps/a/%2e%2e/ab/x", status: 200, app: "ab", rawPath: "/apps/ab/x"},
		{name: "climbing above root refused", path: "/apps/a/../../../etc/passwd", status: 400},
		{name: "sibling slug goes to sibling", path: "/apps/ab/x", status: 200, app: "ab", rawPath: "/apps/ab/x"},
		{name: "prefix of a slug is not the app", path: "/apps/abc/x", status: 404, contains: "app_not_found"},
		{name: "app root without slash goes to the app, which decides", path: "/apps/a?x=1", status: 200, app: "a-front", rawPath: "/apps/a"},
		{name: "dev strips", path: "/dev/a/src/main.tsx", status: 200, app: "a-dev", rawPath: "/src/main.tsx", prefix: "/dev/a"},
		{name: "unknown slug 404 JSON", path: "/apps/nope/", status: 404, contains: `"code":"app_not_found"`},
		{name: "unknown slug 404 HTML", path: "/apps/nope/", accept: "text/html", status: 404, contains: "No such app"},
		{name: "unknown dev slug via waker", path: "/dev/ghost/", status: 404, contains: "app_not_found"},
		{name: "sleeping dev env is woken", path: "/dev/sleepy/", accept: "text/html,*/*", status: 503, contains: `http-equiv="refresh"`},
		{name: "prod route without upstream is starting", path: "/apps/deploying/", status: 503, contains: "starting"},
		{name: "app with dev only is not deployed", path: "/apps/devonly/", accept: "text/html", status: 404, contains: "Not deployed yet"},
		{name: "upstream down is 502", path: "/apps/down/", accept: "text/html", status: 502, contains: "not answering"},
		{name: "very long path", path: "/apps/a/" + strings.Repeat("x", 9000), status: 414},
		{name: "platform in process", path: "/api/me", status: 200, app: "mgx", rawPath: "/api/me"},
		{name: "web UI in process", path: "/settings", status: 200, app: "mgx", rawPath: "/settings"},
		{name: "apps root is not the web UI", path: "/apps/", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accept := tt.accept
			if accept == "" {
				accept = "application/json"
			}
			status, hdr, body := rawGet(t, srv.URL, tt.path, accept)
			if status != tt.status {
				t.Fatalf("GET %s: status %d, want %d; body %s", tt.path, status, tt.status, body)
			}
			if status == 308 && hdr.Get("Location") != "/apps/a/?x=1" {
				t.Fatalf("Location %q", hdr.Get("Location"))
			}
			if tt.contains != "" && !strings.Contains(body, tt.contains) {
				t.Fatalf("body %q does not contain %q", body, tt.contains)
			}
			var got seen
			_ = json.Unmarshal([]byte(body), &got)
			if got.App != tt.app {
				t.Fatalf("reached %q, want %q (body %s)", got.App, tt.app, body)
			}
			if tt.app != "" && got.RawPath != tt.rawPath {
				t.Fatalf("upstream saw %q, want %q", got.RawPath, tt.rawPath)
			}
			if tt.prefix != "" && got.Prefix != tt.prefix {
				t.Fatalf("X-Forwarded-Prefix %q, want %q", got.Prefix, tt.prefix)
			}
			if got.App != "" && got.App != "mgx" && got.Host != "mgx.example" {
				t.Fatalf("Host %q not passed through", got.Host)
			}
		})
	}
	if len(waker.woken) == 0 || waker.woken[0] != "sleepy" {
		t.Fatalf("waker calls %v, want sleepy", waker.woken)
	}
}

func TestEmbeddedSSEAndRouteChange(t *testing.T) {
	release := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "id: %d\ndata: tick\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-release:
				return
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer sse.Close()
	defer close(release)
	other := upstream(t, "new")
	g, srv := newGateway(t, nil, gateway.AppRoute(gateway.KindProd, "s", "/", false, addr(sse)))

	resp, err := http.Get(srv.URL + "/apps/s/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	readEvent := func() string {
		t.Helper()
		done := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			_, _ = br.ReadString('\n')
			_, _ = br.ReadString('\n')
			done <- line
		}()
		select {
		case l := <-done:
			return l
		case <-time.After(2 * time.Second):
			t.Fatal("event not flushed through the gateway")
			return ""
		}
	}
	if l := readEvent(); l != "id: 0\n" {
		t.Fatalf("first event %q", l)
	}
	// Change the route under the open stream: new requests go to the new upstream, the
	// stream keeps flowing.
	if err := g.Put(t.Context(), gateway.AppRoute(gateway.KindProd, "s", "/", false, addr(other))); err != nil {
		t.Fatal(err)
	}
	_, _, body := rawGet(t, srv.URL, "/apps/s/x", "application/json")
	if !strings.Contains(body, `"App":"new"`) {
		t.Fatalf("new request after route change: %s", body)
	}
	if err := g.Delete(t.Context(), "prod-s"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if l := readEvent(); !strings.HasPrefix(l, "id: ") {
			t.Fatalf("stream broken after route change: %q", l)
		}
	}
}

func TestEmbeddedWebSocket(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.URL.Path != "/ws" {
			http.Error(w, "want upgrade on /ws", 400)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(c, rw) // echo
	}))
	defer echo.Close()
	noWS := gateway.AppRoute(gateway.KindProd, "nows", "/", false, addr(echo))
	noWS.WebSocket = false
	_, srv := newGateway(t, nil, gateway.AppRoute(gateway.KindDev, "w", "/", true, addr(echo)), noWS)

	dial := func(path string) (net.Conn, *bufio.Reader, int) {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, br, resp.StatusCode
	}
	c, br, status := dial("/dev/w/ws")
	defer c.Close()
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade status %d", status)
	}
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := br.ReadString('\n'); err != nil || l != "hello\n" {
		t.Fatalf("echo %q %v", l, err)
	}
	c2, _, status := dial("/apps/nows/ws")
	c2.Close()
	if status != http.StatusBadRequest {
		t.Fatalf("upgrade on a route without WebSocket: %d, want 400", status)
	}
}

func TestFallback(t *testing.T) {
	// With APISIX, "/apps/" and "/dev/" without a running upstream land on MGX's mux.
	g := newStoreGateway(t, gateway.NewEmbedded(gateway.EmbeddedConfig{}))
	ctx := t.Context()
	for _, r := range []gateway.Route{gateway.AppRoute(gateway.KindDev, "zz", "/", false), gateway.AppRoute(gateway.KindProd, "yy", "/", false)} {
		if err := g.Upsert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/apps/", g.Fallback())
	mux.Handle("/dev/", g.Fallback())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]int{"/apps/none/": 404, "/dev/zz/": 503, "/apps/yy/": 503, "/apps/zz/": 404} {
		status, _, body := rawGet(t, srv.URL, path, "application/json")
		if status != want {
			t.Errorf("GET %s: %d, want %d (%s)", path, status, want, body)
		}
	}
}

func TestUpsertValidation(t *testing.T) {
	g := newStoreGateway(t, gateway.NewEmbedded(gateway.EmbeddedConfig{}))
	tests := []struct {
		name string
		r    gateway.Route
	}{
		{name: "app under platform kind", r: gateway.Route{ID: "x", Prefix: "/apps/x/", Kind: gateway.KindPlatform, Upstreams: []string{"h:1"}}},
		{name: "prefix of another app", r: gateway.Route{ID: "x", Prefix: "/apps/y/", Kind: gateway.KindProd, Slug: "x"}},
		{name: "unclean prefix", r: gateway.Route{ID: "x", Prefix: "/apps/x/../y/", Kind: gateway.KindProd, Slug: "x"}},
		{name: "no trailing slash", r: gateway.Route{ID: "x", Prefix: "/apps/x", Kind: gateway.KindProd, Slug: "x"}},
		{name: "upstream is a URL", r: gateway.AppRoute(gateway.KindProd, "x", "/", false, "http://h:1")},
		{name: "upstream without port", r: gateway.AppRoute(gateway.KindProd, "x", "/", false, "h")},
		{name: "bad slug", r: gateway.AppRoute(gateway.KindProd, "X_Y", "/", false, "h:1")},
		{name: "platform without upstream", r: gateway.Route{ID: "p", Prefix: "/p/", Kind: gateway.KindPlatform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := g.Upsert(t.Context(), tt.r); !errors.Is(err, gateway.ErrInvalidRoute) {
				t.Fatalf("Upsert: %v, want ErrInvalidRoute", err)
			}
		})
	}
}
