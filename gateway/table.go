package gateway

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
)

// entry is a route ready to serve.
type entry struct {
	Route
	conf *approuter.Conf // app routes only
	next atomic.Uint32   // round robin
}

func (e *entry) pick() string {
	if len(e.Upstreams) == 1 {
		return e.Upstreams[0]
	}
	return e.Upstreams[int(e.next.Add(1)-1)%len(e.Upstreams)]
}

// matches reports whether a clean path is under the route, or is its prefix without the
// trailing slash (which approuter.Rewrite redirects).
func (e *entry) matches(clean string) bool {
	return strings.HasPrefix(clean, e.Prefix) || clean == e.Prefix[:len(e.Prefix)-1]
}

// table is an immutable routing table; changes build a new one and swap it, so requests
// in flight keep the table (and upstream) they started with.
type table struct {
	routes   []Route
	apps     map[string][]*entry // by app key "/apps/<slug>" or "/dev/<slug>", longest first
	slugs    map[string]bool
	platform []*entry // longest first
}

func newTable(routes []Route) *table {
	t := &table{routes: routes, apps: map[string][]*entry{}, slugs: map[string]bool{}}
	for _, r := range routes {
		e := &entry{Route: r}
		if r.Kind == KindPlatform {
			t.platform = append(t.platform, e)
			continue
		}
		e.conf = r.Conf()
		if e.conf == nil {
			continue // Validate keeps these out of the store
		}
		key := r.BasePath()
		t.apps[key] = append(t.apps[key], e)
		t.slugs[r.Slug] = true
	}
	longest := func(a, b *entry) int { return cmp.Compare(len(b.Prefix), len(a.Prefix)) }
	slices.SortFunc(t.platform, longest)
	for _, l := range t.apps {
		slices.SortFunc(l, longest)
	}
	return t
}

// appKey splits an app path: "/apps/shop/x" → ("/apps/shop", prod, "shop", true).
func appKey(clean string) (key string, kind Kind, slug string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(clean, "/apps/"):
		kind, rest = KindProd, clean[len("/apps/"):]
	case strings.HasPrefix(clean, "/dev/"):
		kind, rest = KindDev, clean[len("/dev/"):]
	case clean == "/apps" || clean == "/dev":
		return clean, "", "", true
	default:
		return "", "", "", false
	}
	slug, _, _ = strings.Cut(rest, "/")
	return clean[:len(clean)-len(rest)+len(slug)], kind, slug, true
}

// match finds the route for a clean path: app paths ("/apps/…", "/dev/…") only ever match
// their own app's routes, never a platform route; the rest the longest platform prefix.
// isApp says the path is an app path.
func (t *table) match(clean string) (e *entry, isApp bool) {
	if key, _, _, ok := appKey(clean); ok {
		for _, e := range t.apps[key] {
			if e.matches(clean) {
				return e, true
			}
		}
		return nil, true
	}
	for _, e := range t.platform {
		if e.matches(clean) {
			return e, false
		}
	}
	return nil, false
}

type atomicTable = atomic.Pointer[table]
