// Package redistest starts a Redis for a test: a real redis-server on a free port in a
// temp dir when one is on PATH, else (or with MGX_TEST_MINIREDIS=1) an in-process
// miniredis, which lacks XGROUP SETID and INFO server: say so in tests that need them.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is a Redis for one test.
type Server struct {
	Addr string
	// Real is true for redis-server, false for miniredis.
	Real bool

	t          testing.TB
	dir        string
	persistent bool
	cmd        *exec.Cmd
	mini       *miniredis.Miniredis
}

// Options for Start.
type Options struct {
	// Persistent keeps data across Restart (append-only file); otherwise a restart loses
	// everything, as an embedded Redis without persistence does.
	Persistent bool
}

// Start runs a Redis until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), persistent: opts.Persistent}
	if _, err := exec.LookPath("redis-server"); err != nil || os.Getenv("MGX_TEST_MINIREDIS") == "1" {
		t.Logf("redistest: using miniredis (redis-server not on PATH or MGX_TEST_MINIREDIS=1)")
		s.mini = miniredis.RunT(t)
		s.Addr = s.mini.Addr()
		return s
	}
	s.Real = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	l.Close()
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Client returns a client closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--dir", s.dir, "--save", "",
		"--daemonize", "no", "--logfile", filepath.Join(s.dir, "redis.log")}
	if s.persistent {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server on %s does not answer: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: no save on shutdown).
func (s *Server) Stop() {
	if s.mini != nil {
		s.mini.Close()
		return
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart stops the server and starts it again on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	if s.mini != nil {
		s.mini.Close()
		if !s.persistent {
			s.mini.FlushAll()
		}
		if err := s.mini.Restart(); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	s.Stop()
	s.start()
}

// StartAgain starts a stopped server.
func (s *Server) StartAgain() {
	s.t.Helper()
	if s.mini != nil {
		if err := s.mini.Restart(); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	s.start()
}

// String describes the server for logs.
func (s *Server) String() string {
	kind := "miniredis"
	if s.Real {
		kind = "redis-server"
	}
	if s.persistent {
		kind += " (persistent)"
	}
	return fmt.Sprintf("%s at %s", kind, s.Addr)
}
