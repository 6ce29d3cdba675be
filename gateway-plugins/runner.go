package gatewayplugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/apisix-go-plugin-runner/pkg/runner"
	"go.uber.org/zap/zapcore"
)

// Environment variables APISIX sets when it spawns the runner (ext-plugin.cmd), or that the
// compose file sets when the runner is its own service.
const (
	EnvListenAddress = "APISIX_LISTEN_ADDRESS"   // "unix:/path/to/runner.sock"
	EnvConfExpire    = "APISIX_CONF_EXPIRE_TIME" // seconds
)

// RunnerConfig configures RunPluginRunner.
type RunnerConfig struct {
	// ListenAddress is "unix:<socket path>". Default: $APISIX_LISTEN_ADDRESS.
	ListenAddress string
	// LogOutput gets the runner's logs. Default os.Stderr.
	LogOutput io.Writer
	// Debug logs every RPC (very verbose). Default: warnings and errors only.
	Debug bool
}

// RunPluginRunner runs apisix-go-plugin-runner v0.5.0 with the mgx-app-router plugin until
// ctx ends or the process gets SIGINT/SIGTERM. It returns an error for a bad address
// before starting, since the runner itself would exit the process.
func RunPluginRunner(ctx context.Context, cfg RunnerConfig) error {
	if cfg.ListenAddress == "" {
		cfg.ListenAddress = os.Getenv(EnvListenAddress)
	}
	sock, ok := strings.CutPrefix(cfg.ListenAddress, "unix:")
	if !ok || sock == "" {
		return fmt.Errorf("plugin runner: %s must be unix:/path/to/socket, got %q", EnvListenAddress, cfg.ListenAddress)
	}
	if st, err := os.Stat(filepath.Dir(sock)); err != nil || !st.IsDir() {
		return fmt.Errorf("plugin runner: socket directory %s does not exist", filepath.Dir(sock))
	}
	if ttl := os.Getenv(EnvConfExpire); ttl != "" {
		if n, err := strconv.Atoi(ttl); err != nil || n <= 0 {
			return fmt.Errorf("plugin runner: %s=%q is not a positive number of seconds", EnvConfExpire, ttl)
		}
	}
	if err := register(); err != nil {
		return fmt.Errorf("plugin runner: register mgx-app-router: %w", err)
	}
	// The runner reads its address from the environment only.
	if err := os.Setenv(EnvListenAddress, cfg.ListenAddress); err != nil {
		return fmt.Errorf("plugin runner: %w", err)
	}
	if cfg.LogOutput == nil {
		cfg.LogOutput = os.Stderr
	}
	level := zapcore.WarnLevel
	if cfg.Debug {
		level = zapcore.DebugLevel
	}

	// The runner stops on SIGINT/SIGTERM only. Holding our own Notify keeps those signals
	// from killing the process while we send one to stop the runner when ctx ends.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	done := make(chan struct{})
	go func() {
		defer close(done)
		runner.Run(runner.RunnerConfig{LogLevel: level, LogOutput: zapcore.AddSync(cfg.LogOutput)})
	}()
	select {
	case <-done:
		return nil // a signal stopped it
	case <-ctx.Done():
	}
	// Stop it; repeat in case it had not yet subscribed to signals.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return fmt.Errorf("plugin runner: stop: %w", err)
		}
		select {
		case <-done:
			return nil
		case <-deadline:
			return errors.New("plugin runner: did not stop within 5s")
		case <-tick.C:
		}
	}
}
