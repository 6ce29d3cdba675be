package tools

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newSet(t *testing.T) (*Set, string) {
	t.Helper()
	dir := t.TempDir()
	w, err := OpenWorkspace(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &Set{Workspace: w, Runner: &LocalRunner{Dir: dir}}, dir
}

func call(t *testing.T, s *Set, name string, a map[string]any) Result {
	t.Helper()
	b, _ := json.Marshal(a)
	r, err := s.Execute(t.Context(), name, string(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func TestPathsStayInWorkspace(t *testing.T) {
	s, dir := newSet(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cret"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tool string
		args       map[string]any
	}{
		{"dotdot read", ReadFile, map[string]any{"path": "../x"}},
		{"dotdot inner", ReadFile, map[string]any{"path": "a/../../x"}},
		{"absolute", ReadFile, map[string]any{"path": "/etc/passwd"}},
		{"symlink read", ReadFile, map[string]any{"path": "link/secret"}},
		{"symlink write", WriteFile, map[string]any{"path": "link/new", "content": "x"}},
		{"dotdot write", WriteFile, map[string]any{"path": "../evil", "content": "x"}},
		{"dotdot delete", DeleteFile, map[string]any{"path": "../x"}},
		{"dotdot list", ListFiles, map[string]any{"path": ".."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.tool, tc.args)
			if !r.IsError || strings.Contains(r.Output, "s3cret") {
				t.Fatalf("escaped: %+v", r)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("wrote through a symlink")
	}
}

func TestConflictRule(t *testing.T) {
	tests := []struct {
		name    string
		steps   func(t *testing.T, s *Set, dir string) Result
		wantErr string
		want    string // file content at the end
	}{
		{"create needs no read", func(t *testing.T, s *Set, dir string) Result {
			return call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "new"})
		}, "", "new"},
		{"overwrite unread file", func(t *testing.T, s *Set, dir string) Result {
			os.MkdirAll(filepath.Join(dir, "a"), 0o755)
			os.WriteFile(filepath.Join(dir, "a/b.txt"), []byte("person"), 0o644)
			return call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "agent"})
		}, "read it first", "person"},
		{"overwrite after read", func(t *testing.T, s *Set, dir string) Result {
			os.MkdirAll(filepath.Join(dir, "a"), 0o755)
			os.WriteFile(filepath.Join(dir, "a/b.txt"), []byte("person"), 0o644)
			call(t, s, ReadFile, map[string]any{"path": "a/b.txt"})
			return call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "agent"})
		}, "", "agent"},
		{"person edits after agent read", func(t *testing.T, s *Set, dir string) Result {
			call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "v1"})
			os.WriteFile(filepath.Join(dir, "a/b.txt"), []byte("person v2"), 0o644)
			return call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "agent v3"})
		}, "changed by someone else", "person v2"},
		{"edit after person change", func(t *testing.T, s *Set, dir string) Result {
			call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "hello world"})
			os.WriteFile(filepath.Join(dir, "a/b.txt"), []byte("hello there world"), 0o644)
			return call(t, s, EditFile, map[string]any{"path": "a/b.txt", "old_string": "world", "new_string": "moon"})
		}, "changed by someone else", "hello there world"},
		{"re-read resolves conflict", func(t *testing.T, s *Set, dir string) Result {
			call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "hello world"})
			os.WriteFile(filepath.Join(dir, "a/b.txt"), []byte("hello there world"), 0o644)
			call(t, s, ReadFile, map[string]any{"path": "a/b.txt"})
			return call(t, s, EditFile, map[string]any{"path": "a/b.txt", "old_string": "world", "new_string": "moon"})
		}, "", "hello there moon"},
		{"edit not unique", func(t *testing.T, s *Set, dir string) Result {
			call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "x x"})
			return call(t, s, EditFile, map[string]any{"path": "a/b.txt", "old_string": "x", "new_string": "y"})
		}, "occurs 2 times", "x x"},
		{"edit missing text", func(t *testing.T, s *Set, dir string) Result {
			call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "abc"})
			return call(t, s, EditFile, map[string]any{"path": "a/b.txt", "old_string": "zzz", "new_string": "y"})
		}, "does not occur", "abc"},
		{"delete changed file", func(t *testing.T, s *Set, dir string) Result {
			call(t, s, WriteFile, map[string]any{"path": "a/b.txt", "content": "mine"})
			os.WriteFile(filepath.Join(dir, "a/b.txt"), []byte("theirs"), 0o644)
			return call(t, s, DeleteFile, map[string]any{"path": "a/b.txt"})
		}, "changed by someone else", "theirs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newSet(t)
			r := tc.steps(t, s, dir)
			if tc.wantErr == "" && r.IsError {
				t.Fatalf("unexpected error: %s", r.Output)
			}
			if tc.wantErr != "" && (!r.IsError || !strings.Contains(r.Output, tc.wantErr)) {
				t.Fatalf("got %+v, want error containing %q", r, tc.wantErr)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "a/b.txt"))
			if string(got) != tc.want {
				t.Fatalf("content = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChangesAndListing(t *testing.T) {
	s, dir := newSet(t)
	r := call(t, s, WriteFile, map[string]any{"path": "src/app.ts", "content": "export const x = 1;\n"})
	if len(r.Changes) != 1 || r.Changes[0] != (Change{Path: "src/app.ts", Op: "created"}) {
		t.Fatalf("changes = %+v", r.Changes)
	}
	r = call(t, s, EditFile, map[string]any{"path": "/workspace/src/app.ts", "old_string": "= 1", "new_string": "= 2"})
	if r.IsError || r.Changes[0].Op != "modified" {
		t.Fatalf("edit = %+v", r)
	}
	os.MkdirAll(filepath.Join(dir, "node_modules/pkg"), 0o755)
	os.WriteFile(filepath.Join(dir, "node_modules/pkg/index.js"), []byte("x = 2"), 0o644)
	r = call(t, s, ListFiles, nil)
	if !strings.Contains(r.Output, "src/app.ts") || strings.Contains(r.Output, "node_modules") {
		t.Fatalf("list = %s", r.Output)
	}
	r = call(t, s, SearchFiles, map[string]any{"pattern": `x = \d`})
	if !strings.Contains(r.Output, "src/app.ts:1: export const x = 2;") || strings.Contains(r.Output, "node_modules") {
		t.Fatalf("search = %s", r.Output)
	}
	r = call(t, s, DeleteFile, map[string]any{"path": "src/app.ts"})
	if r.IsError || r.Changes[0].Op != "deleted" {
		t.Fatalf("delete = %+v", r)
	}
	if r := call(t, s, ReadFile, map[string]any{"path": "src/app.ts"}); !r.IsError || !strings.Contains(r.Output, "not found") {
		t.Fatalf("read deleted = %+v", r)
	}
	if r := call(t, s, "format_disk", nil); !r.IsError {
		t.Fatalf("unknown tool = %+v", r)
	}
}

func TestRunCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     map[string]any
		wantCode int
		wantOut  string
		isError  bool
	}{
		{"success", map[string]any{"command": "echo hello && pwd"}, 0, "hello", false},
		{"exit code", map[string]any{"command": "echo oops >&2; exit 3"}, 3, "oops", true},
		{"subdir", map[string]any{"command": "pwd", "dir": "sub"}, 0, "/sub", false},
		{"timeout kills children", map[string]any{"command": "sleep 30 & sleep 30", "timeout_seconds": 1}, -1, "timed out", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newSet(t)
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			start := time.Now()
			r := call(t, s, RunCommand, tc.args)
			if r.ExitCode == nil || *r.ExitCode != tc.wantCode || r.IsError != tc.isError || !strings.Contains(r.Output, tc.wantOut) {
				t.Fatalf("result = %+v", r)
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
		})
	}
}

func TestTrim(t *testing.T) {
	s := strings.Repeat("a", 100) + "END"
	got := Trim(s, 40)
	if !strings.HasSuffix(got, "END") || !strings.HasPrefix(got, "aaaa") || !strings.Contains(got, "omitted") {
		t.Fatalf("trim = %q", got)
	}
}

func TestFetchPreview(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dev/app/api/health" {
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	s, _ := newSet(t)
	s.PreviewURL = srv.URL + "/dev/app/"
	r := call(t, s, FetchPreview, map[string]any{"path": "api/health"})
	if r.IsError || r.PreviewStatus != 200 || !strings.Contains(r.Output, `"ok"`) {
		t.Fatalf("fetch = %+v", r)
	}
	r = call(t, s, FetchPreview, map[string]any{"path": "/missing"})
	if !r.IsError || r.PreviewStatus != 404 {
		t.Fatalf("fetch missing = %+v", r)
	}
	s.PreviewURL = ""
	if r := call(t, s, FetchPreview, nil); !r.IsError {
		t.Fatalf("fetch without preview = %+v", r)
	}
}
