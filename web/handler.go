package web

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Handler serves an SPA from an fs.FS: files as they are, hashed assets cached for a
// year, and index.html (never cached) for every other path so client routes work.
type Handler struct {
	FS fs.FS
}

// csp allows only same-origin scripts; styles inline for CodeMirror; frames from self
// for the preview of /dev/<slug>/; connections to self (API, SSE, WebSockets).
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; " +
	"frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'; object-src 'none'"

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	if name != "" && name != "index.html" {
		if f, err := fs.Stat(h.FS, name); err == nil && !f.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			http.ServeFileFS(w, r, h.FS, name)
			return
		}
		if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
			// A missing asset is a 404, not the app: a stale page must not get HTML as JS.
			http.NotFound(w, r)
			return
		}
	}
	h.serveIndex(w, r)
}

func (h Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", csp)
	index, err := fs.ReadFile(h.FS, "index.html")
	if err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuilt))
		return
	}
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>MGX</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto">
<h1>MGX is running</h1><p>The web UI was not built into this binary.
Build it with <code>make build</code> (which runs <code>npm run build</code> in <code>web/</code>).
The API answers at <a href="/api/openapi.json">/api</a>.</p></body>`
