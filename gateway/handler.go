package gateway

import (
	"context"
	"net/http"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
)

// Handler exposes the gateway's status to admins: GET /api/gateway answers Status (the
// driver, the last reconcile, every route and whether the driver took it, and the Admin
// API's errors).
type Handler struct {
	Gateway *Gateway
}

// Mount registers the routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/gateway", h.status)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.From(r.Context())
	switch {
	case !ok:
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return
	case !p.Admin:
		httpjson.Error(w, http.StatusForbidden, "forbidden", "admins only")
		return
	}
	httpjson.Write(w, http.StatusOK, h.Gateway.Status())
}

// WakerFunc adapts a function to Waker, e.g. to map the dev environment's not-found error
// to ErrUnknownApp.
type WakerFunc func(ctx context.Context, slug string) error

// Ensure calls f.
func (f WakerFunc) Ensure(ctx context.Context, slug string) error { return f(ctx, slug) }

var _ Waker = WakerFunc(nil)
