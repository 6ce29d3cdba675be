package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	h := Handler{FS: fstest.MapFS{
		"index.html":        {Data: []byte("<html>app</html>")},
		"assets/app-abc.js": {Data: []byte("console.log(1)")},
		"favicon.svg":       {Data: []byte("<svg/>")},
	}}
	tests := []struct {
		name, method, path string
		status             int
		body, cache        string
	}{
		{"root", "GET", "/", 200, "app", "no-cache"},
		{"client route falls back to index", "GET", "/sessions/123", 200, "app", "no-cache"},
		{"hashed asset cached", "GET", "/assets/app-abc.js", 200, "console", "immutable"},
		{"plain file", "GET", "/favicon.svg", 200, "svg", "no-cache"},
		{"missing asset is 404", "GET", "/assets/gone.js", 404, "", ""},
		{"missing file with extension is 404", "GET", "/robots.txt", 404, "", ""},
		{"traversal stays inside", "GET", "/../../etc/passwd", 200, "app", "no-cache"},
		{"post refused", "POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("body %q lacks %q", w.Body.String(), tc.body)
			}
			if tc.cache != "" && !strings.Contains(w.Header().Get("Cache-Control"), tc.cache) {
				t.Fatalf("Cache-Control %q lacks %q", w.Header().Get("Cache-Control"), tc.cache)
			}
		})
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	w := httptest.NewRecorder()
	Handler{FS: fstest.MapFS{}}.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make build") {
		t.Fatalf("status %d body %q", w.Code, w.Body.String())
	}
}
