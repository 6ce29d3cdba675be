package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFrameworks(t *testing.T) {
	got := Frameworks()
	if want := []string{"nextjs", "fastapi-react"}; !slices.Equal(got, want) {
		t.Fatalf("Frameworks() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Frameworks()[0] != "nextjs" {
		t.Fatal("Frameworks() returned shared state")
	}
}

// hostileName exercises every escaping path: quotes, backslashes, markup, non-ASCII.
const hostileName = `Bob's "Best" <App> \ & Co – ünïcode`

func TestRenderEachTemplate(t *testing.T) {
	for _, fw := range Frameworks() {
		t.Run(fw, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ws")
			if err := Render(fw, dir, Vars{AppName: hostileName, Slug: "best-app"}); err != nil {
				t.Fatalf("Render: %v", err)
			}
			m, err := LoadManifest(dir)
			if err != nil {
				t.Fatalf("LoadManifest of the rendered template: %v", err)
			}
			if m.Framework != fw {
				t.Errorf("manifest framework = %q, want %q", m.Framework, fw)
			}
			var files int
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					if isSkipped(d.Name()) {
						t.Errorf("rendered a build or dependency folder: %s", p)
					}
					return nil
				}
				files++
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if bytes.Contains(data, []byte("__MGX_APP_")) {
					t.Errorf("%s still holds a placeholder", p)
				}
				if strings.HasSuffix(p, ".json") && !json.Valid(data) {
					t.Errorf("%s is not valid JSON after rendering", p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if files < 20 {
				t.Errorf("rendered only %d files", files)
			}
			for _, s := range m.Services {
				pkg := filepath.Join(dir, s.Dir, "package.json")
				if data, err := os.ReadFile(pkg); err == nil {
					var p struct{ Name string }
					if err := json.Unmarshal(data, &p); err != nil || !strings.HasPrefix(p.Name, "best-app") {
						t.Errorf("%s name = %q (err %v), want the slug", pkg, p.Name, err)
					}
					if _, err := os.Stat(filepath.Join(dir, s.Dir, "package-lock.json")); err != nil {
						t.Errorf("%s has no package-lock.json: %v", s.Name, err)
					}
				}
				if s.Dockerfile != "" {
					if _, err := os.Stat(filepath.Join(dir, s.Dockerfile)); err != nil {
						t.Errorf("service %s: dockerfile: %v", s.Name, err)
					}
				}
			}
			for _, f := range []string{"README.md", "AGENTS.md", ".gitignore"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
		})
	}
}

// TestRenderEscapesTheAppName checks the name lands intact in a TS/Python string literal
// and HTML-escaped in markup.
func TestRenderEscapesTheAppName(t *testing.T) {
	literal := regexp.MustCompile(`APP_NAME = ("(?:[^"\\]|\\.)*")`)
	cases := []struct{ framework, file, markup string }{
		{"nextjs", "lib/app.ts", ""},
		{"fastapi-react", "backend/app/config.py", "frontend/index.html"},
		{"fastapi-react", "frontend/src/app.ts", ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			if err := Render(c.framework, dir, Vars{AppName: hostileName, Slug: "x"}); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			m := literal.FindSubmatch(data)
			if m == nil {
				t.Fatalf("no APP_NAME string literal in %s", c.file)
			}
			var got string
			if err := json.Unmarshal(m[1], &got); err != nil || got != hostileName {
				t.Errorf("APP_NAME literal %s decodes to %q (err %v), want %q", m[1], got, err, hostileName)
			}
			if c.markup != "" {
				html, err := os.ReadFile(filepath.Join(dir, c.markup))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(html, []byte("<title>Bob&#39;s &#34;Best&#34; &lt;App&gt; \\ &amp; Co")) {
					t.Errorf("%s title not HTML-escaped:\n%s", c.markup, html)
				}
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	good := Vars{AppName: "Demo", Slug: "demo"}
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(aFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		framework string
		dir       string
		vars      Vars
		want      error
	}{
		{"unknown framework", "rails", t.TempDir(), good, ErrUnknownFramework},
		{"empty framework", "", t.TempDir(), good, ErrUnknownFramework},
		{"path-like framework", "../nextjs", t.TempDir(), good, ErrUnknownFramework},
		{"non-empty dir", "nextjs", nonEmpty, good, ErrDirNotEmpty},
		{"empty app name", "nextjs", t.TempDir(), Vars{AppName: "  ", Slug: "demo"}, ErrInvalidVars},
		{"control characters in name", "nextjs", t.TempDir(), Vars{AppName: "a\nb", Slug: "demo"}, ErrInvalidVars},
		{"long name", "nextjs", t.TempDir(), Vars{AppName: strings.Repeat("x", 101), Slug: "demo"}, ErrInvalidVars},
		{"invalid UTF-8 name", "nextjs", t.TempDir(), Vars{AppName: "\xff", Slug: "demo"}, ErrInvalidVars},
		{"uppercase slug", "nextjs", t.TempDir(), Vars{AppName: "Demo", Slug: "Demo"}, ErrInvalidVars},
		{"slug with slash", "nextjs", t.TempDir(), Vars{AppName: "Demo", Slug: "a/b"}, ErrInvalidVars},
		{"slug with trailing hyphen", "nextjs", t.TempDir(), Vars{AppName: "Demo", Slug: "demo-"}, ErrInvalidVars},
		{"empty slug", "nextjs", t.TempDir(), Vars{AppName: "Demo"}, ErrInvalidVars},
		{"long slug", "nextjs", t.TempDir(), Vars{AppName: "Demo", Slug: strings.Repeat("a", 64)}, ErrInvalidVars},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Render(c.framework, c.dir, c.vars)
			if !errors.Is(err, c.want) {
				t.Fatalf("Render = %v, want %v", err, c.want)
			}
			if c.dir == nonEmpty {
				if data, _ := os.ReadFile(filepath.Join(nonEmpty, "keep.txt")); string(data) != "mine" {
					t.Error("Render touched the existing file")
				}
			}
		})
	}
	t.Run("dir is a file", func(t *testing.T) {
		if err := Render("nextjs", aFile, good); err == nil {
			t.Fatal("Render into a file succeeded")
		}
	})
}

func TestRenderSkipsBuildFoldersAndKeepsBinaries(t *testing.T) {
	binary := append([]byte{0x89, 'P', 'N', 'G', 0}, []byte("__MGX_APP_NAME__")...)
	src := fstest.MapFS{
		"README.md":                      {Data: []byte("# __MGX_APP_NAME__ (__MGX_APP_SLUG__)\n")},
		"logo.png":                       {Data: binary},
		"latin1.txt":                     {Data: []byte("caf\xe9 __MGX_APP_NAME__")},
		"node_modules/x/index.js":        {Data: []byte("x")},
		"web/.next/cache":                {Data: []byte("x")},
		"api/app/__pycache__/m.pyc":      {Data: []byte("x")},
		"api/.venv/bin/python":           {Data: []byte("x")},
		"web/dist/index.html":            {Data: []byte("x")},
		"web/tsconfig.tsbuildinfo":       {Data: []byte("x")},
		"api/app/main.py":                {Data: []byte(`NAME = "__MGX_APP_NAME__"`)},
		"web/app/items/[id]/route.ts":    {Data: []byte("export {}")},
		"web/.gitignore":                 {Data: []byte("node_modules/\n")},
		"api/.pytest_cache/v/cache/last": {Data: []byte("x")},
	}
	dir := t.TempDir()
	if err := render(src, dir, Vars{AppName: `Q"A`, Slug: "q-a"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(got)
	want := []string{"README.md", "api/app/main.py", "latin1.txt", "logo.png", "web/.gitignore", "web/app/items/[id]/route.ts"}
	if !slices.Equal(got, want) {
		t.Fatalf("rendered files = %v, want %v", got, want)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read("README.md"); got != "# Q\"A (q-a)\n" {
		t.Errorf("README.md = %q", got)
	}
	if got := read("api/app/main.py"); got != `NAME = "Q\"A"` {
		t.Errorf("main.py = %q", got)
	}
	if got := read("logo.png"); got != string(binary) {
		t.Errorf("binary file changed: %q", got)
	}
	if got := read("latin1.txt"); got != "caf\xe9 __MGX_APP_NAME__" {
		t.Errorf("non-UTF-8 file changed: %q", got)
	}
}
