package appadmin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/password"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

// userJSON never carries the password hash.
type userJSON struct {
	ID       string    `json:"id"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Realm    string    `json:"realm"`
	Admin    bool      `json:"admin,omitempty"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

func toJSON(u users.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Realm: u.Realm, Admin: u.Admin,
		Disabled: u.Disabled, Created: u.Created, Updated: u.Updated}
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, t target) {
	q := r.URL.Query()
	limit, err1 := intParam(q.Get("limit"), 50)
	skip, err2 := intParam(q.Get("skip"), 0)
	if err := errors.Join(err1, err2); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	list, total, err := h.Users.List(r.Context(), t.realm, users.ListOptions{Search: q.Get("q"), Limit: limit, Offset: skip})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	out := make([]userJSON, len(list))
	for i, u := range list {
		out[i] = toJSON(u)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"users": out, "total": total, "limit": min(max(limit, 1), 200), "skip": skip})
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, t target) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	if httpjson.Decode(w, r, &in, 16<<10) != nil {
		return
	}
	if err := password.Validate(in.Password); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid_password", err.Error())
		return
	}
	u, err := h.Users.Create(r.Context(), users.NewUser{Realm: t.realm, Email: in.Email, Name: in.Name, Password: in.Password})
	if err != nil {
		h.userError(w, r, err)
		return
	}
	h.audit(r.Context(), t, "user.create", u.ID, bson.M{"email": u.Email})
	httpjson.Write(w, http.StatusCreated, toJSON(u))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, t target) {
	u, err := h.Users.Get(r.Context(), t.realm, r.PathValue("id"))
	if err != nil {
		h.userError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, toJSON(u))
}

// patchUser edits the name, disables or enables, sets a new password and signs the
// user out everywhere; several at once, validated before any is applied.
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, t target) {
	var in struct {
		Name         *string `json:"name"`
		Disabled     *bool   `json:"disabled"`
		Password     *string `json:"password"`
		RevokeTokens bool    `json:"revoke_tokens"`
	}
	if httpjson.Decode(w, r, &in, 16<<10) != nil {
		return
	}
	if in.Password != nil {
		if err := password.Validate(*in.Password); err != nil {
			httpjson.Error(w, http.StatusBadRequest, "invalid_password", err.Error())
			return
		}
	}
	if in.Name == nil && in.Disabled == nil && in.Password == nil && !in.RevokeTokens {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "nothing to change: give name, disabled, password or revoke_tokens")
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	u, err := h.Users.Get(ctx, t.realm, id)
	if err != nil {
		h.userError(w, r, err)
		return
	}
	changed := bson.M{}
	if in.Name != nil {
		if u, err = h.Users.UpdateName(ctx, t.realm, id, *in.Name); err != nil {
			h.userError(w, r, err)
			return
		}
		changed["name"] = u.Name
	}
	if in.Disabled != nil {
		if u, err = h.Users.SetDisabled(ctx, t.realm, id, *in.Disabled); err != nil {
			h.userError(w, r, err)
			return
		}
		changed["disabled"] = u.Disabled
	}
	if in.Password != nil {
		if err := h.Users.SetPassword(ctx, t.realm, id, *in.Password); err != nil {
			h.userError(w, r, err)
			return
		}
		changed["password"] = "set"
	}
	if in.RevokeTokens {
		if err := h.Users.RevokeTokens(ctx, id); err != nil {
			h.internal(w, r, err)
			return
		}
		changed["revoke_tokens"] = true
	}
	h.audit(ctx, t, "user.update", id, changed)
	if u, err = h.Users.Get(ctx, t.realm, id); err != nil {
		h.userError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, toJSON(u))
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, t target) {
	id := r.PathValue("id")
	if err := h.Users.Delete(r.Context(), t.realm, id); err != nil {
		h.userError(w, r, err)
		return
	}
	h.audit(r.Context(), t, "user.delete", id, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) userError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such user")
	case errors.Is(err, users.ErrLastAdmin):
		httpjson.Error(w, http.StatusConflict, "last_admin", err.Error())
	case errors.Is(err, store.ErrConflict):
		httpjson.Error(w, http.StatusConflict, "conflict", "a user with that email already exists")
	case errors.Is(err, users.ErrInvalid), errors.Is(err, password.ErrTooShort), errors.Is(err, password.ErrTooLong):
		httpjson.Error(w, http.StatusBadRequest, "invalid_user", err.Error())
	default:
		h.internal(w, r, err)
	}
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("limit and skip must be non-negative integers, got " + strconv.Quote(s))
	}
	return n, nil
}
