package workspace

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store"
)

// OwnerLookup finds who owns a workspace and the session whose event stream its file
// changes go to. It returns an error wrapping ErrNotFound or store.ErrNotFound for an
// unknown workspace. The core implements it over its apps/sessions collections.
type OwnerLookup interface {
	WorkspaceOwner(ctx context.Context, workspaceID string) (ownerID, sessionID string, err error)
}

// EventSink receives FILE_CHANGED events (events.Store satisfies it).
type EventSink interface {
	Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error
}

// EventFileChanged is the event type emitted for every write, delete and move.
const EventFileChanged = "FILE_CHANGED"

// SkippedDirs are left out of tree listings: dependency and build folders.
var SkippedDirs = []string{"node_modules", ".next", "dist", ".venv", ".git", "__pycache__"}

// Handler serves the files API:
//
//	GET    /api/workspaces/{id}/files            tree {"files":[{path,type,size}],"truncated"}
//	GET    /api/workspaces/{id}/files/{path...}  raw bytes, ETag
//	PUT    /api/workspaces/{id}/files/{path...}  raw bytes; If-Match (stale → 412), If-None-Match: *
//	DELETE /api/workspaces/{id}/files/{path...}  file or folder; If-Match honoured for files
//	POST   /api/workspaces/{id}/move             {"from","to","overwrite"}
//
// Callers see only their own workspaces (admins all); others get 404.
type Handler struct {
	Workspaces *Workspaces
	Owners     OwnerLookup
	Events     EventSink    // may be nil
	Logger     *slog.Logger // may be nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/workspaces/{id}/files", h.tree)
	mux.HandleFunc("GET /api/workspaces/{id}/files/{path...}", h.read)
	mux.HandleFunc("HEAD /api/workspaces/{id}/files/{path...}", h.read)
	mux.HandleFunc("PUT /api/workspaces/{id}/files/{path...}", h.write)
	mux.HandleFunc("DELETE /api/workspaces/{id}/files/{path...}", h.delete)
	mux.HandleFunc("POST /api/workspaces/{id}/move", h.move)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// access authorises the caller and opens the workspace. On failure it has answered.
type access struct {
	id, sessionID string
	who           identity.Principal
	root          *os.Root
}

func (h *Handler) open(w http.ResponseWriter, r *http.Request) (*access, bool) {
	who, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return nil, false
	}
	id := r.PathValue("id")
	notFound := func() { httpjson.Error(w, http.StatusNotFound, "not_found", "no such workspace") }
	if !idRE.MatchString(id) {
		notFound()
		return nil, false
	}
	owner, session, err := h.Owners.WorkspaceOwner(r.Context(), id)
	if errors.Is(err, ErrNotFound) || errors.Is(err, store.ErrNotFound) {
		notFound()
		return nil, false
	}
	if err != nil {
		h.logger().ErrorContext(r.Context(), "workspace owner lookup", "workspace", id, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "workspace lookup failed")
		return nil, false
	}
	if !who.CanAccess(owner) {
		notFound() // do not reveal that it exists
		return nil, false
	}
	root, err := h.Workspaces.Open(id)
	if errors.Is(err, ErrNotFound) {
		notFound()
		return nil, false
	}
	if err != nil {
		h.logger().ErrorContext(r.Context(), "open workspace", "workspace", id, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot open the workspace")
		return nil, false
	}
	return &access{id: id, sessionID: session, who: who, root: root}, true
}

// filePath extracts and checks {path...}; on failure it has answered 400.
func filePath(w http.ResponseWriter, r *http.Request, root *os.Root) (string, bool) {
	// The mux decodes %2F into "/": refuse encoded separators outright, so a path means
	// the same thing to every proxy on the way.
	if esc := strings.ToLower(r.URL.EscapedPath()); strings.Contains(esc, "%2f") || strings.Contains(esc, "%5c") || strings.Contains(esc, "%00") {
		httpjson.Error(w, http.StatusBadRequest, "invalid_path", "encoded slashes, backslashes and NUL bytes are not allowed in paths")
		return "", false
	}
	p := r.PathValue("path")
	if err := checkIn(root, p); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid_path", err.Error())
		return "", false
	}
	return p, true
}

func checkIn(root *os.Root, p string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	return noSymlinks(root, p)
}

// Entry is one file or folder of a tree listing.
type Entry struct {
	Path string `json:"path"`
	Type string `json:"type"` // "file", "dir" or "symlink"
	Size int64  `json:"size"`
}

func (h *Handler) tree(w http.ResponseWriter, r *http.Request) {
	a, ok := h.open(w, r)
	if !ok {
		return
	}
	defer a.root.Close()
	files, truncated, err := Tree(a.root, h.Workspaces.cfg.MaxTreeEntries)
	if err != nil {
		h.logger().ErrorContext(r.Context(), "workspace tree", "workspace", a.id, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot list the workspace")
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"files": files, "truncated": truncated})
}

// Tree lists the workspace without SkippedDirs, in lexical order, up to max entries.
func Tree(root *os.Root, max int) ([]Entry, bool, error) {
	files := []Entry{}
	truncated := false
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // vanished while listing
		}
		if p == "." {
			return nil
		}
		if d.IsDir() && slices.Contains(SkippedDirs, d.Name()) {
			return fs.SkipDir
		}
		if d.Name() == ".mgx-install.lock" {
			return nil // the dev environment's install lock, not the app's code
		}
		if len(files) >= max {
			truncated = true
			return fs.SkipAll
		}
		e := Entry{Path: p, Type: "file"}
		switch {
		case d.IsDir():
			e.Type = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			e.Type = "symlink"
		case !d.Type().IsRegular():
			return nil // sockets, fifos
		default:
			if fi, err := d.Info(); err == nil {
				e.Size = fi.Size()
			}
		}
		files = append(files, e)
		return nil
	})
	return files, truncated, err
}

// ETag is the strong entity tag of content.
func ETag(content []byte) string {
	sum := sha256.Sum256(content)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// readFile reads p (a regular file) whole, up to max bytes.
func readFile(root *os.Root, p string, max int64) ([]byte, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errIsDir
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrInvalidPath)
	}
	if fi.Size() > max {
		return nil, errTooBig
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		return nil, errTooBig
	}
	return b, err
}

var (
	errIsDir  = errors.New("is a directory")
	errTooBig = errors.New("file too large")
)

func (h *Handler) fileError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such file")
	case errors.Is(err, errIsDir):
		httpjson.Error(w, http.StatusBadRequest, "is_directory", "the path is a folder")
	case errors.Is(err, errTooBig):
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("files are limited to %d bytes", h.Workspaces.cfg.MaxFileBytes))
	case errors.Is(err, ErrInvalidPath), isEscape(err):
		httpjson.Error(w, http.StatusBadRequest, "invalid_path", "the path is not inside the workspace")
	default:
		h.logger().ErrorContext(r.Context(), "workspace file", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "file operation failed")
	}
}

// isEscape recognises os.Root refusing a path that leaves the root.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

func setFileHeaders(w http.ResponseWriter, etag string) {
	hd := w.Header()
	hd.Set("ETag", etag)
	// Workspace files are someone's code: never let a browser render them on MGX's origin.
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("Cache-Control", "no-cache")
}

func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	a, ok := h.open(w, r)
	if !ok {
		return
	}
	defer a.root.Close()
	p, ok := filePath(w, r, a.root)
	if !ok {
		return
	}
	b, err := readFile(a.root, p, h.Workspaces.cfg.MaxFileBytes)
	if err != nil {
		h.fileError(w, r, err)
		return
	}
	etag := ETag(b)
	setFileHeaders(w, etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchETag(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// matchETag reports whether an If-Match / If-None-Match list names etag ("*" matches any).
func matchETag(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// currentETag is the file's ETag, "" when it does not exist.
func currentETag(root *os.Root, p string, max int64) (string, error) {
	b, err := readFile(root, p, max)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if errors.Is(err, errTooBig) {
		return `"too-large"`, nil // exists; matches only "*"
	}
	if err != nil {
		return "", err
	}
	return ETag(b), nil
}

// preconditions applies If-Match and If-None-Match; false means it answered 412.
func preconditions(w http.ResponseWriter, r *http.Request, current string) bool {
	if im := r.Header.Get("If-Match"); im != "" && (current == "" || !matchETag(im, current)) {
		if current != "" {
			w.Header().Set("ETag", current)
		}
		httpjson.Error(w, http.StatusPreconditionFailed, "precondition_failed", "the file changed since it was read (If-Match)")
		return false
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && current != "" && matchETag(inm, current) {
		w.Header().Set("ETag", current)
		httpjson.Error(w, http.StatusPreconditionFailed, "precondition_failed", "the file exists (If-None-Match)")
		return false
	}
	return true
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request) {
	a, ok := h.open(w, r)
	if !ok {
		return
	}
	defer a.root.Close()
	p, ok := filePath(w, r, a.root)
	if !ok {
		return
	}
	max := h.Workspaces.cfg.MaxFileBytes
	if r.ContentLength > max {
		h.fileError(w, r, errTooBig)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fileError(w, r, errTooBig)
			return
		}
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "cannot read the request body")
		return
	}
	unlock := h.Workspaces.lock(a.id)
	defer unlock()
	if fi, err := a.root.Lstat(p); err == nil && fi.IsDir() {
		h.fileError(w, r, errIsDir)
		return
	}
	current, err := currentETag(a.root, p, max)
	if err != nil {
		h.fileError(w, r, err)
		return
	}
	if !preconditions(w, r, current) {
		return
	}
	if err := h.Workspaces.writeFile(a.root, p, body); err != nil {
		h.fileError(w, r, err)
		return
	}
	etag := ETag(body)
	h.emit(r.Context(), a, map[string]any{"path": p, "op": "write", "etag": etag, "size": len(body)})
	w.Header().Set("ETag", etag)
	status := http.StatusOK
	if current == "" {
		status = http.StatusCreated
	}
	httpjson.Write(w, status, map[string]any{"path": p, "size": len(body), "etag": etag})
}

// writeFile writes atomically: a temporary file beside the target, then a rename, so a
// reader (or a dev server's watcher) never sees half a file.
func (ws *Workspaces) writeFile(root *os.Root, p string, body []byte) error {
	if dir := path.Dir(p); dir != "." {
		if err := ws.mkdirAll(root, dir); err != nil {
			return err
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(p), ".mgx-tmp-"+hex.EncodeToString(rnd[:]))
	mode := os.FileMode(0o644)
	if fi, err := root.Stat(p); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, bytes.NewReader(body))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && ws.cfg.OwnerUID >= 0 {
		err = root.Lchown(tmp, ws.cfg.OwnerUID, ws.cfg.OwnerGID)
	}
	if err == nil {
		err = root.Rename(tmp, p)
	}
	if err != nil {
		_ = root.Remove(tmp)
	}
	return err
}

// mkdirAll creates dir and its parents, owned like the workspace.
func (ws *Workspaces) mkdirAll(root *os.Root, dir string) error {
	if fi, err := root.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %q is a file", ErrInvalidPath, dir)
		}
		return nil
	}
	if parent := path.Dir(dir); parent != "." {
		if err := ws.mkdirAll(root, parent); err != nil {
			return err
		}
	}
	if err := root.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if ws.cfg.OwnerUID >= 0 {
		return root.Lchown(dir, ws.cfg.OwnerUID, ws.cfg.OwnerGID)
	}
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	a, ok := h.open(w, r)
	if !ok {
		return
	}
	defer a.root.Close()
	p, ok := filePath(w, r, a.root)
	if !ok {
		return
	}
	unlock := h.Workspaces.lock(a.id)
	defer unlock()
	fi, err := a.root.Lstat(p)
	if err != nil {
		h.fileError(w, r, err)
		return
	}
	if !fi.IsDir() {
		current, err := currentETag(a.root, p, h.Workspaces.cfg.MaxFileBytes)
		if err != nil {
			h.fileError(w, r, err)
			return
		}
		if !preconditions(w, r, current) {
			return
		}
	}
	if err := a.root.RemoveAll(p); err != nil {
		h.fileError(w, r, err)
		return
	}
	h.emit(r.Context(), a, map[string]any{"path": p, "op": "delete"})
	w.WriteHeader(http.StatusNoContent)
}

type moveRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Overwrite bool   `json:"overwrite,omitempty"`
}

func (h *Handler) move(w http.ResponseWriter, r *http.Request) {
	a, ok := h.open(w, r)
	if !ok {
		return
	}
	defer a.root.Close()
	var req moveRequest
	if httpjson.Decode(w, r, &req, 64<<10) != nil {
		return
	}
	for _, p := range []string{req.From, req.To} {
		if err := checkIn(a.root, p); err != nil {
			httpjson.Error(w, http.StatusBadRequest, "invalid_path", err.Error())
			return
		}
	}
	if req.From == req.To || strings.HasPrefix(req.To, req.From+"/") {
		httpjson.Error(w, http.StatusBadRequest, "invalid_path", "cannot move a path onto or into itself")
		return
	}
	unlock := h.Workspaces.lock(a.id)
	defer unlock()
	if _, err := a.root.Lstat(req.From); err != nil {
		h.fileError(w, r, err)
		return
	}
	if fi, err := a.root.Lstat(req.To); err == nil {
		if !req.Overwrite || fi.IsDir() {
			httpjson.Error(w, http.StatusConflict, "exists", "the destination exists")
			return
		}
	}
	if dir := path.Dir(req.To); dir != "." {
		if err := h.Workspaces.mkdirAll(a.root, dir); err != nil {
			h.fileError(w, r, err)
			return
		}
	}
	if err := a.root.Rename(req.From, req.To); err != nil {
		h.fileError(w, r, err)
		return
	}
	data := map[string]any{"path": req.To, "from": req.From, "op": "move"}
	if etag, err := currentETag(a.root, req.To, h.Workspaces.cfg.MaxFileBytes); err == nil && etag != "" {
		data["etag"] = etag
	}
	h.emit(r.Context(), a, data)
	httpjson.Write(w, http.StatusOK, map[string]any{"from": req.From, "to": req.To})
}

// emit sends FILE_CHANGED into the workspace's session stream; a failure is logged, not
// returned: the file operation has happened.
func (h *Handler) emit(ctx context.Context, a *access, data map[string]any) {
	if h.Events == nil || a.sessionID == "" {
		return
	}
	data["by"] = a.who.UserID
	data["workspace_id"] = a.id
	if err := h.Events.Emit(context.WithoutCancel(ctx), a.sessionID, EventFileChanged, "user", data); err != nil {
		h.logger().ErrorContext(ctx, "emit FILE_CHANGED", "workspace", a.id, "err", err)
	}
}

// Guard answers 400 for a files-API request whose path has dot segments, before
// http.ServeMux would clean it and redirect (a ".." in a URL path never reaches a
// handler: the mux sends a 301 to the cleaned path instead). Wrap the server's root
// handler with it to give clients the clear 400 DESIGN.md asks for.
func Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/workspaces/") {
			for seg := range strings.SplitSeq(r.URL.Path, "/") {
				if seg == "." || seg == ".." {
					httpjson.Error(w, http.StatusBadRequest, "invalid_path", "dot segments are not allowed in paths")
					return
				}
			}
			if strings.Contains(r.URL.Path[len("/api/workspaces/"):], "//") || strings.ContainsRune(r.URL.Path, 0) {
				httpjson.Error(w, http.StatusBadRequest, "invalid_path", "empty segments and NUL bytes are not allowed in paths")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
