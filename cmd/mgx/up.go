package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mgx-dev/mgx/platform"
	"github.com/mgx-dev/mgx/telemetry"
)

func version() string { return platform.Version }

func runUp(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("mgx up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg platform.Config
	cfg.BindFlags(fs, getenv)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: mgx up [flags]\n\nRuns every MGX role in one process: the gateway, web UI, API, OAuth2 provider,\nscheduler and agents, with embedded MongoDB (FerretDB) and Redis unless URIs are given.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mgx up: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "mgx up: invalid configuration:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	if err := up(cfg, stdout, log); err != nil {
		fmt.Fprintf(stderr, "mgx up: %v\n", err)
		return 1
	}
	return 0
}

func up(cfg platform.Config, stdout io.Writer, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Claim the data dir and the port before starting anything, so that a busy port or
	// a second instance fails with nothing started and nothing written.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (MGX_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()
	dd, err := platform.OpenDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer dd.Close()

	tp, shutdownTracing, err := telemetry.Setup(ctx, cfg.OTLPEndpoint, "mgx", platform.Version)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer shutdownTracing(context.Background())

	started := time.Now()
	p, err := platform.Start(ctx, cfg, dd, log)
	if err != nil {
		return err
	}
	defer p.Close()

	srv := &http.Server{
		Handler:           telemetry.Wrap(p.Handler(), tp, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	p.PrintBanner(stdout)
	log.InfoContext(ctx, "mgx up", "addr", ln.Addr().String(), "startup_ms", time.Since(started).Milliseconds())

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		return fmt.Errorf("HTTP server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
