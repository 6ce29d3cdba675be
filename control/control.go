// Package control holds what the control plane serves beyond its components'
// own handlers: the OpenAPI description of the public API.
package control

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapi []byte

// OpenAPI serves GET /api/openapi.json.
type OpenAPI struct{}

// Mount registers the route.
func (OpenAPI) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(openapi)
	})
}
