package sshd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	gossh "golang.org/x/crypto/ssh"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store"
)

// keysCollection holds the users' SSH public keys.
const keysCollection = "ssh_keys"

// Key is a registered SSH public key.
type Key struct {
	ID          string    `bson:"_id" json:"id"`
	UserID      string    `bson:"user_id" json:"-"`
	Name        string    `bson:"name" json:"name"`
	PublicKey   string    `bson:"public_key" json:"public_key"`   // authorized_keys form, without comment
	Fingerprint string    `bson:"fingerprint" json:"fingerprint"` // SHA256:…
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
}

// Keys stores SSH public keys in MongoDB (collection ssh_keys). A key belongs to one user.
type Keys struct {
	coll *mongo.Collection
}

// NewKeys returns the key store on db.
func NewKeys(db *mongo.Database) *Keys { return &Keys{coll: db.Collection(keysCollection)} }

// EnsureIndexes makes fingerprints unique (a key names one user) and lists by user fast.
func EnsureKeyIndexes(ctx context.Context, st *store.Store) error {
	return st.EnsureIndexes(ctx, keysCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "fingerprint", Value: 1}}, Options: options.Index().SetUnique(true).SetName("fingerprint")},
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user")},
	)
}

// ErrInvalidKey: not an SSH public key in authorized_keys form.
var ErrInvalidKey = errors.New("sshd: invalid public key")

// Add registers a key for userID; store.ErrConflict when the key is already registered.
func (k *Keys) Add(ctx context.Context, userID, name, authorizedKey string) (*Key, error) {
	pub, comment, _, rest, err := gossh.ParseAuthorizedKey([]byte(strings.TrimSpace(authorizedKey)))
	if err != nil || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("%w: want one line like \"ssh-ed25519 AAAA… name\"", ErrInvalidKey)
	}
	switch pub.Type() {
	case gossh.KeyAlgoRSA:
		if ck, ok := pub.(gossh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rk.Size()*8 < 2048 {
				return nil, fmt.Errorf("%w: RSA keys need at least 2048 bits", ErrInvalidKey)
			}
		}
	case gossh.KeyAlgoDSA:
		return nil, fmt.Errorf("%w: DSA keys are not accepted", ErrInvalidKey)
	}
	if name == "" {
		name = comment
	}
	if len(name) > 100 {
		name = name[:100]
	}
	key := &Key{
		ID: store.NewID(), UserID: userID, Name: name,
		PublicKey:   strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub))),
		Fingerprint: gossh.FingerprintSHA256(pub),
		CreatedAt:   time.Now().UTC().Truncate(time.Millisecond),
	}
	if _, err := k.coll.InsertOne(ctx, key); err != nil {
		return nil, fmt.Errorf("add ssh key: %w", store.Translate(err))
	}
	return key, nil
}

// List returns a user's keys, oldest first.
func (k *Keys) List(ctx context.Context, userID string) ([]Key, error) {
	cur, err := k.coll.Find(ctx, bson.M{"user_id": userID}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list ssh keys: %w", err)
	}
	out := []Key{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list ssh keys: %w", err)
	}
	return out, nil
}

// Delete removes one of the user's keys; store.ErrNotFound when there is none.
func (k *Keys) Delete(ctx context.Context, userID, id string) error {
	res, err := k.coll.DeleteOne(ctx, bson.M{"_id": id, "user_id": userID})
	if err != nil {
		return fmt.Errorf("delete ssh key: %w", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("ssh key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Owner returns the user a public key belongs to; store.ErrNotFound when none.
func (k *Keys) Owner(ctx context.Context, pub gossh.PublicKey) (string, error) {
	var key Key
	err := k.coll.FindOne(ctx, bson.M{"fingerprint": gossh.FingerprintSHA256(pub)}).Decode(&key)
	if err != nil {
		return "", fmt.Errorf("ssh key owner: %w", store.Translate(err))
	}
	return key.UserID, nil
}

// KeysHandler serves the caller's SSH keys:
//
//	POST   /api/me/ssh-keys       {"public_key": "ssh-ed25519 AAAA… name", "name"?} → 201 Key
//	GET    /api/me/ssh-keys       {"keys": [Key]}
//	DELETE /api/me/ssh-keys/{id}  204
type KeysHandler struct {
	Keys   *Keys
	Logger *slog.Logger
}

// Mount registers the routes.
func (h *KeysHandler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/me/ssh-keys", h.add)
	mux.HandleFunc("GET /api/me/ssh-keys", h.list)
	mux.HandleFunc("DELETE /api/me/ssh-keys/{id}", h.delete)
}

func (h *KeysHandler) caller(w http.ResponseWriter, r *http.Request) (identity.Principal, bool) {
	p, ok := identity.From(r.Context())
	if !ok || p.UserID == "" {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return p, false
	}
	return p, true
}

func (h *KeysHandler) internal(w http.ResponseWriter, r *http.Request, err error) {
	if h.Logger != nil {
		h.Logger.ErrorContext(r.Context(), "ssh keys", "err", err)
	}
	httpjson.Error(w, http.StatusInternalServerError, "internal", "ssh key storage failed")
}

func (h *KeysHandler) add(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	var req struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
	}
	if httpjson.Decode(w, r, &req, 16<<10) != nil {
		return
	}
	key, err := h.Keys.Add(r.Context(), p.UserID, req.Name, req.PublicKey)
	switch {
	case errors.Is(err, ErrInvalidKey):
		httpjson.Error(w, http.StatusBadRequest, "invalid_key", err.Error())
	case errors.Is(err, store.ErrConflict):
		httpjson.Error(w, http.StatusConflict, "exists", "this key is already registered")
	case err != nil:
		h.internal(w, r, err)
	default:
		httpjson.Write(w, http.StatusCreated, key)
	}
}

func (h *KeysHandler) list(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	keys, err := h.Keys.List(r.Context(), p.UserID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"keys": keys})
}

func (h *KeysHandler) delete(w http.ResponseWriter, r *http.Request) {
	p, ok := h.caller(w, r)
	if !ok {
		return
	}
	err := h.Keys.Delete(r.Context(), p.UserID, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such key")
	case err != nil:
		h.internal(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
