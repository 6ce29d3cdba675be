package devenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/templates"
)

// env is one app's running dev environment.
type env struct {
	m        *Manager
	slug     string
	app      *App
	manifest *templates.Manifest
	console  *Console
	cancel   context.CancelCauseFunc
	wg       sync.WaitGroup

	mu       sync.Mutex
	services map[string]*service
	order    []string
	active   time.Time
	saved    time.Time // when active was last persisted
	notify   chan struct{}
	waiters  int // Ensure calls waiting for this environment

	shellMu sync.Mutex
	shellH  *runtime.Handle
}

// service is one supervised service; its fields are guarded by env.mu.
type service struct {
	def       templates.Service
	state     string
	message   string
	addr      string
	restarts  int
	exitCode  *int
	retryAt   time.Time
	handle    *runtime.Handle
	installed string
	reinstall chan struct{}
}

func newEnv(m *Manager, app *App, man *templates.Manifest, prev *persistedEnv) *env {
	e := &env{
		m: m, slug: app.Slug, app: app, manifest: man,
		console:  newConsole(filepath.Join(m.cfg.DataDir, "devenv", "consoles", app.Slug+".log"), m.cfg.Scrollback, 4<<20),
		services: map[string]*service{},
		active:   time.Now(),
		notify:   make(chan struct{}),
	}
	for _, def := range man.Services {
		s := &service{def: def, state: StateStopped, reinstall: make(chan struct{}, 1)}
		if prev != nil && prev.Services[def.Name] != nil {
			s.handle = cloneHandle(prev.Services[def.Name].Handle)
			s.installed = prev.Services[def.Name].Installed
		}
		e.services[def.Name] = s
		e.order = append(e.order, def.Name)
	}
	if prev != nil {
		e.shellH = cloneHandle(prev.Shell)
		if !prev.LastActive.IsZero() && prev.LastActive.Before(e.active) {
			e.active = prev.LastActive // idleness goes on counting across an MGX restart
		}
	}
	return e
}

func (e *env) run() {
	// Supervisors outlive the request that started them; Run or Stop cancel them with a
	// cause saying whether to stop the servers or leave them for the next MGX.
	ctx, cancel := context.WithCancelCause(context.Background())
	e.cancel = cancel
	e.console.Write([]byte(statusLine("starting the dev environment of " + e.slug)))
	for _, name := range e.order {
		e.wg.Add(1)
		go e.supervise(ctx, e.services[name])
	}
	e.wg.Add(1)
	go e.watch(ctx)
}

func (e *env) touch() {
	e.mu.Lock()
	e.active = time.Now()
	persist := time.Since(e.saved) > time.Minute
	if persist {
		e.saved = e.active
	}
	e.mu.Unlock()
	if persist {
		e.m.updatePersist(e.slug, func(p *persistedEnv) { p.LastActive = time.Now().UTC() })
	}
}

func (e *env) wait(delta int) {
	e.mu.Lock()
	e.waiters += delta
	e.mu.Unlock()
}

func (e *env) awaited() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.waiters > 0
}

func (e *env) lastActive() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active
}

// changed returns a channel closed at the next state change.
func (e *env) changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notify
}

// set changes a service's state under the lock and wakes waiters.
func (e *env) set(s *service, fn func(s *service)) {
	e.mu.Lock()
	fn(s)
	close(e.notify)
	e.notify = make(chan struct{})
	e.mu.Unlock()
}

func (e *env) setHandle(s *service, h *runtime.Handle, installed string) {
	e.set(s, func(s *service) {
		s.handle = h
		s.installed = installed
		s.addr = ""
		if h != nil {
			s.addr = h.Addr(containerPort)
		}
	})
	e.m.updatePersist(e.slug, func(p *persistedEnv) {
		p.Services[s.def.Name] = &persistedService{Handle: cloneHandle(h), Installed: installed}
	})
}

// cloneHandle copies h: drivers update a handle in place (Recover refreshes its ports),
// so the persisted state keeps its own copy.
func cloneHandle(h *runtime.Handle) *runtime.Handle {
	if h == nil {
		return nil
	}
	c := *h
	c.Ports = slices.Clone(h.Ports)
	c.Labels = maps.Clone(h.Labels)
	c.State = slices.Clone(h.State)
	return &c
}

func (e *env) status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{URL: e.m.previewURL(e.slug), LastActive: e.active}
	counts := map[string]int{}
	for _, name := range e.order {
		s := e.services[name]
		counts[s.state]++
		ss := ServiceStatus{Name: name, State: s.state, Route: s.def.Route, Message: s.message, Restarts: s.restarts, ExitCode: s.exitCode, RetryAt: s.retryAt}
		if s.state == StateRunning {
			ss.Upstream = s.addr
		}
		if s.state == StateCrashed && st.Message == "" {
			st.Message = name + ": " + s.message
		}
		st.Services = append(st.Services, ss)
	}
	switch {
	case counts[StateCrashed] > 0:
		st.State = StateCrashed
	case counts[StateInstalling] > 0:
		st.State = StateInstalling
	case counts[StateStarting] > 0:
		st.State = StateStarting
	case counts[StateRunning] == len(e.order):
		st.State = StateRunning
	case counts[StateStopped] == len(e.order):
		st.State = StateStopped
	default:
		st.State = StateStarting
	}
	return st
}

// sleep waits d, or less when a reinstall is asked for; false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// supervise keeps one service running: install when needed, start, probe, restart on
// exit with backoff, re-install on dependency changes.
func (e *env) supervise(ctx context.Context, s *service) {
	defer e.wg.Done()
	cfg := e.m.cfg
	drv := cfg.Driver
	backoff := cfg.BackoffMin
	prefix := ""
	if len(e.order) > 1 {
		prefix = "[" + s.def.Name + "] "
	}
	out := io.Writer(e.console)
	if prefix != "" {
		out = &prefixWriter{w: e.console, prefix: []byte(prefix)}
	}
	crash := func(msg string, code *int) bool {
		e.console.Write([]byte(statusLine(fmt.Sprintf("%s: %s; retrying in %s", s.def.Name, msg, backoff.Round(100*time.Millisecond)))))
		e.set(s, func(s *service) {
			s.state, s.message, s.exitCode, s.addr = StateCrashed, msg, code, ""
			s.restarts++
			s.retryAt = time.Now().Add(backoff).UTC()
		})
		ok := sleep(ctx, backoff, s.reinstall)
		backoff = min(backoff*2, cfg.BackoffMax)
		return ok
	}

	for {
		if ctx.Err() != nil {
			e.finish(ctx, s)
			return
		}
		e.mu.Lock()
		h, installed := s.handle, s.installed
		e.mu.Unlock()
		recovered := false
		if h != nil {
			st, err := runtime.Status{}, drv.Recover(ctx, h)
			if err == nil {
				st, err = drv.Inspect(ctx, h)
			}
			if err == nil && st.State == runtime.StateRunning {
				recovered = true
				e.setHandle(s, h, installed) // Recover refreshed the ports
				e.console.Write([]byte(statusLine(s.def.Name + ": re-attached to the running dev server")))
			} else {
				_ = drv.Remove(context.WithoutCancel(ctx), h)
				h = nil
				e.setHandle(s, nil, installed)
			}
		}
		if h == nil {
			cur := watchHash(e.app, &s.def)
			if len(s.def.Install) > 0 && (installed == "" || installed != cur) {
				e.set(s, func(s *service) { s.state, s.message, s.retryAt = StateInstalling, "", time.Time{} })
				e.console.Write([]byte(statusLine(fmt.Sprintf("%s: installing: %v", s.def.Name, s.def.Install))))
				code, err := e.install(ctx, s, out)
				if ctx.Err() != nil {
					e.finish(ctx, s)
					return
				}
				if err != nil || code != 0 {
					msg := fmt.Sprintf("install failed with exit code %d", code)
					if err != nil {
						msg = "install failed: " + err.Error()
					}
					if !crash(msg, &code) {
						e.finish(ctx, s)
						return
					}
					continue
				}
				installed = cur
				if installed == "" {
					installed = "installed"
				}
			}
			e.set(s, func(s *service) { s.state, s.message, s.retryAt = StateStarting, "", time.Time{} })
			e.console.Write([]byte(statusLine(fmt.Sprintf("%s: starting: %v", s.def.Name, s.def.Dev))))
			var err error
			h, err = e.startWorkload(ctx, e.m.spec(e.app, &s.def, s.def.Name, s.def.Dev))
			if err != nil {
				if ctx.Err() != nil {
					e.finish(ctx, s)
					return
				}
				if !crash("start failed: "+err.Error(), nil) {
					e.finish(ctx, s)
					return
				}
				continue
			}
			e.setHandle(s, h, installed)
		} else {
			e.set(s, func(s *service) { s.state = StateStarting })
		}

		started := time.Now()
		runCtx, stopRun := context.WithCancel(ctx)
		go func() {
			opts := runtime.LogOptions{Follow: true}
			if recovered {
				opts.Since = time.Now()
			}
			rc, err := drv.Logs(runCtx, h, opts)
			if err != nil {
				return
			}
			defer rc.Close()
			go func() { <-runCtx.Done(); rc.Close() }()
			_, _ = io.Copy(out, rc)
		}()
		exited := make(chan runtime.ExitResult, 1)
		go func() {
			res, err := drv.Wait(runCtx, h)
			if err != nil {
				if runCtx.Err() != nil {
					return
				}
				res.ExitCode = -1
			}
			exited <- res
		}()
		answering := make(chan struct{})
		go e.probe(runCtx, s, h.Addr(containerPort), answering)

	running:
		for {
			select {
			case <-answering:
				answering = nil
				e.set(s, func(s *service) { s.state, s.message, s.exitCode = StateRunning, "", nil })
				e.console.Write([]byte(statusLine(fmt.Sprintf("%s: ready at %s", s.def.Name, e.m.previewURL(e.slug)))))
			case res := <-exited:
				stopRun()
				_ = drv.Remove(context.WithoutCancel(ctx), h)
				e.setHandle(s, nil, installed)
				if time.Since(started) >= cfg.RunStable {
					backoff = cfg.BackoffMin
				}
				code := res.ExitCode
				msg := fmt.Sprintf("dev server exited with code %d", code)
				if res.OOMKilled {
					msg += " (out of memory)"
				}
				if !crash(msg, &code) {
					e.finish(ctx, s)
					return
				}
				break running
			case <-s.reinstall:
				e.console.Write([]byte(statusLine(s.def.Name + ": dependency files changed: re-installing")))
				stopRun()
				_ = drv.Stop(context.WithoutCancel(ctx), h, cfg.StopTimeout)
				_ = drv.Remove(context.WithoutCancel(ctx), h)
				e.setHandle(s, nil, installed)
				break running
			case <-ctx.Done():
				stopRun()
				e.finish(ctx, s)
				return
			}
		}
	}
}

// finish ends a supervisor: on errStop the dev server goes, on errDetach it stays.
func (e *env) finish(ctx context.Context, s *service) {
	if !errors.Is(context.Cause(ctx), errStop) {
		return
	}
	e.mu.Lock()
	h := s.handle
	e.mu.Unlock()
	if h != nil {
		bg, cancel := context.WithTimeout(context.Background(), e.m.cfg.StopTimeout+10*time.Second)
		_ = e.m.cfg.Driver.Stop(bg, h, e.m.cfg.StopTimeout)
		_ = e.m.cfg.Driver.Remove(bg, h)
		cancel()
	}
	e.set(s, func(s *service) { s.state, s.addr, s.handle = StateStopped, "", nil })
}

// startWorkload starts spec, replacing a leftover workload of the same name.
func (e *env) startWorkload(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error) {
	drv := e.m.cfg.Driver
	h, err := drv.Start(ctx, spec)
	if errors.Is(err, runtime.ErrConflict) {
		_ = drv.Remove(ctx, &runtime.Handle{Driver: drv.Name(), ID: spec.Name, Name: spec.Name})
		h, err = drv.Start(ctx, spec)
	}
	return h, err
}

// install runs the service's install command to completion, its output on the console.
func (e *env) install(ctx context.Context, s *service, out io.Writer) (int, error) {
	drv := e.m.cfg.Driver
	h, err := e.startWorkload(ctx, e.m.spec(e.app, &s.def, s.def.Name+"-install", WithInstallLock(s.def.Install)))
	if err != nil {
		return -1, err
	}
	defer func() { _ = drv.Remove(context.WithoutCancel(ctx), h) }()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if rc, err := drv.Logs(ctx, h, runtime.LogOptions{Follow: true}); err == nil {
			_, _ = io.Copy(out, rc)
			rc.Close()
		}
	}()
	res, err := drv.Wait(ctx, h)
	if err != nil {
		return -1, err
	}
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return res.ExitCode, nil
}

// probe closes answering once the dev server answers HTTP (any status: a 500 from a page
// that does not compile still means the server runs). A TCP connect is not enough: Docker's
// port proxy accepts connections before anything listens in the container.
func (e *env) probe(ctx context.Context, s *service, addr string, answering chan<- struct{}) {
	if addr == "" {
		return
	}
	p := s.def.Health
	if p == "" {
		p = s.def.Route
	}
	if !s.def.StripPrefix {
		p = basePath(e.slug) + p
	}
	// A server that holds the request past the timeout is compiling the page (Next.js
	// does on first request): it runs. Docker's proxy without a server behind it closes
	// at once instead.
	client := &http.Client{Timeout: 3 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p, nil)
		resp, err := client.Do(req)
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil) {
			if resp != nil {
				resp.Body.Close()
			}
			close(answering)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// watch asks for a re-install when a service's watched dependency files change.
func (e *env) watch(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.m.cfg.WatchInterval)
	defer t.Stop()
	manifest := manifestHash(e.app.Dir)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if cur := manifestHash(e.app.Dir); cur != manifest {
			// Services, routes or commands changed: start over with the new manifest
			// (from another goroutine: the restart waits for this one to end).
			e.console.Write([]byte(statusLine("mgx.json changed: restarting the environment")))
			go e.m.restart(e.slug)
			return
		}
		for _, name := range e.order {
			s := e.services[name]
			e.mu.Lock()
			installed, state := s.installed, s.state
			e.mu.Unlock()
			if len(s.def.Install) == 0 || installed == "" || state == StateInstalling {
				continue
			}
			if cur := watchHash(e.app, &s.def); cur != installed && cur != "" {
				select {
				case s.reinstall <- struct{}{}:
				default:
				}
			}
		}
	}
}

func manifestHash(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, templates.ManifestFile))
	if err != nil {
		return "missing"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// shell returns the environment's shell workload, starting it when needed.
func (e *env) shell(ctx context.Context) (*runtime.Handle, error) {
	e.shellMu.Lock()
	defer e.shellMu.Unlock()
	drv := e.m.cfg.Driver
	if h := e.shellH; h != nil {
		if err := drv.Recover(ctx, h); err == nil {
			if st, err := drv.Inspect(ctx, h); err == nil && st.State == runtime.StateRunning {
				return h, nil
			}
		}
		_ = drv.Remove(ctx, h)
		e.shellH = nil
	}
	h, err := e.startWorkload(ctx, e.m.spec(e.app, nil, "shell", []string{"sleep", "infinity"}))
	if err != nil {
		return nil, fmt.Errorf("devenv %s: shell: %w", e.slug, err)
	}
	e.shellH = h
	e.m.updatePersist(e.slug, func(p *persistedEnv) { p.Shell = cloneHandle(h) })
	return h, nil
}

// stopShell removes the shell workload (with the environment).
func (e *env) stopShell(ctx context.Context) {
	e.shellMu.Lock()
	defer e.shellMu.Unlock()
	if e.shellH != nil {
		_ = e.m.cfg.Driver.Remove(ctx, e.shellH)
		e.shellH = nil
	}
}
