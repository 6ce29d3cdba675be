package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
)

// EmbeddedConfig configures the embedded gateway.
type EmbeddedConfig struct {
	// Platform serves platform routes in process (MGX's own mux). When nil, platform routes
	// are proxied to their upstreams like app routes.
	Platform http.Handler
	// Waker, optional, wakes a dev environment whose dev route has no upstream.
	Waker Waker
	// Dev, optional, resolves "/dev/<slug>/" requests that no stored route serves, per
	// request (package devenv's Manager implements it).
	Dev DevResolver
	// WakeWait is how long a request for a sleeping dev environment waits for it before
	// getting the "starting" page, which refreshes itself. Default 2s.
	WakeWait time.Duration
	// Logger; default discards.
	Logger *slog.Logger
	// MaxIdleConnsPerHost to each upstream. Default 256.
	MaxIdleConnsPerHost int
}

// Embedded is the gateway of `mgx up`: a Driver whose routes live in memory and an
// http.Handler that serves them with httputil.ReverseProxy. It is meant to be the top-level
// handler of the MGX HTTP server.
type Embedded struct {
	platform http.Handler
	log      *slog.Logger
	pages    *pages
	dev      DevResolver
	proxy    *httputil.ReverseProxy

	mu    sync.Mutex // serializes writers; readers load the table
	table atomicTable
}

var (
	_ Driver       = (*Embedded)(nil)
	_ http.Handler = (*Embedded)(nil)
)

// NewEmbedded builds the embedded gateway with no routes.
func NewEmbedded(cfg EmbeddedConfig) *Embedded {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WakeWait <= 0 {
		cfg.WakeWait = 2 * time.Second
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = 256
	}
	g := &Embedded{platform: cfg.Platform, log: cfg.Logger, dev: cfg.Dev, pages: newPages(cfg.Waker, cfg.WakeWait, cfg.Logger)}
	g.table.Store(newTable(nil))
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			timeout := DefaultConnectTimeout
			if st, ok := ctx.Value(stateKey{}).(*proxyState); ok {
				timeout = st.e.Timeouts.Connect
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          4 * cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass the client's Accept-Encoding through untouched
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:    g.rewrite,
		Transport:  transport,
		BufferPool: newBufferPool(),
		// FlushInterval 0: ReverseProxy already flushes every write at once for
		// text/event-stream and for bodies of unknown length, which is what SSE needs.
		ErrorHandler: g.proxyError,
		ErrorLog:     slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return g
}

// Name is "embedded".
func (g *Embedded) Name() string { return "embedded" }

// Routes returns the routes being served.
func (g *Embedded) Routes(context.Context) ([]Route, error) {
	return slices.Clone(g.table.Load().routes), nil
}

// Put adds or replaces a route. Requests in flight finish on the route they started with.
func (g *Embedded) Put(_ context.Context, r Route) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.Normalize()
	r.UpdatedAt = time.Time{}
	g.mu.Lock()
	defer g.mu.Unlock()
	routes := slices.DeleteFunc(slices.Clone(g.table.Load().routes), func(o Route) bool { return o.ID == r.ID })
	g.table.Store(newTable(append(routes, r)))
	return nil
}

// Delete removes a route; a missing one is not an error.
func (g *Embedded) Delete(_ context.Context, id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	routes := slices.DeleteFunc(slices.Clone(g.table.Load().routes), func(o Route) bool { return o.ID == id })
	g.table.Store(newTable(routes))
	return nil
}

type stateKey struct{}

// proxyState travels in the request context from ServeHTTP to Rewrite and the dialer.
type proxyState struct {
	e        *entry
	path     string // escaped path to forward
	upstream string
}

// DevResolver says where a dev preview request goes when no stored route serves it: p is
// the path after "/dev/<slug>" ("/api/items"); ok is false when the environment is not
// running (the gateway then wakes it through the Waker). Package devenv implements it.
type DevResolver interface {
	Upstream(slug, p string) (addr string, strip bool, ok bool)
}

// ServeHTTP routes one request.
func (g *Embedded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.serve(w, r, false, true)
}

// serve routes one request; appsOnly refuses platform paths (the Fallback on MGX's mux).
func (g *Embedded) serve(w http.ResponseWriter, r *http.Request, appsOnly, mayRetry bool) {
	t := g.table.Load()
	clean, res := approuter.Check(r.URL.EscapedPath())
	if res.Status != 0 {
		g.pages.write(w, r, badPath(res))
		return
	}
	e, isApp := t.match(clean)
	if isApp && (e == nil || len(e.Upstreams) == 0) && g.dev != nil {
		if _, kind, slug, _ := appKey(clean); kind == KindDev && approuter.ValidSlug(slug) {
			if addr, strip, ok := g.dev.Upstream(slug, clean[len("/dev/")+len(slug):]); ok {
				e = devEntry(slug, addr, strip)
			}
		}
	}
	switch {
	case e == nil && isApp, e != nil && e.Kind != KindPlatform && len(e.Upstreams) == 0:
		if g.pages.serveApp(w, r, t, clean, mayRetry) {
			g.serve(w, r, appsOnly, false) // woken within the wait: serve it now
		}
		return
	case e == nil || (appsOnly && !isApp):
		g.pages.write(w, r, page{Status: http.StatusNotFound, Code: "not_found", Title: "Not found", Message: "Nothing is served here."})
		return
	case e.Kind == KindPlatform && g.platform != nil:
		g.platform.ServeHTTP(w, r)
		return
	}
	path := clean
	if e.conf != nil {
		res = approuter.Rewrite(e.conf, clean)
		switch {
		case res.Status == http.StatusPermanentRedirect:
			loc := res.Location
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, loc, http.StatusPermanentRedirect)
			return
		case res.Status != 0:
			g.pages.write(w, r, badPath(res))
			return
		}
		path = res.Path
	} else {
		path = r.URL.EscapedPath() // platform routes proxied: as received
	}
	if !e.WebSocket && r.Header.Get("Upgrade") != "" {
		g.pages.write(w, r, page{Status: http.StatusBadRequest, Code: "upgrade_refused", Title: "Bad request", Message: "This route does not take WebSocket connections."})
		return
	}
	st := &proxyState{e: e, path: path, upstream: e.pick()}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}

// devEntry is a route for a dev environment resolved per request.
func devEntry(slug, addr string, strip bool) *entry {
	r := AppRoute(KindDev, slug, "/", strip, addr)
	r.Normalize()
	e := &entry{Route: r, conf: r.Conf()}
	return e
}

func (g *Embedded) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(stateKey{}).(*proxyState)
	u := pr.Out.URL
	u.Scheme, u.Host = "http", st.upstream
	p, err := url.PathUnescape(st.path)
	if err != nil {
		p = st.path // Check already refused bad escapes from real servers; keep as is
	}
	u.Path, u.RawPath = p, st.path
	pr.SetXForwarded()
	if base := st.e.BasePath(); base != "" {
		pr.Out.Header.Set("X-Forwarded-Prefix", base)
	}
	// pr.Out.Host stays the client's Host, as APISIX's pass_host "pass" does: apps build
	// their public URLs from PUBLIC_URL anyway.
}

func (g *Embedded) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := r.Context().Value(stateKey{}).(*proxyState)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	g.log.WarnContext(r.Context(), "gateway upstream error", "route", st.e.ID, "upstream", st.upstream, "err", err)
	if st.e.Kind == KindDev && g.pages.waker != nil {
		// A dev server that stopped or crashed: wake it rather than show an error.
		g.pages.serveDev(w, r, g.table.Load(), st.e.Slug, st.e, false)
		return
	}
	g.pages.upstreamDown(w, r, st.e)
}

// bufferPool recycles the 32 KiB copy buffers of the proxy.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }
