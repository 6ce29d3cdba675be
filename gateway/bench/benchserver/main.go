// Command benchserver is the helper of gateway/bench/run.sh: an upstream that answers 1 KiB
// (and an SSE stream), the embedded gateway in front of it, and an SSE client that times a
// stream through any proxy.
//
//	benchserver -mode upstream -listen 127.0.0.1:18081
//	benchserver -mode gateway  -listen 127.0.0.1:18082 -upstream 127.0.0.1:18081
//	benchserver -mode sse      -url http://127.0.0.1:18082/apps/bench/sse -events 20000
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mgx-dev/mgx/gateway"
)

func main() {
	mode := flag.String("mode", "", "upstream | gateway | sse")
	listen := flag.String("listen", "127.0.0.1:18081", "listen address")
	up := flag.String("upstream", "127.0.0.1:18081", "upstream of the gateway")
	url := flag.String("url", "", "SSE URL (mode sse)")
	events := flag.Int("events", 20000, "events in the SSE stream")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch *mode {
	case "upstream":
		err = serve(ctx, *listen, upstream())
	case "gateway":
		err = serveGateway(ctx, *listen, *up)
	case "sse":
		err = sse(ctx, *url, *events)
	default:
		err = errors.New("-mode is upstream, gateway or sse")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

var body = bytes.Repeat([]byte("x"), 1024)

func upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sse") {
			n := 20000
			fmt.Sscan(r.URL.Query().Get("n"), &n)
			w.Header().Set("Content-Type", "text/event-stream")
			f := w.(http.Flusher)
			line := []byte("data: " + strings.Repeat("y", 90) + "\n\n")
			for range n {
				if _, err := w.Write(line); err != nil {
					return
				}
				f.Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
}

func serveGateway(ctx context.Context, listen, up string) error {
	g := gateway.NewEmbedded(gateway.EmbeddedConfig{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	routes := append(gateway.PlatformRoutes(up), gateway.AppRoute(gateway.KindProd, "bench", "/", false, up))
	for _, r := range routes {
		if err := g.Put(ctx, r); err != nil {
			return err
		}
	}
	return serve(ctx, listen, g)
}

func serve(ctx context.Context, listen string, h http.Handler) error {
	srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sse prints time to first event and events per second of one stream.
func sse(ctx context.Context, url string, n int) error {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?n=%d", url, n), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var first time.Duration
	got := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			if got == 0 {
				first = time.Since(start)
			}
			got++
		}
	}
	total := time.Since(start)
	if got != n {
		return fmt.Errorf("got %d of %d events", got, n)
	}
	fmt.Printf("first_event_us=%d events_per_s=%.0f\n", first.Microseconds(), float64(n)/total.Seconds())
	return nil
}
