package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/gateway"
)

// BenchmarkProxy compares a 1 KiB GET straight to the upstream with the same GET through
// the embedded gateway, both over loopback HTTP/1.1 with keep-alive, 64 client goroutines.
// allocs/op counts the whole process (client, gateway, upstream): the gateway's own share
// is the difference between the two.
func BenchmarkProxy(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(payload) }))
	defer up.Close()
	g := gateway.NewEmbedded(gateway.EmbeddedConfig{})
	for _, r := range append(gateway.PlatformRoutes(addr(up)), gateway.AppRoute(gateway.KindProd, "bench", "/api", true, addr(up))) {
		if err := g.Put(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	gw := httptest.NewServer(g)
	defer gw.Close()

	for _, tc := range []struct{ name, url string }{
		{"direct", up.URL + "/api/items/42"},
		{"embedded", gw.URL + "/apps/bench/api/items/42"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.SetParallelism(32) // ×2 cores = 64 goroutines
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(tc.url)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || n != 1024 {
						b.Errorf("status %d, %d bytes", resp.StatusCode, n)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkServeHTTP is the gateway alone: routing, rewrite and the proxy round trip,
// without the client's HTTP stack.
func BenchmarkServeHTTP(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(payload) }))
	defer up.Close()
	g := gateway.NewEmbedded(gateway.EmbeddedConfig{})
	for _, r := range append(gateway.PlatformRoutes(addr(up)), gateway.AppRoute(gateway.KindProd, "bench", "/api", true, addr(up))) {
		if err := g.Put(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/apps/bench/api/items/42", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		g.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }
