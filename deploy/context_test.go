package deploy

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteContext(t *testing.T) {
	ws := t.TempDir()
	files := map[string]string{
		"mgx.json":                       "{}",
		"backend/Dockerfile":             "FROM x",
		"backend/app/main.py":            "app = 1",
		"backend/.venv/bin/python":       "elf",
		"backend/secrets.env":            "TOKEN=1",
		"backend/.dockerignore":          "*.env\nlogs/\n!logs/keep.txt\n",
		"backend/logs/a.log":             "x",
		"backend/logs/keep.txt":          "x",
		"frontend/node_modules/x/a.js":   "x",
		"frontend/src/App.tsx":           "x",
		"frontend/dist/index.html":       "x",
		"frontend/.next/cache":           "x",
		"docker/frontend.Dockerfile":     "FROM y",
		"backend/app/__pycache__/m.pyc":  "x",
		"backend/app/routes/__init__.py": "",
	}
	for name, content := range files {
		p := filepath.Join(ws, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	os.Symlink("/etc/passwd", filepath.Join(ws, "backend/app/link"))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("CA"), 0o644)

	cases := []struct {
		name, dir, dockerfile, ca string
		wantDF                    string
		want, absent              []string
	}{
		{"backend with .dockerignore", "backend", "backend/Dockerfile", ca, "Dockerfile",
			[]string{"Dockerfile", "app/main.py", "app/routes/__init__.py", "logs/keep.txt", ".dockerignore", CAFileName, "app/link"},
			[]string{".venv/bin/python", "secrets.env", "logs/a.log", "app/__pycache__/m.pyc", "../mgx.json"}},
		{"frontend with a Dockerfile elsewhere", "frontend", "docker/frontend.Dockerfile", "", injectedDockerfile,
			[]string{"src/App.tsx", injectedDockerfile},
			[]string{"node_modules/x/a.js", "dist/index.html", ".next/cache", CAFileName}},
		{"workspace root", ".", "backend/Dockerfile", "", "backend/Dockerfile",
			[]string{"mgx.json", "backend/Dockerfile", "frontend/src/App.tsx"},
			[]string{"frontend/node_modules/x/a.js", "backend/.venv/bin/python"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			df, err := writeContext(&buf, ws, tc.dir, tc.dockerfile, tc.ca, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if df != tc.wantDF {
				t.Errorf("dockerfile %q, want %q", df, tc.wantDF)
			}
			var names []string
			tr := tar.NewReader(&buf)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, strings.TrimSuffix(h.Name, "/"))
				if h.Name == "app/link" && (h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc/passwd") {
					t.Errorf("symlink sent as %v %q", h.Typeflag, h.Linkname)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(names, w) {
					t.Errorf("missing %s in %v", w, names)
				}
			}
			for _, a := range tc.absent {
				if slices.Contains(names, a) {
					t.Errorf("%s was sent", a)
				}
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := writeContext(io.Discard, ws, "backend", "backend/Dockerfile", "", 10)
		var ce *contextError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), ".dockerignore") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("context outside the workspace", func(t *testing.T) {
		if _, err := writeContext(io.Discard, ws, "../", "Dockerfile", "", 1<<20); err == nil {
			t.Fatal("escaped the workspace")
		}
	})
}

func TestDockerHost(t *testing.T) {
	cases := map[string]string{
		"mongodb://127.0.0.1:27017/":             "mongodb://host.docker.internal:27017/",
		"http://localhost:8080/otlp":             "http://host.docker.internal:8080/otlp",
		"mongodb://u:p@127.0.0.1:1/db":           "mongodb://u:p@host.docker.internal:1/db",
		"http://mgx.example.com/oauth2":          "http://mgx.example.com/oauth2",
		"http://127.0.0.1":                       "http://host.docker.internal",
		"plain value with 127.0.0.1 in the text": "plain value with 127.0.0.1 in the text",
	}
	for in, want := range cases {
		if got := dockerHost(in); got != want {
			t.Errorf("dockerHost(%q) = %q, want %q", in, got, want)
		}
	}
}
