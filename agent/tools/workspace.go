// Package tools gives the agents their hands: file tools confined to the workspace through
// os.Root, a search, a command runner and a preview fetcher. It knows nothing about events;
// the team turns each call and its Result into TOOL_START/TOOL_END/FILE_CHANGED.
package tools

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Errors the file tools return (wrapped); their text goes back to the model.
var (
	// ErrConflict: the file changed since the agent read it, or the agent never read it.
	ErrConflict = errors.New("conflict")
	// ErrNotFound: no such file.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: bad arguments (a path outside the workspace, an edit that does not match once).
	ErrInvalid = errors.New("invalid")
)

// MaxFileSize caps files the tools read or write.
const MaxFileSize = 1 << 20

// Skipped folders are never listed or searched: dependencies and build output.
var Skipped = map[string]bool{"node_modules": true, ".next": true, "dist": true, ".venv": true,
	".git": true, "__pycache__": true, ".pytest_cache": true, "coverage": true, ".ruff_cache": true}

// Workspace is the app's source tree. It remembers the hash of every file the agents read or
// wrote, so that a change made by a person in between is detected before it is overwritten.
// Safe for concurrent use.
type Workspace struct {
	root *os.Root
	dir  string

	mu    sync.Mutex
	known map[string]string // clean relative path → sha256 of the content the agent last saw
}

// OpenWorkspace opens dir; every path is resolved inside it through os.Root, so no "..",
// absolute path or symlink leaves it.
func OpenWorkspace(dir string) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open workspace: %w", err)
	}
	return &Workspace{root: root, dir: abs, known: map[string]string{}}, nil
}

// Dir is the workspace's absolute directory.
func (w *Workspace) Dir() string { return w.dir }

// Close releases the root.
func (w *Workspace) Close() error { return w.root.Close() }

// Clean turns a model-supplied path into a clean workspace-relative one.
func Clean(p string) (string, error) {
	p = strings.TrimSpace(strings.ReplaceAll(p, "\\", "/"))
	p = strings.TrimPrefix(p, "/workspace/")
	p = strings.TrimPrefix(p, "./")
	if p == "" || p == "/workspace" {
		return ".", nil
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is absolute; paths are relative to the workspace", ErrInvalid, p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %q leaves the workspace", ErrInvalid, p)
	}
	return c, nil
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Entry is one listed file or directory.
type Entry struct {
	Path string
	Dir  bool
	Size int64
}

// List walks dir (workspace-relative) and returns files and folders, skipping dependency and
// build folders, at most limit entries.
func (w *Workspace) List(dir string, limit int) ([]Entry, bool, error) {
	dir, err := Clean(dir)
	if err != nil {
		return nil, false, err
	}
	var out []Entry
	truncated := false
	err = fs.WalkDir(w.root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return fmt.Errorf("%w: %s", ErrNotFound, dir)
			}
			return nil
		}
		if p == dir && d.IsDir() {
			return nil
		}
		if Skipped[d.Name()] && d.IsDir() {
			return fs.SkipDir
		}
		if len(out) >= limit {
			truncated = true
			return fs.SkipAll
		}
		e := Entry{Path: p, Dir: d.IsDir()}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			e.Size = info.Size()
		}
		out = append(out, e)
		return nil
	})
	return out, truncated, err
}

// Read returns the content of p and remembers its hash.
func (w *Workspace) Read(p string) ([]byte, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	b, err := w.readRaw(p)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.known[p] = hash(b)
	w.mu.Unlock()
	return b, nil
}

func (w *Workspace) readRaw(p string) ([]byte, error) {
	f, err := w.root.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, p)
		}
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory", ErrInvalid, p)
	}
	if info.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the %d limit", ErrInvalid, p, info.Size(), MaxFileSize)
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// check enforces the conflict rule for changing existing file p with current content cur.
func (w *Workspace) check(p string, cur []byte) error {
	w.mu.Lock()
	h, ok := w.known[p]
	w.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s exists and you have not read it; read it first, then change it", ErrConflict, p)
	}
	if h != hash(cur) {
		return fmt.Errorf("%w: %s was changed by someone else since you read it; read it again and redo your change on the new content", ErrConflict, p)
	}
	return nil
}

// Write creates or replaces p. Replacing needs a prior Read of the current content. It
// reports whether the file was created.
func (w *Workspace) Write(p string, content []byte) (created bool, err error) {
	p, err = Clean(p)
	if err != nil {
		return false, err
	}
	if p == "." {
		return false, fmt.Errorf("%w: a path is required", ErrInvalid)
	}
	if len(content) > MaxFileSize {
		return false, fmt.Errorf("%w: content is %d bytes, over the %d limit", ErrInvalid, len(content), MaxFileSize)
	}
	cur, err := w.readRaw(p)
	switch {
	case errors.Is(err, ErrNotFound):
		created = true
	case err != nil:
		return false, err
	default:
		if err := w.check(p, cur); err != nil {
			return false, err
		}
	}
	if d := path.Dir(p); d != "." {
		if err := w.root.MkdirAll(d, 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := w.root.WriteFile(p, content, 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", p, err)
	}
	w.mu.Lock()
	w.known[p] = hash(content)
	w.mu.Unlock()
	return created, nil
}

// Edit replaces the one occurrence of old in p with new.
func (w *Workspace) Edit(p, old, new string) error {
	p, err := Clean(p)
	if err != nil {
		return err
	}
	if old == "" {
		return fmt.Errorf("%w: old_string is empty; use write_file to create a file", ErrInvalid)
	}
	cur, err := w.readRaw(p)
	if err != nil {
		return err
	}
	if err := w.check(p, cur); err != nil {
		return err
	}
	switch n := bytes.Count(cur, []byte(old)); n {
	case 0:
		return fmt.Errorf("%w: old_string does not occur in %s; read the file and copy the text exactly", ErrInvalid, p)
	case 1:
	default:
		return fmt.Errorf("%w: old_string occurs %d times in %s; include more surrounding lines so it is unique", ErrInvalid, n, p)
	}
	next := bytes.Replace(cur, []byte(old), []byte(new), 1)
	if err := w.root.WriteFile(p, next, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	w.mu.Lock()
	w.known[p] = hash(next)
	w.mu.Unlock()
	return nil
}

// Delete removes file p; if the agent read it, it must be unchanged since.
func (w *Workspace) Delete(p string) error {
	p, err := Clean(p)
	if err != nil {
		return err
	}
	if p == "." {
		return fmt.Errorf("%w: refusing to delete the workspace", ErrInvalid)
	}
	cur, err := w.readRaw(p)
	if err != nil {
		return err
	}
	w.mu.Lock()
	_, read := w.known[p]
	w.mu.Unlock()
	if read {
		if err := w.check(p, cur); err != nil {
			return err
		}
	}
	if err := w.root.Remove(p); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	w.mu.Lock()
	delete(w.known, p)
	w.mu.Unlock()
	return nil
}

// Match is one search hit.
type Match struct {
	Path string
	Line int
	Text string
}

// Search finds lines matching the regular expression pattern under dir, in files whose base
// name matches glob (all when empty), at most limit hits.
func (w *Workspace) Search(pattern, dir, glob string, limit int) ([]Match, bool, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, false, fmt.Errorf("%w: pattern: %v", ErrInvalid, err)
	}
	dir, err = Clean(dir)
	if err != nil {
		return nil, false, err
	}
	var out []Match
	truncated := false
	err = fs.WalkDir(w.root.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if Skipped[d.Name()] && p != dir {
				return fs.SkipDir
			}
			return nil
		}
		if glob != "" {
			if ok, _ := path.Match(glob, d.Name()); !ok {
				return nil
			}
		}
		b, err := w.readRaw(p)
		if err != nil || bytes.IndexByte(b, 0) >= 0 {
			return nil
		}
		for i, line := range strings.Split(string(b), "\n") {
			if re.MatchString(line) {
				if len(out) >= limit {
					truncated = true
					return fs.SkipAll
				}
				if len(line) > 300 {
					line = line[:300] + "…"
				}
				out = append(out, Match{Path: p, Line: i + 1, Text: line})
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, truncated, err
}
