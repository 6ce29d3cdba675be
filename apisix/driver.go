package apisix

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
)

// Config of the APISIX driver.
type Config struct {
	// AdminURL is the Admin API base, MGX_APISIX_ADMIN_URL ("http://apisix:9180"). Required.
	AdminURL string
	// AdminKey is sent as X-API-KEY, MGX_APISIX_ADMIN_KEY. Required.
	AdminKey string
	// Fallback is where app routes without an upstream go: MGX's HTTP address(es)
	// ("control:8080"), whose mux mounts gateway.Gateway.Fallback at /apps/ and /dev/ to
	// show the starting / not deployed pages and wake dev environments. Required.
	Fallback []string
	// HTTPClient for the Admin API. Default: one with a 15s timeout.
	HTTPClient *http.Client
}

// Labels MGX puts on what it manages; objects without managed-by=mgx are never touched.
const (
	labelManaged = "managed-by"
	labelRoute   = "mgx_route"
	labelKind    = "mgx_kind"
	labelSlug    = "mgx_slug"
	labelStrip   = "mgx_strip"
	labelIdle    = "mgx_idle"
	managedValue = "mgx"
)

// Driver writes MGX routes into APISIX: one upstream and one route per MGX route, both
// with the id "mgx-<route id>".
type Driver struct {
	c        *Client
	fallback []string
}

var _ gateway.Driver = (*Driver)(nil)

// New validates the config, reporting every problem at once.
func New(cfg Config) (*Driver, error) {
	var problems []error
	if cfg.AdminKey == "" {
		problems = append(problems, errors.New("apisix: AdminKey (MGX_APISIX_ADMIN_KEY) is required"))
	}
	if len(cfg.Fallback) == 0 {
		problems = append(problems, errors.New("apisix: Fallback (MGX's HTTP address) is required"))
	}
	for _, f := range cfg.Fallback {
		if _, _, err := reachable(f); err != nil {
			problems = append(problems, fmt.Errorf("apisix: Fallback %q: %w", f, err))
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	c, err := NewClient(cfg.AdminURL, cfg.AdminKey, cfg.HTTPClient)
	if err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return &Driver{c: c, fallback: slices.Clone(cfg.Fallback)}, nil
}

// Name is "apisix".
func (d *Driver) Name() string { return "apisix" }

// Ping checks that the Admin API answers and accepts the key, for /readyz.
func (d *Driver) Ping(ctx context.Context) error {
	_, err := d.c.List(ctx, "upstreams")
	return err
}

// ObjectID is the APISIX id of a route and of its upstream: "mgx-<id>", hashed when longer
// than APISIX's 64 characters.
func ObjectID(routeID string) string {
	id := "mgx-" + routeID
	if len(id) <= 64 {
		return id
	}
	sum := sha256.Sum256([]byte(routeID))
	return id[:47] + "-" + hex.EncodeToString(sum[:8])
}

// RouteObject is the part of an APISIX route MGX writes.
type RouteObject struct {
	Name            string            `json:"name"`
	URIs            []string          `json:"uris"`
	Priority        int               `json:"priority"`
	UpstreamID      string            `json:"upstream_id"`
	EnableWebsocket bool              `json:"enable_websocket"`
	Labels          map[string]string `json:"labels"`
	Plugins         map[string]any    `json:"plugins,omitempty"`
	Status          int               `json:"status"`
}

// UpstreamObject is the part of an APISIX upstream MGX writes.
type UpstreamObject struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Scheme   string            `json:"scheme"`
	PassHost string            `json:"pass_host"`
	Nodes    []Node            `json:"nodes"`
	Timeout  Timeout           `json:"timeout"`
	Labels   map[string]string `json:"labels"`
}

// Node is an upstream node.
type Node struct {
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Weight int    `json:"weight"`
}

// Timeout is in seconds, as APISIX wants.
type Timeout struct {
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Read    float64 `json:"read"`
}

// ExtPluginConf is ext-plugin-pre-req's configuration.
type ExtPluginConf struct {
	Conf []ExtPluginEntry `json:"conf"`
}

// ExtPluginEntry names a runner plugin and its conf (a JSON string).
type ExtPluginEntry struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func fromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1000)) * time.Millisecond
}

// objects builds what Put writes for a normalized route.
func (d *Driver) objects(r gateway.Route) (RouteObject, UpstreamObject, error) {
	id := ObjectID(r.ID)
	labels := map[string]string{labelManaged: managedValue, labelRoute: r.ID, labelKind: string(r.Kind), labelStrip: strconv.FormatBool(r.Strip)}
	if r.Slug != "" {
		labels[labelSlug] = r.Slug
	}
	nodesFrom := r.Upstreams
	idle := r.Kind != gateway.KindPlatform && len(r.Upstreams) == 0
	if idle {
		labels[labelIdle] = "true"
		nodesFrom = d.fallback
	}
	name := "mgx " + r.ID
	if len(name) > 100 { // APISIX's limit for names
		name = name[:100]
	}
	up := UpstreamObject{
		Name: name, Type: "roundrobin", Scheme: "http", PassHost: "pass",
		Timeout: Timeout{Connect: seconds(r.Timeouts.Connect), Send: seconds(r.Timeouts.Send), Read: seconds(r.Timeouts.Read)},
		Labels:  labels,
	}
	for _, a := range nodesFrom {
		host, port, err := reachable(a)
		if err != nil {
			return RouteObject{}, UpstreamObject{}, fmt.Errorf("route %s: upstream %q: %w", r.ID, a, err)
		}
		up.Nodes = append(up.Nodes, Node{Host: host, Port: port, Weight: 1})
	}
	uris := []string{r.Prefix + "*"}
	if r.Prefix != "/" {
		uris = append(uris, strings.TrimSuffix(r.Prefix, "/"))
	}
	ro := RouteObject{
		Name: name, URIs: uris, Priority: len(r.Prefix), UpstreamID: id,
		EnableWebsocket: r.WebSocket, Labels: labels, Status: 1,
	}
	if r.Kind != gateway.KindPlatform && !idle {
		conf, err := pluginConf(r)
		if err != nil {
			return RouteObject{}, UpstreamObject{}, err
		}
		ro.Plugins = map[string]any{"ext-plugin-pre-req": ExtPluginConf{Conf: []ExtPluginEntry{{Name: approuter.PluginName, Value: conf}}}}
	}
	return ro, up, nil
}

func pluginConf(r gateway.Route) (string, error) {
	c := r.Conf()
	if c == nil {
		return "", fmt.Errorf("route %s: %w", r.ID, gateway.ErrInvalidRoute)
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// Put writes the upstream, then the route that uses it.
func (d *Driver) Put(ctx context.Context, r gateway.Route) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.Normalize()
	ro, up, err := d.objects(r)
	if err != nil {
		return err
	}
	id := ObjectID(r.ID)
	if err := d.c.Put(ctx, "upstreams", id, up); err != nil {
		return err
	}
	return d.c.Put(ctx, "routes", id, ro)
}

// Delete removes the route, then its upstream (APISIX refuses to delete an upstream in use).
func (d *Driver) Delete(ctx context.Context, id string) error {
	oid := ObjectID(id)
	if err := d.c.Delete(ctx, "routes", oid); err != nil {
		return err
	}
	return d.c.Delete(ctx, "upstreams", oid)
}

type storedRoute struct {
	RouteObject
	Plugins map[string]json.RawMessage `json:"plugins"`
}

// Routes reads MGX's routes back from APISIX. A route whose APISIX objects do not match
// what Put would write for it (plugin conf edited, upstream gone, URIs changed) comes back
// with an empty Prefix, so the reconciler rewrites it; an upstream left without its route
// comes back too, so the reconciler deletes it.
func (d *Driver) Routes(ctx context.Context) ([]gateway.Route, error) {
	rawRoutes, err := d.c.List(ctx, "routes")
	if err != nil {
		return nil, err
	}
	rawUps, err := d.c.List(ctx, "upstreams")
	if err != nil {
		return nil, err
	}
	ups := map[string]UpstreamObject{}
	for _, o := range rawUps {
		var u UpstreamObject
		if json.Unmarshal(o.Value, &u) != nil || u.Labels[labelManaged] != managedValue || u.Labels[labelRoute] == "" {
			continue
		}
		ups[u.Labels[labelRoute]] = u
	}
	var out []gateway.Route
	seen := map[string]bool{}
	for _, o := range rawRoutes {
		var sr storedRoute
		if json.Unmarshal(o.Value, &sr) != nil || sr.Labels[labelManaged] != managedValue || sr.Labels[labelRoute] == "" {
			continue
		}
		id := sr.Labels[labelRoute]
		seen[id] = true
		r := gateway.Route{ID: id, Kind: gateway.Kind(sr.Labels[labelKind]), Slug: sr.Labels[labelSlug],
			Strip: sr.Labels[labelStrip] == "true", WebSocket: sr.EnableWebsocket}
		if len(sr.URIs) > 0 {
			r.Prefix = strings.TrimSuffix(sr.URIs[0], "*")
		}
		up, ok := ups[id]
		if ok {
			r.Timeouts = gateway.Timeouts{Connect: fromSeconds(up.Timeout.Connect), Send: fromSeconds(up.Timeout.Send), Read: fromSeconds(up.Timeout.Read)}
			if sr.Labels[labelIdle] != "true" {
				for _, n := range up.Nodes {
					r.Upstreams = append(r.Upstreams, net.JoinHostPort(n.Host, strconv.Itoa(n.Port)))
				}
			}
		}
		r.Normalize()
		if !ok || !d.matches(r, sr, up) {
			r.Prefix = "" // drifted: never Equal to what the store wants
		}
		out = append(out, r)
	}
	for id := range ups {
		if !seen[id] {
			out = append(out, gateway.Route{ID: id}) // orphan upstream
		}
	}
	return out, nil
}

// matches compares what APISIX has with what Put would write for r.
func (d *Driver) matches(r gateway.Route, have storedRoute, haveUp UpstreamObject) bool {
	if r.Validate() != nil {
		return false
	}
	wantRoute, wantUp, err := d.objects(r)
	if err != nil {
		return false
	}
	if !slices.Equal(have.URIs, wantRoute.URIs) || have.UpstreamID != wantRoute.UpstreamID ||
		have.Priority != wantRoute.Priority || have.Status != 1 || !maps.Equal(have.Labels, wantRoute.Labels) {
		return false
	}
	if haveUp.Scheme != wantUp.Scheme || haveUp.PassHost != wantUp.PassHost || haveUp.Type != wantUp.Type ||
		!maps.Equal(haveUp.Labels, wantUp.Labels) || !slices.Equal(sortedNodes(haveUp.Nodes), sortedNodes(wantUp.Nodes)) {
		return false
	}
	// Re-encode both plugin sets to compare independently of key order and spacing.
	var got, want any
	_ = json.Unmarshal(mustJSON(have.Plugins), &got)
	_ = json.Unmarshal(mustJSON(wantRoute.Plugins), &want)
	if m, ok := got.(map[string]any); ok && len(m) == 0 {
		got = nil
	}
	return string(mustJSON(got)) == string(mustJSON(want))
}

func sortedNodes(n []Node) []Node {
	n = slices.Clone(n)
	slices.SortFunc(n, func(a, b Node) int {
		return strings.Compare(net.JoinHostPort(a.Host, strconv.Itoa(a.Port)), net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
	})
	return n
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// reachable splits host:port and refuses wildcard hosts: "0.0.0.0:8080" is where MGX
// listens, not an address APISIX can send to.
func reachable(a string) (string, int, error) {
	host, port, err := splitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "", 0, fmt.Errorf("%s is a listen address, not one APISIX can reach (set MGX_APISIX_PLATFORM_UPSTREAMS)", host)
	}
	return host, port, nil
}

func splitHostPort(a string) (string, int, error) {
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}
