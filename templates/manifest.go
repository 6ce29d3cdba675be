package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
)

// ManifestFile is the name of the manifest at a workspace's root.
const ManifestFile = "mgx.json"

// maxManifestBytes bounds what LoadManifest reads; real manifests are about 2 KB.
const maxManifestBytes = 1 << 20

// ErrInvalidManifest is wrapped by every validation error of LoadManifest.
var ErrInvalidManifest = errors.New("invalid mgx.json")

// Manifest describes how MGX runs a workspace: one entry per process.
type Manifest struct {
	// Framework is one of Frameworks().
	Framework string `json:"framework"`
	// Services run side by side; requests go to the one with the longest matching Route.
	Services []Service `json:"services"`
}

// Service is one process of an app. Each runs in Dir with the env of DESIGN.md ("Apps under
// a subpath": PORT, BASE_PATH, PUBLIC_URL, MGX_OAUTH_*, MONGODB_*, OTEL_*).
type Service struct {
	// Name is unique in the manifest: lowercase letters, digits and hyphens ("web", "api").
	Name string `json:"name"`
	// Dir is the working directory, relative to the workspace root ("." for the root).
	Dir string `json:"dir"`
	// Route is the path under BASE_PATH served by this service: "/" or "/api" (no trailing
	// slash). The longest matching route wins.
	Route string `json:"route"`
	// StripPrefix: true means the gateway removes BASE_PATH before forwarding (the service
	// sees "/api/health"); false means the service gets the full path and is itself built
	// with the base path (Next.js basePath, Vite base).
	StripPrefix bool `json:"strip_prefix"`
	// Install installs dependencies; it runs first and again whenever a Watch file changes.
	Install []string `json:"install,omitempty"`
	// Dev runs the development server with live reload, listening on $PORT.
	Dev []string `json:"dev"`
	// Build is the production build for machines without Docker (may be empty).
	Build []string `json:"build,omitempty"`
	// Start runs the production server after Build, listening on $PORT.
	Start []string `json:"start"`
	// Watch lists dependency files, relative to Dir, whose change re-runs Install.
	Watch []string `json:"watch,omitempty"`
	// Health is a path relative to BASE_PATH that answers 200 when the service is healthy
	// (empty: none).
	Health string `json:"health,omitempty"`
	// Dockerfile is relative to the workspace root; the build context is Dir.
	Dockerfile string `json:"dockerfile,omitempty"`
}

// LoadManifest reads and validates dir/mgx.json. Errors name the file and every problem;
// validation errors wrap ErrInvalidManifest.
func LoadManifest(dir string) (*Manifest, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ManifestFile, err)
	}
	defer root.Close()
	f, err := root.Open(ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ManifestFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ManifestFile, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidManifest, maxManifestBytes)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range m.Services {
		if st, err := root.Stat(s.Dir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("service %q: dir %q is not a directory in the workspace", s.Name, s.Dir))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	return m, nil
}

// ParseManifest decodes and validates a manifest without looking at the file system.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

var serviceNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Validate reports every problem with m at once, wrapped in ErrInvalidManifest.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains(frameworks, m.Framework) {
		bad("framework %q is not one of %s", m.Framework, strings.Join(frameworks, ", "))
	}
	if len(m.Services) == 0 {
		bad("no services")
	}
	names := map[string]bool{}
	routes := map[string]string{}
	for i, s := range m.Services {
		id := fmt.Sprintf("service %d (%q)", i, s.Name)
		if !serviceNameRE.MatchString(s.Name) {
			bad("%s: name must be lowercase letters, digits and hyphens", id)
		} else if names[s.Name] {
			bad("%s: duplicate name", id)
		}
		names[s.Name] = true
		if !relPathOK(s.Dir) {
			bad("%s: dir %q must be a relative path inside the workspace", id, s.Dir)
		}
		if !routeOK(s.Route) {
			bad("%s: route %q must be \"/\" or start with \"/\" without a trailing slash", id, s.Route)
		} else if other, dup := routes[s.Route]; dup {
			bad("%s: route %q is also used by %q", id, s.Route, other)
		} else {
			routes[s.Route] = s.Name
		}
		if s.Route == "/" && s.StripPrefix {
			bad("%s: route \"/\" cannot strip the prefix", id)
		}
		for field, cmd := range map[string][]string{"dev": s.Dev, "start": s.Start, "install": s.Install, "build": s.Build} {
			required := field == "dev" || field == "start"
			if len(cmd) == 0 && required {
				bad("%s: %s command is empty", id, field)
			}
			if len(cmd) > 0 && strings.TrimSpace(cmd[0]) == "" {
				bad("%s: %s command has an empty program", id, field)
			}
		}
		for _, w := range s.Watch {
			if !relPathOK(w) || w == "." {
				bad("%s: watch %q must be a file path relative to the service dir", id, w)
			}
		}
		if s.Health != "" && (!strings.HasPrefix(s.Health, "/") || strings.ContainsAny(s.Health, " \t\r\n?#")) {
			bad("%s: health %q must be a path starting with \"/\"", id, s.Health)
		}
		if s.Dockerfile != "" && (!relPathOK(s.Dockerfile) || s.Dockerfile == ".") {
			bad("%s: dockerfile %q must be a file path relative to the workspace root", id, s.Dockerfile)
		}
	}
	if len(m.Services) > 0 && routes["/"] == "" {
		bad("no service has route \"/\"")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	return nil
}

// ServiceFor returns the service that serves p, a path relative to BASE_PATH ("/api/items"),
// by longest route prefix on segment boundaries.
func (m *Manifest) ServiceFor(p string) (*Service, bool) {
	var best *Service
	for i := range m.Services {
		s := &m.Services[i]
		r := s.Route
		match := r == "/" || p == r || strings.HasPrefix(p, r+"/")
		if match && (best == nil || len(r) > len(best.Route)) {
			best = s
		}
	}
	return best, best != nil
}

func relPathOK(p string) bool {
	return p != "" && !strings.ContainsRune(p, '\\') && !path.IsAbs(p) && path.Clean(p) == p &&
		p != ".." && !strings.HasPrefix(p, "../")
}

func routeOK(r string) bool {
	if r == "/" {
		return true
	}
	return strings.HasPrefix(r, "/") && !strings.HasSuffix(r, "/") && path.Clean(r) == r &&
		!strings.ContainsAny(r, " \t\r\n?#%")
}
