package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/users"
)

// UserStore is what the API handler needs of the user store.
type UserStore interface {
	Get(ctx context.Context, realm, id string) (users.User, error)
	Create(ctx context.Context, nu users.NewUser) (users.User, error)
	List(ctx context.Context, realm string, opt users.ListOptions) ([]users.User, int64, error)
}

var _ UserStore = (*users.Store)(nil)

// APIHandler serves the control plane's own-user endpoints: GET /api/me and, for
// admins, GET|POST /api/users (platform users).
type APIHandler struct {
	Users    UserStore
	Verifier *Verifier // each route is wrapped in Verifier.Middleware
	Logger   *slog.Logger
}

// Mount registers GET /api/me, GET /api/users and POST /api/users.
func (h *APIHandler) Mount(mux *http.ServeMux) {
	auth := h.Verifier.Middleware
	mux.Handle("GET /api/me", auth(http.HandlerFunc(h.me)))
	mux.Handle("GET /api/users", auth(http.HandlerFunc(h.listUsers)))
	mux.Handle("POST /api/users", auth(http.HandlerFunc(h.createUser)))
}

// userJSON is a user as the API shows it (never the password hash).
type userJSON struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Realm    string `json:"realm"`
	Admin    bool   `json:"admin"`
	Disabled bool   `json:"disabled"`
	Created  string `json:"created"`
}

func toJSON(u users.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Realm: u.Realm, Admin: u.Admin,
		Disabled: u.Disabled, Created: u.Created.UTC().Format("2006-01-02T15:04:05Z07:00")}
}

func (h *APIHandler) me(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return
	}
	u, err := h.Users.Get(r.Context(), users.PlatformRealm, p.UserID)
	if err != nil || u.Disabled {
		// Deleted or disabled since the token was issued.
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "this account no longer exists or is disabled")
		return
	}
	httpjson.Write(w, http.StatusOK, toJSON(u))
}

func (h *APIHandler) admin(w http.ResponseWriter, r *http.Request) bool {
	p, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return false
	}
	if !p.Admin {
		httpjson.Error(w, http.StatusForbidden, "forbidden", "only admins manage platform users")
		return false
	}
	return true
}

func (h *APIHandler) listUsers(w http.ResponseWriter, r *http.Request) {
	if !h.admin(w, r) {
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	list, total, err := h.Users.List(r.Context(), users.PlatformRealm, users.ListOptions{Search: q.Get("q"), Limit: limit, Offset: offset})
	if err != nil {
		h.log().ErrorContext(r.Context(), "list users", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "could not list users")
		return
	}
	out := make([]userJSON, 0, len(list))
	for _, u := range list {
		out = append(out, toJSON(u))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"users": out, "total": total})
}

func (h *APIHandler) createUser(w http.ResponseWriter, r *http.Request) {
	if !h.admin(w, r) {
		return
	}
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
		Admin    bool   `json:"admin"`
	}
	if err := httpjson.Decode(w, r, &body, 16<<10); err != nil {
		return
	}
	u, err := h.Users.Create(r.Context(), users.NewUser{Realm: users.PlatformRealm, Email: body.Email,
		Password: body.Password, Name: body.Name, Admin: body.Admin})
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		httpjson.Error(w, http.StatusConflict, "conflict", "a user with this email exists")
		return
	case errors.Is(err, users.ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	case err != nil:
		h.log().ErrorContext(r.Context(), "create user", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "could not create the user")
		return
	}
	httpjson.Write(w, http.StatusCreated, toJSON(u))
}

func (h *APIHandler) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}
