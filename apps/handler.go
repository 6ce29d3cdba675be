package apps

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
)

// StatusProvider reports an app's live development-environment status (the devenv
// package), merged into API responses as "dev". It is optional.
type StatusProvider interface {
	DevStatus(ctx context.Context, slug string) (any, error)
}

// HandlerConfig configures the apps API.
type HandlerConfig struct {
	// Apps is the app store. Required.
	Apps *Store
	// Status, when set, replaces the stored "dev" field with the live status.
	Status StatusProvider
	// Logger; default discards.
	Logger *slog.Logger
}

// Handler serves GET /api/apps and GET /api/apps/{slug}.
type Handler struct {
	cfg HandlerConfig
	log *slog.Logger
}

// NewHandler returns the apps API.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Apps == nil {
		return nil, errors.New("apps: HandlerConfig.Apps is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, log: log}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/apps", h.list)
	mux.HandleFunc("GET /api/apps/{slug}", h.get)
}

// appView is an app as the API shows it (never the sealed secret: App hides it from JSON).
type appView struct {
	*App
	Dev any `json:"dev,omitempty"`
}

func (h *Handler) view(ctx context.Context, a *App) appView {
	v := appView{App: a}
	if a.Dev != nil {
		v.Dev = a.Dev
	}
	if h.cfg.Status != nil {
		st, err := h.cfg.Status.DevStatus(ctx, a.Slug)
		if err != nil {
			h.log.WarnContext(ctx, "dev status", "slug", a.Slug, "err", err)
		} else if st != nil {
			v.Dev = st
		}
	}
	return v
}

// principal returns the platform user calling, or answers 401/403.
func principal(w http.ResponseWriter, r *http.Request) (identity.Principal, bool) {
	p, ok := identity.From(r.Context())
	if !ok || p.UserID == "" {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return p, false
	}
	if p.Realm != "" && p.Realm != "mgx" { // an app's end user, not a platform user
		httpjson.Error(w, http.StatusForbidden, "forbidden", "only MGX users may use the MGX API")
		return p, false
	}
	return p, true
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	owner := p.UserID
	if p.Admin {
		owner = ""
	}
	list, err := h.cfg.Apps.List(r.Context(), owner, 0)
	if err != nil {
		h.log.ErrorContext(r.Context(), "list apps", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot list apps")
		return
	}
	out := make([]appView, 0, len(list))
	for i := range list {
		out = append(out, h.view(r.Context(), &list[i]))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"apps": out})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	a, err := h.cfg.Apps.Get(r.Context(), r.PathValue("slug"))
	if err != nil && !errors.Is(err, ErrNotFound) {
		h.log.ErrorContext(r.Context(), "get app", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot read the app")
		return
	}
	// Someone else's app is as absent as a missing one: its existence is not revealed.
	if err != nil || !p.CanAccess(a.OwnerID) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such app")
		return
	}
	httpjson.Write(w, http.StatusOK, h.view(r.Context(), a))
}
