// Package workspace keeps each app's source tree on disk under <data-dir>/workspaces/<id>
// and serves the files API of DESIGN.md. Every path is opened through os.Root and checked
// first: no "..", absolute path, NUL byte, backslash, encoded slash or symlink gets a
// request outside (or through a link inside) the workspace.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Errors of the package; handlers map them to statuses.
var (
	// ErrNotFound: no such workspace or file.
	ErrNotFound = errors.New("workspace: not found")
	// ErrInvalidPath: a path that is not a clean relative path inside the workspace.
	ErrInvalidPath = errors.New("workspace: invalid path")
)

// Config configures the workspaces on disk.
type Config struct {
	// DataDir is MGX's data directory; workspaces live in DataDir/workspaces/<id>. Required.
	DataDir string
	// MaxFileBytes bounds one file written or read through the API; default 10 MiB.
	MaxFileBytes int64
	// MaxTreeEntries bounds a tree listing; default 20000 (the answer says "truncated").
	MaxTreeEntries int
	// OwnerUID and OwnerGID, when >= 0, own new workspaces and every file the API writes
	// (the dev containers' non-root user, 1000:1000 with the MGX images, when MGX runs as
	// root). Default -1: leave ownership to the process.
	OwnerUID, OwnerGID int
}

// Workspaces are the app workspaces on disk.
type Workspaces struct {
	cfg  Config
	base string

	mu    sync.Mutex
	locks map[string]*sync.Mutex // one writer at a time per workspace (If-Match checks)
}

// New prepares DataDir/workspaces.
func New(cfg Config) (*Workspaces, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("workspace: DataDir is required")
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = 10 << 20
	}
	if cfg.MaxTreeEntries <= 0 {
		cfg.MaxTreeEntries = 20000
	}
	if cfg.OwnerUID == 0 && cfg.OwnerGID == 0 {
		// The zero Config means "leave ownership alone", not "chown to root".
		cfg.OwnerUID, cfg.OwnerGID = -1, -1
	}
	base, err := filepath.Abs(filepath.Join(cfg.DataDir, "workspaces"))
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Workspaces{cfg: cfg, base: base, locks: map[string]*sync.Mutex{}}, nil
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Dir returns the workspace's directory on the host (it may not exist yet).
func (w *Workspaces) Dir(id string) (string, error) {
	if !idRE.MatchString(id) {
		return "", fmt.Errorf("%w: workspace id %q", ErrInvalidPath, id)
	}
	return filepath.Join(w.base, id), nil
}

// Create makes the workspace directory (idempotent) and returns it.
func (w *Workspaces) Create(ctx context.Context, id string) (string, error) {
	dir, err := w.Dir(id)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create workspace %s: %w", id, err)
	}
	if w.cfg.OwnerUID >= 0 {
		if err := os.Chown(dir, w.cfg.OwnerUID, w.cfg.OwnerGID); err != nil {
			return "", fmt.Errorf("create workspace %s: %w", id, err)
		}
	}
	return dir, nil
}

// Chown gives every file of the workspace to OwnerUID:OwnerGID (no-op when unset), e.g.
// after a template was rendered into it by MGX running as root.
func (w *Workspaces) Chown(ctx context.Context, id string) error {
	if w.cfg.OwnerUID < 0 {
		return nil
	}
	dir, err := w.Dir(id)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, w.cfg.OwnerUID, w.cfg.OwnerGID)
	})
}

// Remove deletes the workspace and everything in it.
func (w *Workspaces) Remove(ctx context.Context, id string) error {
	dir, err := w.Dir(id)
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// Open returns an os.Root on the workspace; ErrNotFound when it does not exist.
func (w *Workspaces) Open(id string) (*os.Root, error) {
	dir, err := w.Dir(id)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("workspace %s: %w", id, ErrNotFound)
	}
	return r, err
}

func (w *Workspaces) lock(id string) func() {
	w.mu.Lock()
	l, ok := w.locks[id]
	if !ok {
		l = &sync.Mutex{}
		w.locks[id] = l
	}
	w.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// CheckPath reports whether p is a clean relative path that may name a file in a
// workspace: not empty, not absolute, no "." or ".." or empty segment, no NUL, control
// character or backslash, at most 4096 bytes with segments of at most 255. It wraps
// ErrInvalidPath with the reason.
func CheckPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrInvalidPath, p, why) }
	switch {
	case p == "":
		return bad("is empty")
	case len(p) > 4096:
		return bad("is longer than 4096 bytes")
	case strings.HasPrefix(p, "/"):
		return bad("is absolute")
	case strings.ContainsRune(p, '\\'):
		return bad("contains a backslash")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return bad("contains a control character")
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return bad("has an empty segment")
		case seg == "." || seg == "..":
			return bad("has a " + seg + " segment")
		case len(seg) > 255:
			return bad("has a segment longer than 255 bytes")
		}
	}
	if !filepath.IsLocal(p) {
		return bad("is not local")
	}
	return nil
}

// noSymlinks refuses p when it or any directory on the way is a symbolic link: os.Root
// keeps links from leaving the workspace, and this keeps the API from following links at
// all (an editor writing "a/b" must write a/b, not wherever a link points). A missing
// component ends the check: nothing below it can be a link yet.
func noSymlinks(root *os.Root, p string) error {
	i := 0
	for {
		j := strings.IndexByte(p[i:], '/')
		prefix := p
		if j >= 0 {
			prefix = p[:i+j]
		}
		fi, err := root.Lstat(prefix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %q: %v", ErrInvalidPath, p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %q goes through the symbolic link %q", ErrInvalidPath, p, prefix)
		}
		if j < 0 {
			return nil
		}
		i += j + 1
	}
}
