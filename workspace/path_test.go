package workspace_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/workspace"
)

var pathSeeds = []string{
	"a", "src/app/page.tsx", ".env", "a/.hidden/b", "ünïcødé/файл.txt",
	"", ".", "..", "../x", "a/../../x", "a/..", "/etc/passwd", "//x", "a//b", "a/./b", "a/",
	"a\x00b", "a\\..\\b", "..\\x", "C:\\x", "a\nb", strings.Repeat("a", 256), "a/" + strings.Repeat("b/", 2100),
}

func TestCheckPath(t *testing.T) {
	for _, p := range pathSeeds {
		err := workspace.CheckPath(p)
		if err != nil && !errors.Is(err, workspace.ErrInvalidPath) {
			t.Errorf("CheckPath(%q) = %v, not ErrInvalidPath", p, err)
		}
		checkAccepted(t, p, err)
	}
	for _, ok := range []string{"a", "src/app/page.tsx", ".env", "a/.hidden/b", "ünïcødé/файл.txt"} {
		if err := workspace.CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q) refused a good path: %v", ok, err)
		}
	}
}

// checkAccepted asserts an accepted path is local, relative and clean.
func checkAccepted(t *testing.T, p string, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if !filepath.IsLocal(p) || filepath.Clean(p) != p || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, "/") {
		t.Fatalf("CheckPath accepted %q", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." || seg == "" {
			t.Fatalf("CheckPath accepted %q with segment %q", p, seg)
		}
	}
}

// FuzzCheckPath: whatever CheckPath accepts, a write through os.Root lands inside the
// workspace. Run with: go test ./workspace -fuzz FuzzCheckPath -fuzztime 30s
func FuzzCheckPath(f *testing.F) {
	for _, p := range pathSeeds {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := workspace.CheckPath(p)
		checkAccepted(t, p, err)
		if err != nil {
			return
		}
		dir := t.TempDir()
		ws := filepath.Join(dir, "ws")
		if err := os.Mkdir(ws, 0o755); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(ws)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return // e.g. a name too long for the file system
		}
		if err := root.WriteFile(p, []byte("x"), 0o644); err != nil {
			return
		}
		abs, err := filepath.Abs(filepath.Join(ws, p))
		if err != nil || !strings.HasPrefix(abs, ws+string(filepath.Separator)) {
			t.Fatalf("%q resolved to %q outside %q", p, abs, ws)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("%q wrote beside the workspace: %v", p, entries)
		}
	})
}
