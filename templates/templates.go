// Package templates holds the app templates MGX generates apps from and renders them into
// workspaces. Each template is a complete app (see its AGENTS.md) with an mgx.json manifest
// at its root that tells the runtime how to install, develop, build, start and route it.
package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

//go:embed all:nextjs all:fastapi-react
var files embed.FS

// Placeholders substituted by Render in text files.
const (
	PlaceholderAppName = "__MGX_APP_NAME__"
	PlaceholderAppSlug = "__MGX_APP_SLUG__"
)

var (
	// ErrUnknownFramework is returned for a framework that is not one of Frameworks().
	ErrUnknownFramework = errors.New("unknown framework")
	// ErrDirNotEmpty is returned when Render's target directory already has entries.
	ErrDirNotEmpty = errors.New("directory is not empty")
	// ErrInvalidVars is returned when the app name or slug cannot be rendered.
	ErrInvalidVars = errors.New("invalid template variables")
)

// frameworks lists the templates in the order the UI offers them.
var frameworks = []string{"nextjs", "fastapi-react"}

// Frameworks returns the names of the available templates.
func Frameworks() []string { return slices.Clone(frameworks) }

// skipped names are never rendered, at any depth: dependency, build and cache folders that
// may exist next to the template sources on a developer's machine.
var skipped = map[string]bool{
	"node_modules": true, ".next": true, "dist": true, ".venv": true, "__pycache__": true,
	".pytest_cache": true, ".ruff_cache": true, ".git": true, "coverage": true,
	"next-env.d.ts": true, ".DS_Store": true,
}

func isSkipped(name string) bool {
	return skipped[name] || strings.HasSuffix(name, ".tsbuildinfo") || strings.HasSuffix(name, ".pyc")
}

// Vars are the values substituted into a template.
type Vars struct {
	// AppName is the human name shown in the UI ("Recipe Box"): 1–100 characters, no
	// control characters.
	AppName string
	// Slug is the URL-safe name (`recipe-box`): lowercase letters, digits and inner
	// hyphens, at most 63 characters. It appears in package names and base paths.
	Slug string
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate reports every problem with v at once.
func (v Vars) Validate() error {
	var errs []error
	name := strings.TrimSpace(v.AppName)
	switch {
	case name == "":
		errs = append(errs, errors.New("app name is empty"))
	case !utf8.ValidString(v.AppName):
		errs = append(errs, errors.New("app name is not valid UTF-8"))
	case utf8.RuneCountInString(v.AppName) > 100:
		errs = append(errs, errors.New("app name is longer than 100 characters"))
	case strings.ContainsFunc(v.AppName, unicode.IsControl):
		errs = append(errs, errors.New("app name contains control characters"))
	}
	if !slugRE.MatchString(v.Slug) {
		errs = append(errs, fmt.Errorf("slug %q must be 1-63 lowercase letters, digits or inner hyphens", v.Slug))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidVars, err)
	}
	return nil
}

// Render writes the template for framework into dir, creating dir when needed, and
// substitutes v into text files. It refuses a dir that already has entries.
func Render(framework, dir string, v Vars) error {
	if !slices.Contains(frameworks, framework) {
		return fmt.Errorf("%w %q (want one of %s)", ErrUnknownFramework, framework, strings.Join(frameworks, ", "))
	}
	src, err := fs.Sub(files, framework)
	if err != nil {
		return fmt.Errorf("render %s: %w", framework, err)
	}
	return render(src, dir, v)
}

// render writes the files of src into dir; Render and the tests share it.
func render(src fs.FS, dir string, v Vars) error {
	if err := v.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("render into %s: %w (%d entries)", dir, ErrDirNotEmpty, len(entries))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	defer root.Close()

	r := newReplacers(v)
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if isSkipped(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if err := root.Mkdir(p, 0o755); err != nil {
				return fmt.Errorf("render %s: %w", p, err)
			}
			return nil
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return fmt.Errorf("render %s: %w", p, err)
		}
		if err := root.WriteFile(p, r.apply(p, data), 0o644); err != nil {
			return fmt.Errorf("render %s: %w", p, err)
		}
		return nil
	})
}

// replacers escape the values for the file they land in: the app name is free text, so
// in code it goes through JSON string escaping (valid inside double-quoted JSON, JS/TS
// and Python strings) and in HTML through HTML escaping.
type replacers struct{ code, markup, plain *strings.Replacer }

func newReplacers(v Vars) replacers {
	quoted, _ := json.Marshal(v.AppName) // cannot fail for a string
	inCode := string(quoted[1 : len(quoted)-1])
	return replacers{
		code:   strings.NewReplacer(PlaceholderAppName, inCode, PlaceholderAppSlug, v.Slug),
		markup: strings.NewReplacer(PlaceholderAppName, html.EscapeString(v.AppName), PlaceholderAppSlug, v.Slug),
		plain:  strings.NewReplacer(PlaceholderAppName, v.AppName, PlaceholderAppSlug, v.Slug),
	}
}

func (r replacers) apply(name string, data []byte) []byte {
	if !isText(data) || !bytes.Contains(data, []byte("__MGX_APP_")) {
		return data
	}
	var rep *strings.Replacer
	switch path.Ext(name) {
	case ".json", ".ts", ".tsx", ".js", ".mjs", ".cjs", ".jsx", ".py", ".toml":
		rep = r.code
	case ".html", ".htm", ".svg", ".xml":
		rep = r.markup
	default:
		rep = r.plain
	}
	return []byte(rep.Replace(string(data)))
}

// isText reports whether data looks like UTF-8 text, the way git guesses: no NUL byte in
// the first 8000 bytes and valid UTF-8.
func isText(data []byte) bool {
	head := data[:min(len(data), 8000)]
	return bytes.IndexByte(head, 0) < 0 && utf8.Valid(data)
}
