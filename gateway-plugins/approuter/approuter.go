// Package approuter is the one place that decides how a request under an app's subpath is
// forwarded: path cleaning (double slashes, dot segments), the prefix check that keeps a
// request inside its app, the redirect of "/apps/<slug>" to "/apps/<slug>/", and stripping
// the app's BASE_PATH for backends that do not know it. The embedded gateway and the APISIX
// plugin `mgx-app-router` both call Rewrite, so the two gateways cannot disagree.
package approuter

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// PluginName is the name of the APISIX ext-plugin and of the conf entry on routes.
const PluginName = "mgx-app-router"

// MaxPathLen bounds the request path; longer paths get 414.
const MaxPathLen = 8 << 10

// Kinds of app routes. Platform routes never go through the plugin.
const (
	KindDev  = "dev"
	KindProd = "prod"
)

// ErrInvalidConf is wrapped by every ParseConf error.
var ErrInvalidConf = errors.New("invalid mgx-app-router conf")

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidSlug reports whether s is a slug the gateway accepts (lowercase letters, digits and
// inner hyphens, at most 63 characters).
func ValidSlug(s string) bool { return slugRE.MatchString(s) }

// BasePath is the BASE_PATH of an app in a kind: "/dev/<slug>" or "/apps/<slug>".
func BasePath(kind, slug string) string {
	if kind == KindDev {
		return "/dev/" + slug
	}
	return "/apps/" + slug
}

// Conf is the per-route configuration, sent as JSON in APISIX's ext-plugin-pre-req conf.
type Conf struct {
	// Route is the MGX route id (for logs and the X-MGX-Route header).
	Route string `json:"route"`
	// Kind is "dev" or "prod".
	Kind string `json:"kind"`
	// Slug is the app's slug.
	Slug string `json:"slug"`
	// Prefix is the route's path prefix, with a trailing slash: "/apps/<slug>/" or
	// "/apps/<slug>/api/". Requests outside it are refused.
	Prefix string `json:"prefix"`
	// Strip removes BasePath (not Prefix) before forwarding: "/apps/a/api/x" → "/api/x".
	Strip bool `json:"strip,omitempty"`

	basePath string
}

// BasePath is "/dev/<slug>" or "/apps/<slug>".
func (c *Conf) BasePath() string { return c.basePath }

// ParseConf validates a JSON conf once; the result is safe for concurrent use.
func ParseConf(in []byte) (*Conf, error) {
	var c Conf
	if err := json.Unmarshal(in, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConf, err)
	}
	if err := c.Init(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Init validates a Conf built in code and computes its base path.
func (c *Conf) Init() error {
	var problems []string
	if c.Kind != KindDev && c.Kind != KindProd {
		problems = append(problems, fmt.Sprintf("kind %q is not dev or prod", c.Kind))
	}
	if !ValidSlug(c.Slug) {
		problems = append(problems, fmt.Sprintf("slug %q is not valid", c.Slug))
	}
	c.basePath = BasePath(c.Kind, c.Slug)
	if !strings.HasPrefix(c.Prefix, c.basePath+"/") || !strings.HasSuffix(c.Prefix, "/") ||
		Clean(c.Prefix) != c.Prefix {
		problems = append(problems, fmt.Sprintf("prefix %q is not a clean path under %s/ ending in /", c.Prefix, c.basePath))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConf, strings.Join(problems, "; "))
	}
	return nil
}

// Result says what to do with a request. Status 0 means forward with Path; otherwise answer
// Status (308 with Location, or a 4xx).
type Result struct {
	Status   int
	Path     string
	Location string
	Reason   string
}

// Rewrite decides for a request path. The path may be escaped (the embedded gateway passes
// URL.EscapedPath(), so "%2F" stays "%2F" and is never taken for a separator) or decoded
// (APISIX passes nginx's $uri); the result is in the same form.
func Rewrite(c *Conf, path string) Result {
	clean, res := check(path)
	if res.Status != 0 {
		return res
	}
	if !strings.HasPrefix(clean, c.Prefix) {
		if clean == c.Prefix[:len(c.Prefix)-1] {
			if c.Prefix == c.basePath+"/" {
				// The app's own root without its slash ("/apps/a"): the app decides, since
				// frameworks disagree (Next.js serves its basePath without the slash and
				// redirects the slashed form there; a redirect here would loop).
				if c.Strip {
					return Result{Path: "/"}
				}
				return Result{Path: clean}
			}
			return Result{Status: http.StatusPermanentRedirect, Location: c.Prefix, Reason: "add trailing slash"}
		}
		return Result{Status: http.StatusNotFound, Reason: "path is outside the route " + c.Prefix}
	}
	if c.Strip {
		return Result{Path: clean[len(c.basePath):]}
	}
	return Result{Path: clean}
}

// Clean returns the cleaned path, or "" when it is refused (see Check).
func Clean(path string) string {
	clean, res := check(path)
	if res.Status != 0 {
		return ""
	}
	return clean
}

// Check cleans a path: empty segments (double slashes) and "." segments go, ".." removes
// the segment before it; the dots may be escaped ("%2e"). It refuses, with a status, paths
// that are too long, not absolute, hold control characters or NUL, or climb above the root.
// A trailing slash is kept. "%2F" is data, not a separator, and is kept as is.
func Check(path string) (string, Result) { return check(path) }

func check(path string) (string, Result) {
	if len(path) > MaxPathLen {
		return "", Result{Status: http.StatusRequestURITooLong, Reason: "path too long"}
	}
	if path == "" || path[0] != '/' {
		return "", Result{Status: http.StatusBadRequest, Reason: "path must start with /"}
	}
	dirty := false
	for i := 0; i < len(path); i++ {
		b := path[i]
		switch {
		case b < 0x20 || b == 0x7f:
			return "", Result{Status: http.StatusBadRequest, Reason: "control character in path"}
		case b == '%' && i+2 < len(path) && path[i+1] == '0' && path[i+2] == '0':
			return "", Result{Status: http.StatusBadRequest, Reason: "NUL in path"}
		case b == '/' && i+1 < len(path) && (path[i+1] == '/' || path[i+1] == '.' || path[i+1] == '%'):
			dirty = true
		}
	}
	if !dirty {
		return path, Result{}
	}
	return cleanSlow(path)
}

// dotSegment classifies a segment: 1 for ".", 2 for "..", 0 otherwise (escaped dots count).
func dotSegment(seg string) int {
	n := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case i+2 < len(seg) && seg[i] == '%' && seg[i+1] == '2' && (seg[i+2] == 'e' || seg[i+2] == 'E'):
			i += 3
		default:
			return 0
		}
		n++
		if n > 2 {
			return 0
		}
	}
	return n
}

func cleanSlow(path string) (string, Result) {
	segs := make([]string, 0, 8)
	trailing := false
	for rest := path[1:]; ; {
		seg, after, more := strings.Cut(rest, "/")
		switch dotSegment(seg) {
		case 1:
			trailing = true
		case 2:
			if len(segs) == 0 {
				return "", Result{Status: http.StatusBadRequest, Reason: "path climbs above the root"}
			}
			segs = segs[:len(segs)-1]
			trailing = true
		default:
			if seg != "" {
				segs = append(segs, seg)
				trailing = false
			} else {
				trailing = true
			}
		}
		if !more {
			break
		}
		rest = after
	}
	var b strings.Builder
	b.Grow(len(path))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || b.Len() == 0 {
		b.WriteByte('/')
	}
	return b.String(), Result{}
}
