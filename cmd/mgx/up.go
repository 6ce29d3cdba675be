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
	return runServer("up", platform.Roles{}, "Runs every MGX role in one process: the gateway, web UI, API, OAuth2 provider,\nscheduler and agents, with embedded MongoDB (FerretDB) and Redis unless URIs are given.", args, stdout, stderr, getenv)
}

func runControl(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runServer("control", platform.Roles{Control: true}, "Runs the control plane alone: the API, the web UI, the gateway's routes and fallbacks,\ndev environments and deploys. Several may run behind APISIX. Needs MGX_MONGODB_URI and\nMGX_REDIS_URL; tokens are verified against the keys the oauth role keeps in MongoDB.", args, stdout, stderr, getenv)
}

func runOAuth(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runServer("oauth", platform.Roles{OAuth: true}, "Runs the OAuth2/OIDC provider alone at /oauth2 and creates the first admin.\nNeeds MGX_MONGODB_URI and MGX_REDIS_URL.", args, stdout, stderr, getenv)
}

func runScheduler(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runServer("scheduler", platform.Roles{Scheduler: true}, "Runs the agent scheduler alone: takes runs from the Redis stream and supervises\nagent containers. Serves only /healthz and /readyz. Needs MGX_MONGODB_URI and MGX_REDIS_URL.", args, stdout, stderr, getenv)
}

// runServer parses the shared flags and runs the given roles until a signal.
func runServer(name string, roles platform.Roles, about string, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("mgx "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg platform.Config
	cfg.BindFlags(fs, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mgx %s [flags]\n\n%s\n\nFlags:\n", name, about)
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
		fmt.Fprintf(stderr, "mgx %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	cfg.Roles = roles
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "mgx %s: invalid configuration:\n  %s\n", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	if err := up(cfg, stdout, log); err != nil {
		fmt.Fprintf(stderr, "mgx %s: %v\n", name, err)
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
	dd, err := platform.OpenDataDir(cfg.DataDir, cfg.Roles.All())
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

	// Requests live in a context that Shutdown cancels: event streams and followed logs
	// end at once instead of holding the shutdown until its timeout.
	baseCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		Handler:           telemetry.Wrap(p.Handler(), tp, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(cancelRequests)
	serveErr := make(chan error, 2)
	listeners := []net.Listener{ln}
	if extra := containerListenAddr(cfg.HTTPAddr, p.ContainerHost); extra != "" {
		// Containers reach MGX (OAuth back channel, OTLP, agents' API calls) on the
		// Docker bridge, as host.docker.internal.
		cln, err := net.Listen("tcp", extra)
		if err != nil {
			return fmt.Errorf("listen on the Docker bridge %s for containers: %w", extra, err)
		}
		listeners = append(listeners, cln)
	}
	// The banner comes first: whoever sees /readyz answer has the banner (and the admin
	// password) already; connections wait in the listeners' backlog meanwhile.
	p.PrintBanner(stdout)
	for _, l := range listeners {
		go func() { serveErr <- srv.Serve(l) }()
	}
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

// containerListenAddr is the bridge address to serve containers on, or "" when the
// main listener already covers it (it listens on every address) or there is no bridge.
func containerListenAddr(httpAddr, bridgeHost string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if bridgeHost == "" || err != nil || host == "" || host == "0.0.0.0" || host == "::" || host == bridgeHost {
		return ""
	}
	return net.JoinHostPort(bridgeHost, port)
}
