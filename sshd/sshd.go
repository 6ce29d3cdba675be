// Package sshd is MGX's SSH server: `ssh -p 2222 <slug>@<host>` opens a shell in that
// app's dev environment for its owner, authenticated by MGX password (throttled) or a
// public key registered at POST /api/me/ssh-keys. Shells and exec requests run with a pty
// when asked for one, follow window resizes, and end with the command's exit status. No
// port forwarding, agent forwarding or subsystems (sftp) are offered.
package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/mgx-dev/mgx/runtime"
)

// AppOwners finds an app's owner by slug (error for an unknown app).
type AppOwners interface {
	AppOwner(ctx context.Context, slug string) (ownerID string, err error)
}

// PasswordChecker checks a platform user's MGX password (Argon2id hash in the users store).
type PasswordChecker interface {
	CheckPassword(ctx context.Context, userID, password string) (bool, error)
}

// KeyOwners finds the user a public key is registered to (*Keys satisfies it).
type KeyOwners interface {
	Owner(ctx context.Context, pub gossh.PublicKey) (userID string, err error)
}

// Shells run commands in an app's dev environment (devenv.Manager satisfies it).
type Shells interface {
	Exec(ctx context.Context, slug string, opts runtime.ExecOptions) (int, error)
}

var _ KeyOwners = (*Keys)(nil)

// Config configures the SSH server.
type Config struct {
	// Addr to listen on (MGX_SSH_ADDR); default 127.0.0.1:2222.
	Addr string
	// DataDir holds the host key, ssh_host_ed25519_key, created on first start. Required.
	DataDir   string
	Apps      AppOwners       // required
	Passwords PasswordChecker // nil: no password logins
	Keys      KeyOwners       // nil: no key logins
	Shells    Shells          // required
	// MaxFailures failed logins from one address within FailureWindow lock that address
	// out for the rest of the window; defaults 5 and 10 minutes.
	MaxFailures   int
	FailureWindow time.Duration
	// IdleTimeout closes silent connections; default 1h.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Server is the SSH server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	srv      *ssh.Server
	throttle *throttle
	hostKey  gossh.Signer
}

type principalKey struct{}

// New validates cfg and loads (or creates) the host key.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if cfg.Apps == nil {
		errs = append(errs, errors.New("Apps is required"))
	}
	if cfg.Shells == nil {
		errs = append(errs, errors.New("Shells is required"))
	}
	if cfg.Passwords == nil && cfg.Keys == nil {
		errs = append(errs, errors.New("Passwords or Keys is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sshd: %w", err)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:2222"
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 10 * time.Minute
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	signer, err := loadHostKey(filepath.Join(cfg.DataDir, "ssh_host_ed25519_key"))
	if err != nil {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, hostKey: signer, throttle: &throttle{max: cfg.MaxFailures, window: cfg.FailureWindow, fails: map[string][]time.Time{}}}
	s.srv = &ssh.Server{
		Addr:        cfg.Addr,
		Handler:     s.session,
		Version:     "MGX",
		IdleTimeout: cfg.IdleTimeout,
	}
	if cfg.Passwords != nil {
		s.srv.PasswordHandler = s.password
	}
	if cfg.Keys != nil {
		s.srv.PublicKeyHandler = s.publicKey
	}
	s.srv.AddHostKey(signer)
	return s, nil
}

// HostKey is the server's public host key (for known_hosts and tests).
func (s *Server) HostKey() gossh.PublicKey { return s.hostKey.PublicKey() }

// Run listens on Addr and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sshd: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, l)
}

// Serve serves on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.log.InfoContext(ctx, "ssh server listening", "addr", l.Addr().String(), "host_key", gossh.FingerprintSHA256(s.hostKey.PublicKey()))
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sshd: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
		_ = s.srv.Close()
		return nil
	}
}

func remoteHost(ctx ssh.Context) string {
	host, _, err := net.SplitHostPort(ctx.RemoteAddr().String())
	if err != nil {
		return ctx.RemoteAddr().String()
	}
	return host
}

// owner returns the owner of the app named by the SSH user, "" when there is none.
func (s *Server) owner(ctx ssh.Context) string {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	owner, err := s.cfg.Apps.AppOwner(lctx, ctx.User())
	if err != nil {
		return ""
	}
	return owner
}

func (s *Server) password(ctx ssh.Context, pw string) bool {
	host := remoteHost(ctx)
	if s.throttle.locked(host) {
		s.log.WarnContext(ctx, "ssh login throttled", "remote", host, "user", ctx.User())
		return false
	}
	owner := s.owner(ctx)
	ok := false
	if owner != "" {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		good, err := s.cfg.Passwords.CheckPassword(lctx, owner, pw)
		cancel()
		ok = err == nil && good
	}
	if !ok {
		s.throttle.fail(host)
		s.log.InfoContext(ctx, "ssh password refused", "remote", host, "user", ctx.User())
		return false
	}
	ctx.SetValue(principalKey{}, owner)
	return true
}

func (s *Server) publicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	host := remoteHost(ctx)
	if s.throttle.locked(host) {
		return false
	}
	owner := s.owner(ctx)
	if owner == "" {
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	user, err := s.cfg.Keys.Owner(lctx, key)
	cancel()
	// An unknown key is not a failure: clients offer several before a password.
	if err != nil || user != owner {
		return false
	}
	ctx.SetValue(principalKey{}, owner)
	return true
}

// session runs the shell or command in the dev environment.
func (s *Server) session(sess ssh.Session) {
	ctx := sess.Context()
	slug := sess.User()
	opts := runtime.ExecOptions{Stdin: sess, Stdout: sess, Stderr: sess.Stderr(), Env: map[string]string{}}
	if raw := sess.RawCommand(); raw != "" {
		opts.Command = []string{"/bin/sh", "-c", raw}
	} else {
		opts.Command = []string{"/bin/sh", "-c", `if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi`}
	}
	pty, winCh, isPty := sess.Pty()
	if isPty {
		opts.TTY = true
		opts.Size = runtime.TermSize{Rows: uint16(pty.Window.Height), Cols: uint16(pty.Window.Width)}
		if pty.Term != "" {
			opts.Env["TERM"] = pty.Term
		}
		resize := make(chan runtime.TermSize, 4)
		go func() {
			defer close(resize)
			for w := range winCh {
				select {
				case resize <- runtime.TermSize{Rows: uint16(w.Height), Cols: uint16(w.Width)}:
				case <-ctx.Done():
					return
				}
			}
		}()
		opts.Resize = resize
	}
	s.log.InfoContext(ctx, "ssh session", "app", slug, "user", ctx.Value(principalKey{}), "remote", sess.RemoteAddr().String(), "pty", isPty, "exec", sess.RawCommand() != "")
	code, err := s.cfg.Shells.Exec(ctx, slug, opts)
	if err != nil {
		s.log.WarnContext(ctx, "ssh session failed", "app", slug, "err", err)
		fmt.Fprintf(sess.Stderr(), "mgx: cannot open a shell in the dev environment of %s: %v\r\n", slug, err)
		_ = sess.Exit(255)
		return
	}
	_ = sess.Exit(code)
}

// loadHostKey reads the host key, creating an ed25519 key on first use.
func loadHostKey(path string) (gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		block, err := gossh.MarshalPrivateKey(priv, "mgx host key")
		if err != nil {
			return nil, err
		}
		b = pem.EncodeToMemory(block)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return gossh.ParsePrivateKey(b)
}

// throttle counts failed logins per remote address in a sliding window.
type throttle struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

func (t *throttle) prune(host string, now time.Time) []time.Time {
	fs := t.fails[host]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) > t.window {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.fails, host)
	} else {
		t.fails[host] = fs
	}
	return fs
}

func (t *throttle) locked(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.prune(host, time.Now())) >= t.max
}

func (t *throttle) fail(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.fails[host] = append(t.prune(host, now), now)
	if len(t.fails) > 100000 { // bound memory under a spray of addresses
		for h := range t.fails {
			delete(t.fails, h)
			break
		}
	}
}
