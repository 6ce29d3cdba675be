package gateway

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
)

// Kind says who serves a route.
type Kind string

// Route kinds. Platform routes go to MGX itself; dev and prod routes to an app.
const (
	KindPlatform Kind = "platform"
	KindDev      Kind = approuter.KindDev
	KindProd     Kind = approuter.KindProd
)

// ErrInvalidRoute is wrapped by every validation error.
var ErrInvalidRoute = errors.New("invalid route")

// Default timeouts: connecting is quick or never; reading and sending are long so that
// SSE streams and build logs are not cut.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultSendTimeout    = time.Hour
	DefaultReadTimeout    = time.Hour
)

// Timeouts of a route's upstream, as in APISIX (time between two writes / reads).
type Timeouts struct {
	Connect time.Duration `bson:"connect" json:"connect"`
	Send    time.Duration `bson:"send" json:"send"`
	Read    time.Duration `bson:"read" json:"read"`
}

// Route is one path prefix and where it goes. The longest matching prefix wins.
type Route struct {
	// ID is stable and readable: "platform-api", "prod-<slug>", "dev-<slug>-api".
	ID string `bson:"_id" json:"id"`
	// Prefix is a clean path ending in "/": "/", "/api/", "/apps/<slug>/", "/apps/<slug>/api/".
	// A request for the prefix without its trailing slash is redirected to it.
	Prefix string `bson:"prefix" json:"prefix"`
	Kind   Kind   `bson:"kind" json:"kind"`
	// Slug is the app's slug; empty for platform routes.
	Slug string `bson:"slug,omitempty" json:"slug,omitempty"`
	// Upstreams are "host:port" addresses, balanced round robin. An app route without
	// upstreams is known but not running: the gateway shows a "starting" page (dev routes
	// also wake the app through the Waker) or "not deployed yet" (prod).
	Upstreams []string `bson:"upstreams" json:"upstreams"`
	// Strip removes the app's BASE_PATH ("/dev/<slug>", "/apps/<slug>") before forwarding,
	// for backends that do not know it; false keeps it, for frontends built with a base path.
	Strip bool `bson:"strip" json:"strip"`
	// WebSocket passes Upgrade requests through (dev servers' hot reload, terminals).
	WebSocket bool     `bson:"websocket" json:"websocket"`
	Timeouts  Timeouts `bson:"timeouts" json:"timeouts"`
	// UpdatedAt is set by Upsert; not part of what the gateway serves.
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// PlatformRoutes are MGX's own routes, all to the MGX HTTP address(es), as `mgx up` has
// them: the web UI at "/", the API, the OAuth2 provider and the OTLP receiver.
func PlatformRoutes(upstreams ...string) []Route { return PlatformRoutesFor(upstreams, upstreams) }

// PlatformRoutesFor is PlatformRoutes when roles run apart (the production compose file):
// "/", "/api/" and "/otlp/" go to the `mgx control` instances, "/oauth2/" to `mgx oauth`.
func PlatformRoutesFor(control, oauth []string) []Route {
	mk := func(id, prefix string, ws bool, upstreams []string) Route {
		return Route{ID: id, Prefix: prefix, Kind: KindPlatform, Upstreams: slices.Clone(upstreams), WebSocket: ws}
	}
	return []Route{
		mk("platform-web", "/", false, control),
		mk("platform-api", "/api/", true, control), // the read-only terminal is a WebSocket
		mk("platform-oauth2", "/oauth2/", false, oauth),
		mk("platform-otlp", "/otlp/", false, control),
	}
}

// AppRoute builds the route of one service of an app. sub is the service's path under the
// base path, as in the app manifest ("/" or "/api"): AppRoute(KindProd, "shop", "/api",
// true, "10.0.0.5:8000") is "/apps/shop/api/" → 10.0.0.5:8000 with "/apps/shop" stripped,
// id "prod-shop-api". WebSocket is on: dev servers need it for hot reload.
func AppRoute(kind Kind, slug, sub string, strip bool, upstreams ...string) Route {
	sub = strings.Trim(sub, "/")
	id := string(kind) + "-" + slug
	prefix := approuter.BasePath(string(kind), slug) + "/"
	if sub != "" {
		id += "-" + strings.ReplaceAll(sub, "/", "-")
		prefix += sub + "/"
	}
	return Route{ID: id, Prefix: prefix, Kind: kind, Slug: slug, Upstreams: upstreams, Strip: strip, WebSocket: true}
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// Normalize fills default timeouts, rounds them to milliseconds and sorts upstreams, so
// that two routes that serve the same are Equal.
func (r *Route) Normalize() {
	if r.Timeouts.Connect <= 0 {
		r.Timeouts.Connect = DefaultConnectTimeout
	}
	if r.Timeouts.Send <= 0 {
		r.Timeouts.Send = DefaultSendTimeout
	}
	if r.Timeouts.Read <= 0 {
		r.Timeouts.Read = DefaultReadTimeout
	}
	r.Timeouts.Connect = r.Timeouts.Connect.Round(time.Millisecond)
	r.Timeouts.Send = r.Timeouts.Send.Round(time.Millisecond)
	r.Timeouts.Read = r.Timeouts.Read.Round(time.Millisecond)
	if len(r.Upstreams) == 0 {
		r.Upstreams = nil
	} else {
		r.Upstreams = slices.Clone(r.Upstreams)
		slices.Sort(r.Upstreams)
		r.Upstreams = slices.Compact(r.Upstreams)
	}
}

// Equal reports whether two normalized routes serve the same (UpdatedAt is ignored).
func (r Route) Equal(o Route) bool {
	return r.ID == o.ID && r.Prefix == o.Prefix && r.Kind == o.Kind && r.Slug == o.Slug &&
		slices.Equal(r.Upstreams, o.Upstreams) && r.Strip == o.Strip && r.WebSocket == o.WebSocket &&
		r.Timeouts == o.Timeouts
}

// BasePath is the app's BASE_PATH for dev and prod routes, "" for platform routes.
func (r Route) BasePath() string {
	if r.Kind == KindPlatform {
		return ""
	}
	return approuter.BasePath(string(r.Kind), r.Slug)
}

// Conf is the mgx-app-router configuration of an app route.
func (r Route) Conf() *approuter.Conf {
	c := &approuter.Conf{Route: r.ID, Kind: string(r.Kind), Slug: r.Slug, Prefix: r.Prefix, Strip: r.Strip}
	if err := c.Init(); err != nil {
		return nil
	}
	return c
}

// Validate reports every problem at once; errors wrap ErrInvalidRoute.
func (r Route) Validate() error {
	var problems []string
	if !idRE.MatchString(r.ID) {
		problems = append(problems, fmt.Sprintf("id %q must be lowercase letters, digits, '.', '_' or '-'", r.ID))
	}
	if !strings.HasPrefix(r.Prefix, "/") || !strings.HasSuffix(r.Prefix, "/") || approuter.Clean(r.Prefix) != r.Prefix {
		problems = append(problems, fmt.Sprintf("prefix %q must be a clean path starting and ending with /", r.Prefix))
	}
	switch r.Kind {
	case KindPlatform:
		if r.Slug != "" {
			problems = append(problems, "a platform route has no slug")
		}
		if r.Strip {
			problems = append(problems, "a platform route does not strip")
		}
		if len(r.Upstreams) == 0 {
			problems = append(problems, "a platform route needs the MGX HTTP address as upstream")
		}
		if p := firstSegment(r.Prefix); p == "apps" || p == "dev" {
			problems = append(problems, fmt.Sprintf("prefix %q is reserved for apps", r.Prefix))
		}
	case KindDev, KindProd:
		if !approuter.ValidSlug(r.Slug) {
			problems = append(problems, fmt.Sprintf("slug %q is not valid", r.Slug))
		} else if !strings.HasPrefix(r.Prefix, r.BasePath()+"/") {
			problems = append(problems, fmt.Sprintf("prefix %q is not under %s/", r.Prefix, r.BasePath()))
		}
	default:
		problems = append(problems, fmt.Sprintf("kind %q is not platform, dev or prod", r.Kind))
	}
	for _, u := range r.Upstreams {
		if err := validUpstream(u); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if r.Timeouts.Connect < 0 || r.Timeouts.Send < 0 || r.Timeouts.Read < 0 {
		problems = append(problems, "timeouts must not be negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w %s: %s", ErrInvalidRoute, r.ID, strings.Join(problems, "; "))
	}
	return nil
}

func validUpstream(u string) error {
	host, port, err := net.SplitHostPort(u)
	if err != nil || host == "" || strings.ContainsAny(host, "/@?# ") {
		return fmt.Errorf("upstream %q is not host:port", u)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("upstream %q has no valid port", u)
	}
	return nil
}

// firstSegment of "/apps/a/x" is "apps".
func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	seg, _, _ := strings.Cut(p, "/")
	return seg
}
