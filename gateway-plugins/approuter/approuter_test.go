package approuter

import (
	"net/url"
	"strings"
	"testing"
)

func mustConf(t testing.TB, kind, slug, prefix string, strip bool) *Conf {
	t.Helper()
	c := &Conf{Route: "r", Kind: kind, Slug: slug, Prefix: prefix, Strip: strip}
	if err := c.Init(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRewrite(t *testing.T) {
	front := mustConf(t, KindProd, "a", "/apps/a/", false)
	api := mustConf(t, KindProd, "a", "/apps/a/api/", true)
	dev := mustConf(t, KindDev, "a", "/dev/a/", true)
	long := "/apps/a/" + strings.Repeat("x", MaxPathLen)
	tests := []struct {
		name     string
		conf     *Conf
		path     string
		status   int
		want     string
		location string
	}{
		{name: "keep base path for frontend", conf: front, path: "/apps/a/index.html", want: "/apps/a/index.html"},
		{name: "root of app", conf: front, path: "/apps/a/", want: "/apps/a/"},
		{name: "strip base path for backend", conf: api, path: "/apps/a/api/health", want: "/api/health"},
		{name: "strip dev base path", conf: dev, path: "/dev/a/src/main.tsx", want: "/src/main.tsx"},
		{name: "escaped slash kept", conf: api, path: "/apps/a/api/x%2Fy", want: "/api/x%2Fy"},
		{name: "escaped slash kept in frontend", conf: front, path: "/apps/a/x%2Fy", want: "/apps/a/x%2Fy"},
		{name: "escaped slash is not a separator for dot segments", conf: front, path: "/apps/a/x%2F..%2Fy", want: "/apps/a/x%2F..%2Fy"},
		{name: "double slashes collapse", conf: api, path: "/apps//a///api//x", want: "/api/x"},
		{name: "dot segment inside app", conf: front, path: "/apps/a/x/../y/./z", want: "/apps/a/y/z"},
		{name: "escaped dot segments inside app", conf: front, path: "/apps/a/x/%2e%2E/y", want: "/apps/a/y"},
		{name: "trailing dot keeps slash", conf: front, path: "/apps/a/x/.", want: "/apps/a/x/"},
		{name: "dot segments leave the app", conf: front, path: "/apps/a/../b/secret", status: 404},
		{name: "escaped dots leave the app", conf: front, path: "/apps/a/%2e%2e/b/", status: 404},
		{name: "climb above root", conf: front, path: "/apps/a/../../../etc/passwd", status: 400},
		{name: "sibling slug is not inside", conf: front, path: "/apps/ab/x", status: 404},
		{name: "sibling slug exact", conf: front, path: "/apps/ab", status: 404},
		{name: "app root without slash goes to the app", conf: front, path: "/apps/a", want: "/apps/a"},
		{name: "stripped dev root without slash is /", conf: dev, path: "/dev/a", want: "/"},
		{name: "api without slash is outside api route", conf: api, path: "/apps/a/apix", status: 404},
		{name: "api exact redirects", conf: api, path: "/apps/a/api", status: 308, location: "/apps/a/api/"},
		{name: "very long path", conf: front, path: long, status: 414},
		{name: "relative path", conf: front, path: "apps/a/", status: 400},
		{name: "empty path", conf: front, path: "", status: 400},
		{name: "NUL", conf: front, path: "/apps/a/x%00", status: 400},
		{name: "control character", conf: front, path: "/apps/a/x\ny", status: 400},
		{name: "decoded form from APISIX", conf: api, path: "/apps/a/api/a b", want: "/api/a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Rewrite(tt.conf, tt.path)
			if got.Status != tt.status {
				t.Fatalf("Rewrite(%q) status = %d (%s), want %d", tt.path, got.Status, got.Reason, tt.status)
			}
			if got.Path != tt.want || got.Location != tt.location {
				t.Fatalf("Rewrite(%q) = path %q location %q, want %q %q", tt.path, got.Path, got.Location, tt.want, tt.location)
			}
		})
	}
}

func TestParseConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "prod frontend", in: `{"route":"r","kind":"prod","slug":"a","prefix":"/apps/a/"}`, ok: true},
		{name: "dev backend", in: `{"route":"r","kind":"dev","slug":"my-app","prefix":"/dev/my-app/api/","strip":true}`, ok: true},
		{name: "not json", in: `{`},
		{name: "bad kind", in: `{"kind":"platform","slug":"a","prefix":"/apps/a/"}`},
		{name: "bad slug", in: `{"kind":"prod","slug":"A_b","prefix":"/apps/A_b/"}`},
		{name: "prefix of another app", in: `{"kind":"prod","slug":"a","prefix":"/apps/b/"}`},
		{name: "prefix of the other kind", in: `{"kind":"dev","slug":"a","prefix":"/apps/a/"}`},
		{name: "prefix without slash", in: `{"kind":"prod","slug":"a","prefix":"/apps/a"}`},
		{name: "unclean prefix", in: `{"kind":"prod","slug":"a","prefix":"/apps/a/../b/"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConf([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseConf(%s) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && c.BasePath() == "" {
				t.Fatal("no base path")
			}
		})
	}
}

func TestRewriteAllocs(t *testing.T) {
	c := mustConf(t, KindProd, "a", "/apps/a/api/", true)
	n := testing.AllocsPerRun(100, func() { Rewrite(c, "/apps/a/api/items/42") })
	if n != 0 {
		t.Fatalf("clean path allocates %v times, want 0", n)
	}
}

// FuzzRewrite checks the invariants that keep apps apart: whatever the path, a forwarded
// request is inside the route's prefix once cleaned, carries no dot segment or empty
// segment, and keeps every escaped slash.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{"/apps/a/x", "/apps/a/x%2Fy", "/apps/a/../b/", "//apps/a//", "/apps/a/%2e%2e/b",
		"/apps/ab/", "/apps/a", "/apps/a/api/./../x", "/apps/a/.%2e/a/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, path string, strip bool) {
		c := mustConf(t, KindProd, "a", "/apps/a/", strip)
		res := Rewrite(c, path)
		if res.Status != 0 {
			if res.Status < 300 || res.Status >= 500 {
				t.Fatalf("status %d for %q", res.Status, path)
			}
			return
		}
		out := res.Path
		full := out
		if strip {
			full = "/apps/a" + out
		}
		if !strings.HasPrefix(full, "/apps/a/") && full != "/apps/a" && full != "/apps/a/" {
			t.Fatalf("%q forwarded as %q: outside the app", path, out)
		}
		if strings.Contains(out, "//") {
			t.Fatalf("%q forwarded as %q: empty segment", path, out)
		}
		for _, seg := range strings.Split(out, "/") {
			if dotSegment(seg) != 0 {
				t.Fatalf("%q forwarded as %q: dot segment %q", path, out, seg)
			}
			if u, err := url.PathUnescape(seg); err == nil && (u == "." || u == "..") {
				t.Fatalf("%q forwarded as %q: escaped dot segment %q", path, out, seg)
			}
		}
		if strings.Count(strings.ToLower(out), "%2f") != strings.Count(strings.ToLower(path), "%2f") &&
			!strings.Contains(path, "..") && !strings.Contains(strings.ToLower(path), "%2e") {
			t.Fatalf("%q forwarded as %q: escaped slashes changed", path, out)
		}
		if again := Rewrite(c, full); again.Status != 0 || again.Path != out {
			t.Fatalf("not idempotent: %q → %q → %+v", path, out, again)
		}
	})
}
