package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mgx-dev/mgx/store"
)

// Driver is a gateway that serves routes: the embedded proxy or APISIX. Every method is
// idempotent. Routes returns only routes the driver manages for MGX, as MGX routes
// (normalized), so the reconciler can compare them with the store.
type Driver interface {
	Name() string
	Routes(ctx context.Context) ([]Route, error)
	Put(ctx context.Context, r Route) error
	Delete(ctx context.Context, id string) error
}

// Waker starts an app's dev environment when its dev route has no upstream. The dev
// environment implements it; Ensure returns quickly (it starts the environment in the
// background) and an error wrapping ErrUnknownApp when there is no such app.
type Waker interface {
	Ensure(ctx context.Context, slug string) error
}

// ErrUnknownApp is what a Waker returns for a slug that names no app.
var ErrUnknownApp = errors.New("unknown app")

// Config of a Gateway.
type Config struct {
	// Store is the MGX database; routes live in collection gateway_routes. Required.
	Store *store.Store
	// Driver serves the routes. Required.
	Driver Driver
	// Logger; default discards.
	Logger *slog.Logger
	// Interval between periodic reconciles. Default 30s.
	Interval time.Duration
	// Waker and Dev, optional, serve dev previews through Fallback (see EmbeddedConfig).
	Waker Waker
	Dev   DevResolver
}

// Gateway is the route API the rest of MGX calls, and the reconcile loop.
type Gateway struct {
	routes   routeStore
	driver   Driver
	log      *slog.Logger
	interval time.Duration
	fallback *Embedded // serves Fallback from the desired routes

	syncMu sync.Mutex // one reconcile at a time

	genMu   sync.Mutex
	wantGen uint64 // bumped after each change to the store
	doneGen uint64 // changes up to this one are reconciled
	status  atomic.Pointer[Status]
}

// New validates the config and creates the indexes. Call Run for the loop.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("gateway: Store is required"))
	}
	if cfg.Driver == nil {
		problems = append(problems, errors.New("gateway: Driver is required"))
	}
	if cfg.Interval < 0 {
		problems = append(problems, errors.New("gateway: Interval must not be negative"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		routes:   routeStore{st: cfg.Store},
		driver:   cfg.Driver,
		log:      cfg.Logger,
		interval: cfg.Interval,
	}
	g.fallback = NewEmbedded(EmbeddedConfig{Waker: cfg.Waker, Dev: cfg.Dev, Logger: cfg.Logger})
	g.status.Store(&Status{Driver: cfg.Driver.Name()})
	if err := g.routes.ensureIndexes(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Upsert stores a route (created or replaced by id) and applies it before returning, so a
// caller that just started a service can send traffic to it. Validation errors wrap
// ErrInvalidRoute; a prefix used by another route gives store.ErrConflict. A driver that
// fails does not fail Upsert: the route is stored, the error shows in Status, and the loop
// retries.
func (g *Gateway) Upsert(ctx context.Context, r Route) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.Normalize()
	if err := g.routes.upsert(ctx, r); err != nil {
		return err
	}
	g.sync(ctx)
	return nil
}

// Delete removes a route; deleting a missing route is not an error.
func (g *Gateway) Delete(ctx context.Context, id string) error {
	if err := g.routes.delete(ctx, id); err != nil {
		return err
	}
	g.sync(ctx)
	return nil
}

// DeleteApp removes every route of an app in one kind ("" for dev and prod).
func (g *Gateway) DeleteApp(ctx context.Context, slug string, kind Kind) error {
	if kind == KindPlatform {
		return fmt.Errorf("%w: DeleteApp takes dev, prod or \"\"", ErrInvalidRoute)
	}
	if err := g.routes.deleteApp(ctx, slug, kind); err != nil {
		return err
	}
	g.sync(ctx)
	return nil
}

// Get returns one route or an error wrapping store.ErrNotFound.
func (g *Gateway) Get(ctx context.Context, id string) (Route, error) { return g.routes.get(ctx, id) }

// List returns every stored route, by id.
func (g *Gateway) List(ctx context.Context) ([]Route, error) { return g.routes.list(ctx) }

// sync reconciles after a change, coalescing: when many callers change routes at once,
// one reconcile that started after all their writes serves them all. A failure is logged
// and kept in Status; the loop retries.
func (g *Gateway) sync(ctx context.Context) {
	g.genMu.Lock()
	g.wantGen++
	mine := g.wantGen
	g.genMu.Unlock()

	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	g.genMu.Lock()
	if g.doneGen >= mine {
		g.genMu.Unlock()
		return // a reconcile that began after our write has run
	}
	upTo := g.wantGen
	g.genMu.Unlock()
	if err := g.reconcile(ctx); err != nil {
		g.log.ErrorContext(ctx, "gateway reconcile", "driver", g.driver.Name(), "err", err)
	}
	g.genMu.Lock()
	g.doneGen = max(g.doneGen, upTo)
	g.genMu.Unlock()
}

// Run reconciles at start and every Interval until ctx ends (changes made through this
// Gateway are reconciled at once by the call that made them; the loop repairs drift and
// picks up other instances' changes).
func (g *Gateway) Run(ctx context.Context) error {
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		if err := g.Reconcile(ctx); err != nil && ctx.Err() == nil {
			g.log.ErrorContext(ctx, "gateway reconcile", "driver", g.driver.Name(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Reconcile makes the driver serve exactly the stored routes: missing or different routes
// are put, routes the store no longer has are deleted. It reads the driver before the
// store, so a route another instance stores and applies meanwhile is never taken for stale.
func (g *Gateway) Reconcile(ctx context.Context) error {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	return g.reconcile(ctx)
}

func (g *Gateway) reconcile(ctx context.Context) error {
	st := &Status{Driver: g.driver.Name(), LastSync: time.Now().UTC()}
	defer func() { g.status.Store(st) }()

	actual, err := g.driver.Routes(ctx)
	if err != nil {
		st.Error = fmt.Sprintf("read %s routes: %v", g.driver.Name(), err)
		st.Routes = g.status.Load().Routes
		return fmt.Errorf("read %s routes: %w", g.driver.Name(), err)
	}
	desired, err := g.routes.list(ctx)
	if err != nil {
		st.Error = err.Error()
		st.Routes = g.status.Load().Routes
		return err
	}
	g.fallback.table.Store(newTable(desired))

	have := make(map[string]Route, len(actual))
	for _, r := range actual {
		have[r.ID] = r
	}
	var errs []error
	for _, r := range desired {
		rs := RouteStatus{ID: r.ID, Prefix: r.Prefix, Kind: r.Kind, Slug: r.Slug, Upstreams: r.Upstreams, Applied: true}
		if a, ok := have[r.ID]; !ok || !a.Equal(r) {
			if err := g.driver.Put(ctx, r); err != nil {
				rs.Applied, rs.Error = false, err.Error()
				errs = append(errs, fmt.Errorf("put route %s: %w", r.ID, err))
			} else {
				g.log.InfoContext(ctx, "gateway route applied", "route", r.ID, "prefix", r.Prefix, "upstreams", r.Upstreams)
			}
		}
		delete(have, r.ID)
		st.Routes = append(st.Routes, rs)
	}
	stale := make([]string, 0, len(have))
	for id := range have {
		stale = append(stale, id)
	}
	slices.Sort(stale)
	for _, id := range stale {
		if err := g.driver.Delete(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", id, err))
		} else {
			g.log.InfoContext(ctx, "gateway stale route deleted", "route", id)
		}
	}
	if err := errors.Join(errs...); err != nil {
		st.Error = err.Error()
		return err
	}
	return nil
}

// Status is what the gateway serves and what failed, for the core to show.
type Status struct {
	Driver   string        `json:"driver"`
	LastSync time.Time     `json:"last_sync"`
	Error    string        `json:"error,omitempty"`
	Routes   []RouteStatus `json:"routes"`
}

// RouteStatus is one stored route and whether the driver took it.
type RouteStatus struct {
	ID        string   `json:"id"`
	Prefix    string   `json:"prefix"`
	Kind      Kind     `json:"kind"`
	Slug      string   `json:"slug,omitempty"`
	Upstreams []string `json:"upstreams"`
	Applied   bool     `json:"applied"`
	Error     string   `json:"error,omitempty"`
}

// Status returns the outcome of the last reconcile.
func (g *Gateway) Status() Status {
	s := *g.status.Load()
	s.Routes = slices.Clone(s.Routes)
	return s
}

// Fallback serves "/apps/" and "/dev/" on MGX's own mux, where APISIX sends what it has
// no running upstream for: an unknown slug gets 404, a known app that is not running a
// friendly page (a dev environment is woken), dev previews resolved through Dev are
// proxied. It behaves as the embedded driver does for app paths, and never serves others.
func (g *Gateway) Fallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.fallback.serve(w, r, true, true)
	})
}
