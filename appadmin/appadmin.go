// Package appadmin lets an app's owner manage the app's end users (its realm in the
// OAuth provider) and its database, and lets admins manage platform users. Only the
// app's owner and admins reach an app's routes; everyone else gets 404.
package appadmin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

// AppLookup finds an app by slug.
type AppLookup interface {
	Get(ctx context.Context, slug string) (*apps.App, error)
}

// UserStore is what the handler needs of the provider's user store.
type UserStore interface {
	Get(ctx context.Context, realm, id string) (users.User, error)
	Create(ctx context.Context, nu users.NewUser) (users.User, error)
	List(ctx context.Context, realm string, opt users.ListOptions) ([]users.User, int64, error)
	UpdateName(ctx context.Context, realm, id, name string) (users.User, error)
	SetPassword(ctx context.Context, realm, id, pw string) error
	SetDisabled(ctx context.Context, realm, id string, disabled bool) (users.User, error)
	Delete(ctx context.Context, realm, id string) error
	RevokeTokens(ctx context.Context, id string) error
}

var _ UserStore = (*users.Store)(nil)

// Handler serves /api/apps/{slug}/users, /api/apps/{slug}/db and /api/users/{id}.
type Handler struct {
	Apps  AppLookup
	Users UserStore
	// AppsDB opens an app's database on the apps' MongoDB server.
	AppsDB func(slug string) *mongo.Database
	// Audit is where changes are recorded (collection audit in the MGX database).
	Audit  *mongo.Collection
	Logger *slog.Logger
	// MaxDocumentBytes bounds inserted and replaced documents. Default 1 MiB.
	MaxDocumentBytes int64
}

// Mount registers the routes; the caller puts them behind the bearer-token middleware.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/apps/{slug}/users", h.app(h.listUsers))
	mux.HandleFunc("POST /api/apps/{slug}/users", h.app(h.createUser))
	mux.HandleFunc("GET /api/apps/{slug}/users/{id}", h.app(h.getUser))
	mux.HandleFunc("PATCH /api/apps/{slug}/users/{id}", h.app(h.patchUser))
	mux.HandleFunc("DELETE /api/apps/{slug}/users/{id}", h.app(h.deleteUser))

	mux.HandleFunc("GET /api/apps/{slug}/db/collections", h.app(h.listCollections))
	mux.HandleFunc("GET /api/apps/{slug}/db/collections/{name}/documents", h.app(h.findDocuments))
	mux.HandleFunc("POST /api/apps/{slug}/db/collections/{name}/documents", h.app(h.insertDocument))
	mux.HandleFunc("GET /api/apps/{slug}/db/collections/{name}/documents/{id}", h.app(h.getDocument))
	mux.HandleFunc("PUT /api/apps/{slug}/db/collections/{name}/documents/{id}", h.app(h.replaceDocument))
	mux.HandleFunc("DELETE /api/apps/{slug}/db/collections/{name}/documents/{id}", h.app(h.deleteDocument))
	mux.HandleFunc("GET /api/apps/{slug}/db/collections/{name}/indexes", h.app(h.listIndexes))
	mux.HandleFunc("POST /api/apps/{slug}/db/collections/{name}/indexes", h.app(h.createIndex))
	mux.HandleFunc("DELETE /api/apps/{slug}/db/collections/{name}/indexes/{index}", h.app(h.dropIndex))
	mux.HandleFunc("GET /api/apps/{slug}/db/collections/{name}/export", h.app(h.exportCollection))

	mux.HandleFunc("PATCH /api/users/{id}", h.platformUser(h.patchUser))
	mux.HandleFunc("DELETE /api/users/{id}", h.platformUser(h.deleteUser))
}

// target is what a request acts on: an app's realm and database, or the platform realm.
type target struct {
	caller identity.Principal
	app    *apps.App // nil for platform users
	realm  string
}

// app resolves {slug} for its owner or an admin; anyone else gets 404, as for an app
// that does not exist, so app names do not leak.
func (h *Handler) app(next func(http.ResponseWriter, *http.Request, target)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := identity.From(r.Context())
		if !ok {
			httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
			return
		}
		a, err := h.Apps.Get(r.Context(), r.PathValue("slug"))
		if err != nil || !p.CanAccess(a.OwnerID) {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				h.internal(w, r, err)
				return
			}
			httpjson.Error(w, http.StatusNotFound, "not_found", "no such app")
			return
		}
		next(w, r, target{caller: p, app: a, realm: a.Slug})
	}
}

// platformUser lets admins act on platform users.
func (h *Handler) platformUser(next func(http.ResponseWriter, *http.Request, target)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := identity.From(r.Context())
		if !ok {
			httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
			return
		}
		if !p.Admin {
			httpjson.Error(w, http.StatusForbidden, "forbidden", "only admins manage platform users")
			return
		}
		next(w, r, target{caller: p, realm: users.PlatformRealm})
	}
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	if h.Logger != nil {
		h.Logger.ErrorContext(r.Context(), "appadmin", "path", r.URL.Path, "err", err)
	}
	httpjson.Error(w, http.StatusInternalServerError, "internal", "internal error; see the MGX log")
}

// audit records a change; a failure to record is logged, not fatal to the change.
func (h *Handler) audit(ctx context.Context, t target, action, subject string, detail bson.M) {
	if h.Audit == nil {
		return
	}
	doc := bson.M{"ts": time.Now().UTC(), "actor": t.caller.UserID, "actor_email": t.caller.Email,
		"realm": t.realm, "action": action, "subject": subject}
	if t.app != nil {
		doc["app"] = t.app.Slug
	}
	if len(detail) > 0 {
		doc["detail"] = detail
	}
	if _, err := h.Audit.InsertOne(ctx, doc); err != nil && h.Logger != nil {
		h.Logger.ErrorContext(ctx, "audit", "action", action, "err", err)
	}
}
