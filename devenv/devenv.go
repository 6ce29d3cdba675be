// Package devenv runs each app's development environment: for every service of the app's
// mgx.json it installs dependencies, runs the dev server under /dev/<slug>/ through the
// container runtime, restarts it on a crash with capped exponential backoff, re-installs
// when a watched dependency file changes, keeps the console output, stops the environment
// when idle and wakes it on the next preview request. Handles are persisted in
// <data-dir>/devenv/state.json, so a restarted MGX re-attaches to running dev servers.
package devenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/templates"
)

// ErrNotFound: no such app.
var ErrNotFound = errors.New("devenv: app not found")

// App is what the dev environment needs to know about an app.
type App struct {
	Slug    string
	OwnerID string
	// Dir is the app's workspace on the host, mounted at /workspace.
	Dir string
	// Env is the app env of DESIGN.md that MGX gives every app container except PORT,
	// BASE_PATH and PUBLIC_URL, which devenv sets: MGX_OAUTH_ISSUER, MGX_OAUTH_CLIENT_ID,
	// MGX_OAUTH_CLIENT_SECRET, MONGODB_URL, MONGODB_DB, OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_SERVICE_NAME. With the docker driver, loopback hosts in values
	// (127.0.0.1, localhost) are rewritten to host.docker.internal.
	Env map[string]string
}

// AppSource looks apps up; the core implements it over the apps store and workspaces.
// Unknown apps are an error wrapping ErrNotFound (or store.ErrNotFound).
type AppSource interface {
	DevApp(ctx context.Context, slug string) (*App, error)
}

// Config configures the dev environments.
type Config struct {
	// Driver runs the dev servers. Required.
	Driver runtime.Driver
	// Apps looks up apps. Required.
	Apps AppSource
	// DataDir is MGX's data directory; devenv keeps devenv/state.json, consoles and
	// package caches there. Required.
	DataDir string
	// PublicURL is MGX's public URL, for PUBLIC_URL (<public-url>/dev/<slug>). Required.
	PublicURL string
	// ImageNode and ImagePythonNode are the dev images (docker); defaults mgx/node:22 and
	// mgx/python-node:22 (deploy/images/build.sh). Production hosts may use
	// node:22-bookworm and python:3.12-bookworm (MGX_IMAGE_NODE, MGX_IMAGE_PYTHON_NODE).
	ImageNode, ImagePythonNode string
	// User runs dev containers (docker); default "1000:1000". Workspace files must be
	// writable by it (workspace.Config.OwnerUID/GID).
	User string
	// Resources limit each dev container; default 2 GiB, 2 CPUs, 1024 pids.
	Resources runtime.Resources
	// CABundle is a host CA file every container must trust (MGX_EXTRA_CA_BUNDLE): mounted
	// read-only and named by NODE_EXTRA_CA_CERTS, PIP_CERT, SSL_CERT_FILE, REQUESTS_CA_BUNDLE.
	CABundle string
	// IdleTimeout stops an environment nobody used for that long; default 30m.
	IdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the restart delay after a crash; default 1s and 1m.
	// A server that ran for RunStable (default 1m) starts again from BackoffMin.
	BackoffMin, BackoffMax, RunStable time.Duration
	// WatchInterval is how often watched dependency files are checked; default 2s.
	WatchInterval time.Duration
	// StopTimeout is the grace period of a stopping dev server; default 10s.
	StopTimeout time.Duration
	// Scrollback is the console bytes kept in memory per app; default 256 KiB.
	Scrollback int
	// NamePrefix starts every workload name, "<prefix>-<slug>-<service>", and is the
	// label mgx.instance; default "mgx-dev". MGX instances sharing a Docker host need
	// different prefixes.
	NamePrefix string
	// Logger; default discards.
	Logger *slog.Logger
}

// The app-level and service-level states reported by Status.
const (
	StateStopped    = "stopped"
	StateInstalling = "installing"
	StateStarting   = "starting"
	StateRunning    = "running"
	StateCrashed    = "crashed"
	StateIdle       = "idle"
)

// containerPort is where every dev server listens inside its container ($PORT).
const containerPort = 3000

// Manager runs the dev environments of all apps.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	envs     map[string]*env
	persist  map[string]*persistedEnv // what state.json holds
	idle     map[string]bool          // apps stopped for idleness (reported as "idle")
	stopping map[string]chan struct{} // apps being stopped, closed when done
	failed   map[string]string        // why an app's environment cannot start (bad mgx.json)
	saveMu   sync.Mutex
}

// New validates cfg and returns a Manager; call Run for recovery and idle stops.
func New(cfg Config) (*Manager, error) {
	var errs []error
	if cfg.Driver == nil {
		errs = append(errs, errors.New("Driver is required"))
	}
	if cfg.Apps == nil {
		errs = append(errs, errors.New("Apps is required"))
	}
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if cfg.PublicURL == "" {
		errs = append(errs, errors.New("PublicURL is required"))
	}
	if cfg.CABundle != "" {
		if _, err := os.Stat(cfg.CABundle); err != nil {
			errs = append(errs, fmt.Errorf("CABundle: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.IdleTimeout, 30*time.Minute)
	def(&cfg.BackoffMin, time.Second)
	def(&cfg.BackoffMax, time.Minute)
	def(&cfg.RunStable, time.Minute)
	def(&cfg.WatchInterval, 2*time.Second)
	def(&cfg.StopTimeout, 10*time.Second)
	if cfg.ImageNode == "" {
		cfg.ImageNode = "mgx/node:22"
	}
	if cfg.ImagePythonNode == "" {
		cfg.ImagePythonNode = "mgx/python-node:22"
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "mgx-dev"
	}
	if cfg.User == "" {
		cfg.User = "1000:1000"
	}
	if cfg.Resources == (runtime.Resources{}) {
		cfg.Resources = runtime.Resources{MemoryBytes: 2 << 30, CPUs: 2, Pids: 1024}
	}
	if cfg.Scrollback <= 0 {
		cfg.Scrollback = 256 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "devenv", "consoles"), 0o700); err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, envs: map[string]*env{}, persist: map[string]*persistedEnv{}, idle: map[string]bool{}, stopping: map[string]chan struct{}{}, failed: map[string]string{}}
	if err := m.load(); err != nil {
		return nil, err
	}
	return m, nil
}

// persistedEnv is one app's entry in state.json.
type persistedEnv struct {
	Active     bool                         `json:"active"` // should be running
	LastActive time.Time                    `json:"last_active"`
	Services   map[string]*persistedService `json:"services,omitempty"`
	Shell      *runtime.Handle              `json:"shell,omitempty"`
}

type persistedService struct {
	Handle    *runtime.Handle `json:"handle,omitempty"`
	Installed string          `json:"installed,omitempty"` // hash of the watch files at the last good install
}

func (m *Manager) statePath() string { return filepath.Join(m.cfg.DataDir, "devenv", "state.json") }

func (m *Manager) load() error {
	b, err := os.ReadFile(m.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("devenv: %w", err)
	}
	var st struct {
		Apps map[string]*persistedEnv `json:"apps"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("devenv: %s: %w", m.statePath(), err)
	}
	if st.Apps != nil {
		m.persist = st.Apps
	}
	return nil
}

// save writes state.json atomically. Callers hold no env lock.
func (m *Manager) save() {
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	b, err := json.MarshalIndent(map[string]any{"apps": m.persist}, "", "  ")
	m.mu.Unlock()
	if err != nil {
		m.log.Error("devenv: encode state", "err", err)
		return
	}
	tmp := m.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		err = os.Rename(tmp, m.statePath())
	}
	if err != nil {
		m.log.Error("devenv: save state", "err", err)
	}
}

// updatePersist changes an app's persisted entry under the lock, then saves.
func (m *Manager) updatePersist(slug string, fn func(p *persistedEnv)) {
	m.mu.Lock()
	p := m.persist[slug]
	if p == nil {
		p = &persistedEnv{Services: map[string]*persistedService{}}
		m.persist[slug] = p
	}
	if p.Services == nil {
		p.Services = map[string]*persistedService{}
	}
	fn(p)
	m.mu.Unlock()
	m.save()
}

// Run recovers the environments that were running before a restart, stops idle ones, and
// blocks until ctx ends. Then it detaches from the dev servers without stopping them, so
// the next MGX re-attaches.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	var active []string
	for slug, p := range m.persist {
		if p.Active {
			active = append(active, slug)
		}
	}
	m.mu.Unlock()
	for _, slug := range active {
		if _, err := m.start(ctx, slug); err != nil {
			m.log.WarnContext(ctx, "devenv: recover", "slug", slug, "err", err)
		}
	}
	t := time.NewTicker(min(m.cfg.IdleTimeout/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			envs := slices.Collect(maps.Values(m.envs))
			m.mu.Unlock()
			for _, e := range envs {
				e.cancel(errDetach)
			}
			for _, e := range envs {
				e.wg.Wait()
			}
			return nil
		case <-t.C:
			m.reapIdle(ctx)
		}
	}
}

func (m *Manager) reapIdle(ctx context.Context) {
	m.mu.Lock()
	var idle []*env
	for _, e := range m.envs {
		if e.lastActive().Before(time.Now().Add(-m.cfg.IdleTimeout)) && !e.awaited() {
			idle = append(idle, e)
		}
	}
	m.mu.Unlock()
	for _, e := range idle {
		m.log.InfoContext(ctx, "devenv: idle, stopping", "slug", e.slug)
		m.stop(ctx, e.slug, true)
	}
}

var (
	errDetach = errors.New("detach") // MGX shuts down: leave the dev servers running
	errStop   = errors.New("stop")   // stop the dev servers
	errBusy   = errors.New("the environment is stopping; try again")
)

// Ensure starts the app's dev environment if it is not running and waits until every
// service answers, ctx ends, or a service crashes. The gateway calls it when Upstream has
// no address (wake on the next preview request).
func (m *Manager) Ensure(ctx context.Context, slug string) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var waiting *env // a waiting request keeps the idle reaper away
	defer func() {
		if waiting != nil {
			waiting.wait(-1)
		}
	}()
	for {
		e, err := m.start(ctx, slug) // again when it was stopped meanwhile
		if err != nil {
			return err
		}
		if e != waiting {
			if waiting != nil {
				waiting.wait(-1)
			}
			e.wait(1)
			waiting = e
		}
		e.touch() // a waiting request is activity
		st := e.status()
		switch st.State {
		case StateRunning:
			return nil
		case StateCrashed:
			return fmt.Errorf("devenv %s: %s", slug, st.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devenv %s: %s: %w", slug, st.State, ctx.Err())
		case <-e.changed():
		case <-tick.C:
		}
	}
}

// Start starts the app's dev environment without waiting.
func (m *Manager) Start(ctx context.Context, slug string) error {
	e, err := m.start(ctx, slug)
	if err == nil {
		e.touch()
	}
	return err
}

func (m *Manager) start(ctx context.Context, slug string) (*env, error) {
	for {
		m.mu.Lock()
		if e, ok := m.envs[slug]; ok {
			m.mu.Unlock()
			return e, nil
		}
		stopping := m.stopping[slug]
		m.mu.Unlock()
		if stopping == nil {
			break
		}
		select {
		case <-stopping:
		case <-ctx.Done():
			return nil, fmt.Errorf("devenv %s: stopping: %w", slug, ctx.Err())
		}
	}
	app, err := m.cfg.Apps.DevApp(ctx, slug)
	if err != nil {
		return nil, fmt.Errorf("devenv %s: %w", slug, err)
	}
	man, err := templates.LoadManifest(app.Dir)
	m.mu.Lock()
	if err != nil {
		m.failed[slug] = err.Error() // reported by Status until a start succeeds
	} else {
		delete(m.failed, slug)
	}
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("devenv %s: %w", slug, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.envs[slug]; ok { // lost a race with another caller
		return e, nil
	}
	if m.stopping[slug] != nil {
		return nil, fmt.Errorf("devenv %s: %w", slug, errBusy)
	}
	delete(m.idle, slug)
	var prev *persistedEnv
	if p := m.persist[slug]; p != nil {
		prev = p
	}
	e := newEnv(m, app, man, prev)
	m.envs[slug] = e
	if m.persist[slug] == nil {
		m.persist[slug] = &persistedEnv{Services: map[string]*persistedService{}}
	}
	m.persist[slug].Active = true
	m.persist[slug].LastActive = time.Now().UTC()
	go m.save()
	e.run()
	return e, nil
}

// Stop stops the app's dev environment (its servers and shell) and forgets it.
func (m *Manager) Stop(ctx context.Context, slug string) error {
	m.stop(ctx, slug, false)
	return nil
}

func (m *Manager) stop(ctx context.Context, slug string, idle bool) {
	m.mu.Lock()
	e, ok := m.envs[slug]
	delete(m.envs, slug)
	done := make(chan struct{})
	if ok {
		// A start meanwhile waits until the servers are gone and the state forgets them.
		m.stopping[slug] = done
	}
	m.mu.Unlock()
	defer func() {
		if ok {
			m.mu.Lock()
			delete(m.stopping, slug)
			m.mu.Unlock()
			close(done)
		}
	}()
	if ok {
		e.cancel(errStop)
		e.wg.Wait()
		e.stopShell(context.WithoutCancel(ctx))
		msg := "environment stopped"
		if idle {
			msg += " (idle)"
		}
		e.console.Write([]byte(statusLine(msg)))
		e.console.close()
	}
	m.updatePersist(slug, func(p *persistedEnv) {
		p.Active = false
		p.Shell = nil
		for _, s := range p.Services {
			s.Handle = nil
		}
	})
	m.mu.Lock()
	if idle {
		m.idle[slug] = true
	} else {
		delete(m.idle, slug)
	}
	m.mu.Unlock()
}

// restart stops the environment and starts it again (a new mgx.json).
func (m *Manager) restart(slug string) {
	ctx := context.Background()
	m.stop(ctx, slug, false)
	if _, err := m.start(ctx, slug); err != nil {
		m.log.WarnContext(ctx, "devenv: restart", "slug", slug, "err", err)
	}
}

// Upstream says where the gateway sends a preview request: p is the path after
// /dev/<slug> ("/api/items"); strip says whether to remove /dev/<slug> first. ok is false
// when the environment is not running (call Ensure). It counts as activity.
func (m *Manager) Upstream(slug, p string) (addr string, strip bool, ok bool) {
	m.mu.Lock()
	e := m.envs[slug]
	m.mu.Unlock()
	if e == nil {
		return "", false, false
	}
	e.touch()
	if p == "" {
		p = "/"
	}
	svc, found := e.manifest.ServiceFor(p)
	if !found {
		return "", false, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.services[svc.Name]
	if s == nil || s.state != StateRunning || s.addr == "" {
		return "", false, false
	}
	return s.addr, svc.StripPrefix, true
}

// Console returns the app's console, starting nothing; nil when the app never ran since
// MGX started and has no console file.
func (m *Manager) Console(slug string) *Console {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.envs[slug]; e != nil {
		e.touch()
		return e.console
	}
	return nil
}

// Status is an app's dev environment as GET /api/apps/{slug} shows it.
type Status struct {
	State    string          `json:"state"`
	Message  string          `json:"message,omitempty"`
	URL      string          `json:"url"` // the preview: <public-url>/dev/<slug>/
	Services []ServiceStatus `json:"services,omitempty"`
	// LastActive is the last preview request, console or shell use.
	LastActive time.Time `json:"last_active,omitzero"`
}

// ServiceStatus is one service of the environment.
type ServiceStatus struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Route    string `json:"route"`
	Upstream string `json:"upstream,omitempty"` // 127.0.0.1:H
	Message  string `json:"message,omitempty"`
	Restarts int    `json:"restarts"`
	ExitCode *int   `json:"exit_code,omitempty"`
	// RetryAt is when a crashed service starts again.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// Status reports the app's environment; an app that is not running is "stopped" or "idle".
func (m *Manager) Status(slug string) Status {
	m.mu.Lock()
	e := m.envs[slug]
	m.mu.Unlock()
	if e != nil {
		return e.status()
	}
	m.mu.Lock()
	idle, failed := m.idle[slug], m.failed[slug]
	m.mu.Unlock()
	st := Status{State: StateStopped, URL: m.previewURL(slug)}
	if failed != "" {
		st.State, st.Message = StateCrashed, failed
	} else if idle {
		st.State = StateIdle
		st.Message = "stopped after being idle; the next preview request starts it"
	}
	return st
}

// DevStatus implements apps.StatusProvider.
func (m *Manager) DevStatus(ctx context.Context, slug string) (any, error) {
	return m.Status(slug), nil
}

func (m *Manager) previewURL(slug string) string {
	return m.cfg.PublicURL + basePath(slug) + "/"
}

func basePath(slug string) string { return "/dev/" + slug }

// Exec runs a command in the app's dev environment, in a shell workload beside the dev
// servers (it works while a server crashes): the SSH server's shells and exec requests.
// Dir defaults to /workspace.
func (m *Manager) Exec(ctx context.Context, slug string, opts runtime.ExecOptions) (int, error) {
	e, err := m.start(ctx, slug)
	if err != nil {
		return -1, err
	}
	e.touch()
	h, err := e.shell(ctx)
	if err != nil {
		return -1, err
	}
	if opts.Dir == "" {
		opts.Dir = "/workspace"
	}
	stopTouch := make(chan struct{})
	defer close(stopTouch)
	go func() { // an open shell keeps the environment awake
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-stopTouch:
				return
			case <-t.C:
				e.touch()
			}
		}
	}()
	return m.cfg.Driver.Exec(ctx, h, opts)
}

// imageFor picks the dev image of a service: Python + Node when it runs Python.
func (m *Manager) imageFor(app *App, svc *templates.Service) string {
	for _, cmd := range [][]string{svc.Install, svc.Dev} {
		if len(cmd) > 0 {
			b := path.Base(cmd[0])
			if strings.HasPrefix(b, "python") || b == "pip" || b == "pip3" || b == "uvicorn" || strings.Contains(cmd[0], ".venv/") {
				return m.cfg.ImagePythonNode
			}
		}
	}
	for _, f := range []string{"requirements.txt", "pyproject.toml"} {
		if _, err := os.Stat(filepath.Join(app.Dir, svc.Dir, f)); err == nil {
			return m.cfg.ImagePythonNode
		}
	}
	return m.cfg.ImageNode
}

// spec builds the workload of a service (install or dev) or the shell.
func (m *Manager) spec(app *App, svc *templates.Service, role string, cmd []string) runtime.Spec {
	docker := m.cfg.Driver.Name() == "docker"
	env := map[string]string{}
	for k, v := range app.Env {
		if docker {
			v = rewriteLoopback(v)
		}
		env[k] = v
	}
	env["BASE_PATH"] = basePath(app.Slug)
	env["PUBLIC_URL"] = m.cfg.PublicURL + basePath(app.Slug)
	env["PORT"] = fmt.Sprint(containerPort) // the process driver replaces it with the host port
	if svc != nil {
		// The dev servers only: in the shell (SSH, console, agents' commands) a
		// `next build` under NODE_ENV=development fails.
		env["NODE_ENV"] = "development"
	}
	env["NEXT_TELEMETRY_DISABLED"] = "1"
	if env["OTEL_SERVICE_NAME"] == "" {
		env["OTEL_SERVICE_NAME"] = app.Slug
	}
	// One package cache for every app: npm and pip check what they take from it against
	// the lockfile's integrity hashes, and a shared cache turns a new app's install from
	// minutes of downloads into a copy.
	cache := filepath.Join(m.cfg.DataDir, "devenv", "cache")
	_ = os.MkdirAll(cache, 0o755)
	spec := runtime.Spec{
		Name:    fmt.Sprintf("%s-%s-%s", m.cfg.NamePrefix, app.Slug, role),
		Command: cmd,
		Dir:     "/workspace",
		Env:     env,
		Mounts:  []runtime.Mount{{Source: app.Dir, Target: "/workspace"}},
		Labels:  map[string]string{"mgx.app": app.Slug, "mgx.role": "dev", "mgx.service": role, "mgx.instance": m.cfg.NamePrefix},
	}
	if svc != nil {
		spec.Dir = path.Join("/workspace", svc.Dir)
		spec.Image = m.imageFor(app, svc)
	} else {
		spec.Image = m.cfg.ImagePythonNode
	}
	if docker {
		env["HOST"] = "0.0.0.0" // reachable through the published port
		env["HOME"] = "/tmp"
		env["npm_config_cache"] = "/cache/npm"
		env["PIP_CACHE_DIR"] = "/cache/pip"
		spec.Mounts = append(spec.Mounts, runtime.Mount{Source: cache, Target: "/cache"})
		spec.User = m.cfg.User
		spec.Resources = m.cfg.Resources
		if uid, gid, ok := parseUser(m.cfg.User); ok && os.Geteuid() == 0 {
			_ = os.Chown(cache, uid, gid)
		}
	} else {
		env["HOST"] = "127.0.0.1"
		env["npm_config_cache"] = filepath.Join(cache, "npm")
		env["PIP_CACHE_DIR"] = filepath.Join(cache, "pip")
	}
	if m.cfg.CABundle != "" {
		ca := m.cfg.CABundle
		if docker {
			ca = "/etc/ssl/certs/mgx-extra-ca.pem"
			spec.Mounts = append(spec.Mounts, runtime.Mount{Source: m.cfg.CABundle, Target: ca, ReadOnly: true})
		}
		for _, k := range []string{"NODE_EXTRA_CA_CERTS", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"} {
			env[k] = ca
		}
	}
	if svc != nil && role == svc.Name {
		spec.Ports = []int{containerPort}
	}
	return spec
}

func parseUser(u string) (int, int, bool) {
	var uid, gid int
	if _, err := fmt.Sscanf(u, "%d:%d", &uid, &gid); err != nil {
		return 0, 0, false
	}
	return uid, gid, true
}

// rewriteLoopback points URLs at the host's loopback to the Docker host gateway.
func rewriteLoopback(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return v
	}
	host := u.Hostname()
	if host != "127.0.0.1" && host != "localhost" && host != "::1" {
		return v
	}
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort("host.docker.internal", p)
	} else {
		u.Host = "host.docker.internal"
	}
	return u.String()
}

// watchHash is a digest of a service's watched dependency files ("" when none).
func watchHash(app *App, svc *templates.Service) string {
	if len(svc.Watch) == 0 {
		return ""
	}
	h := sha256.New()
	root, err := os.OpenRoot(filepath.Join(app.Dir, svc.Dir))
	if err != nil {
		return "unreadable"
	}
	defer root.Close()
	for _, w := range svc.Watch {
		fmt.Fprintf(h, "%s\x00", w)
		if b, err := root.ReadFile(w); err == nil {
			h.Write(b)
		} else {
			h.Write([]byte("\x00missing"))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func statusLine(msg string) string {
	return "\x1b[36m[mgx] " + msg + "\x1b[0m\r\n"
}

// InstallLockFile is the lock that dependency installs in a service's folder take, so
// the dev environment's install and an agent's never run in one node_modules or .venv
// at once (both sides use WithInstallLock).
const InstallLockFile = ".mgx-install.lock"

// WithInstallLock runs argv holding an exclusive lock on InstallLockFile in the working
// directory, waiting up to 30 minutes for another install to finish.
func WithInstallLock(argv []string) []string {
	if len(argv) == 0 {
		return argv
	}
	return append([]string{"flock", "-w", "1800", InstallLockFile}, argv...)
}
