package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Redis is an embedded Redis: a redis-server child, or in-process miniredis when
// redis-server is not on PATH.
type Redis struct {
	URL  string
	Kind string // "redis-server" or "in-process (miniredis)"

	cmd  *exec.Cmd
	done chan error
	mini *miniredis.Miniredis
}

// StartRedis starts redis-server (when on PATH) with its files under dir on addr
// ("127.0.0.1:0" picks a free port), or miniredis otherwise.
func StartRedis(ctx context.Context, dir, addr string, log *slog.Logger) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return startMini(addr)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded Redis: create %s: %w", dir, err)
	}
	host, port, err := freeAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded Redis: listen on %s: %w", addr, err)
	}
	abs, _ := filepath.Abs(dir)
	// The child is not tied to ctx: Close stops it with SIGTERM so it can save.
	cmd := exec.Command(bin,
		"--bind", host, "--port", strconv.Itoa(port),
		"--dir", abs, "--appendonly", "yes", "--appendfsync", "everysec",
		"--save", "60 1", "--protected-mode", "no", "--daemonize", "no",
		"--logfile", filepath.Join(abs, "redis.log"))
	// A process group of its own, so a Ctrl-C in the terminal reaches MGX first and
	// MGX decides when Redis stops (after the last write).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("embedded Redis: start %s: %w", bin, err)
	}
	r := &Redis{
		URL:  fmt.Sprintf("redis://%s", net.JoinHostPort(host, strconv.Itoa(port))),
		Kind: "redis-server",
		cmd:  cmd,
		done: make(chan error, 1),
	}
	go func() { r.done <- cmd.Wait() }()
	if err := r.waitReady(ctx, 10*time.Second); err != nil {
		r.Close()
		return nil, fmt.Errorf("embedded Redis: %w (see %s)", err, filepath.Join(abs, "redis.log"))
	}
	log.DebugContext(ctx, "redis-server started", "pid", cmd.Process.Pid, "url", r.URL)
	return r, nil
}

func startMini(addr string) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("embedded Redis (in-process): listen on %s: %w", addr, err)
	}
	return &Redis{URL: "redis://" + m.Addr(), Kind: "in-process (miniredis; not persistent)", mini: m}, nil
}

func (r *Redis) waitReady(ctx context.Context, within time.Duration) error {
	opt, _ := redis.ParseURL(r.URL)
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(within)
	for {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("redis-server exited: %v", err)
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %s: %w", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops Redis; redis-server gets SIGTERM (it writes its files) and then SIGKILL
// after 10 seconds.
func (r *Redis) Close() {
	if r.mini != nil {
		r.mini.Close()
		return
	}
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// freeAddr resolves a host:port, choosing a free port when the port is 0.
func freeAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if portStr != "0" && strconv.Itoa(port) != portStr {
		return "", 0, errors.New("port mismatch")
	}
	return host, port, nil
}
