package gateway

import (
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
)

// FuzzRouting checks that whatever the path, the embedded gateway's routing decision
// never sends a request to an app other than the one its cleaned path names, and that the
// forwarded path stays inside the matched route.
func FuzzRouting(f *testing.F) {
	routes := append(PlatformRoutes("m:1"),
		AppRoute(KindProd, "a", "/", false, "a:1"),
		AppRoute(KindProd, "a", "/api", true, "a:2"),
		AppRoute(KindProd, "ab", "/", false, "ab:1"),
		AppRoute(KindDev, "a", "/", true, "da:1"),
	)
	for i := range routes {
		routes[i].Normalize()
	}
	tbl := newTable(routes)
	for _, s := range []string{"/apps/a/x", "/apps/ab/../a/api/x", "/apps/a%2F../ab/", "//apps//a//api", "/dev/a/%2e%2e/", "/apps/a", "/apps/abc/", "/api/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		clean, res := approuter.Check(path)
		if res.Status != 0 {
			return
		}
		e, isApp := tbl.match(clean)
		_, kind, slug, _ := appKey(clean)
		if e == nil {
			return
		}
		if isApp != (e.Kind != KindPlatform) {
			t.Fatalf("%q (clean %q): app path matched %s", path, clean, e.ID)
		}
		if !isApp {
			return
		}
		if e.Slug != slug || e.Kind != kind {
			t.Fatalf("%q (clean %q) names %s/%s but matched %s", path, clean, kind, slug, e.ID)
		}
		out := approuter.Rewrite(e.conf, clean)
		if out.Status != 0 {
			return
		}
		full := out.Path
		if e.Strip {
			full = e.BasePath() + out.Path
		}
		if !strings.HasPrefix(full, e.Prefix) && full+"/" != e.Prefix {
			t.Fatalf("%q forwarded as %q outside %s", path, out.Path, e.Prefix)
		}
	})
}
