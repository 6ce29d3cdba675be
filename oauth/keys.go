package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	jose "github.com/go-jose/go-jose/v4"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
)

const keysCollection = "oauth_keys"

// storedKey is one ES256 signing key. Generation = created / rotation period, unique, so
// two provider instances rotating at once agree on one key.
type storedKey struct {
	ID         string    `bson:"_id"`
	Generation int64     `bson:"generation"`
	Alg        string    `bson:"alg"`
	PKCS8      []byte    `bson:"pkcs8"`
	Created    time.Time `bson:"created"`
	Superseded time.Time `bson:"superseded,omitempty"`
}

type signingKey struct {
	id      string
	priv    *ecdsa.PrivateKey
	created time.Time
}

// keyring holds the signing keys: the newest signs, older ones stay published in the
// JWKS until every token they signed has expired.
type keyring struct {
	coll     *mongo.Collection
	rotation time.Duration // a new key every rotation
	keep     time.Duration // how long a superseded key stays published

	mu     sync.RWMutex
	keys   []signingKey // newest first
	jwks   jose.JSONWebKeySet
	loaded time.Time
}

func newKeyring(ctx context.Context, st *store.Store, rotation, keep time.Duration) (*keyring, error) {
	if err := st.EnsureIndexes(ctx, keysCollection, mongo.IndexModel{
		Keys: bson.D{{Key: "generation", Value: 1}}, Options: options.Index().SetUnique(true).SetName("generation"),
	}); err != nil {
		return nil, err
	}
	k := &keyring{coll: st.DB().Collection(keysCollection), rotation: rotation, keep: keep}
	if err := k.rotate(ctx, time.Now()); err != nil {
		return nil, err
	}
	return k, nil
}

// rotate makes sure a key of the current generation exists, drops keys superseded longer
// than keep ago, and reloads.
func (k *keyring) rotate(ctx context.Context, now time.Time) error {
	gen := now.UnixNano() / int64(k.rotation)
	n, err := k.coll.CountDocuments(ctx, bson.M{"generation": gen})
	if err != nil {
		return fmt.Errorf("count signing keys: %w", err)
	}
	if n == 0 {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		sum := sha256.Sum256(pub)
		sk := storedKey{ID: base64.RawURLEncoding.EncodeToString(sum[:12]), Generation: gen, Alg: "ES256",
			PKCS8: der, Created: now.UTC()}
		if _, err := k.coll.InsertOne(ctx, sk); err != nil && !errors.Is(store.Translate(err), store.ErrConflict) {
			return fmt.Errorf("store signing key: %w", err)
		}
		// Mark older keys superseded (once) so they age out after keep.
		if _, err := k.coll.UpdateMany(ctx, bson.M{"generation": bson.M{"$lt": gen}, "superseded": bson.M{"$exists": false}},
			bson.M{"$set": bson.M{"superseded": now.UTC()}}); err != nil {
			return fmt.Errorf("supersede signing keys: %w", err)
		}
	}
	if _, err := k.coll.DeleteMany(ctx, bson.M{"superseded": bson.M{"$lt": now.Add(-k.keep).UTC()}}); err != nil {
		return fmt.Errorf("drop old signing keys: %w", err)
	}
	return k.load(ctx)
}

func (k *keyring) load(ctx context.Context) error {
	cur, err := k.coll.Find(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	var docs []storedKey
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Generation > docs[j].Generation })
	keys := make([]signingKey, 0, len(docs))
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, d := range docs {
		p, err := x509.ParsePKCS8PrivateKey(d.PKCS8)
		if err != nil {
			return fmt.Errorf("parse signing key %s: %w", d.ID, err)
		}
		priv, ok := p.(*ecdsa.PrivateKey)
		if !ok {
			return fmt.Errorf("signing key %s is %T, want ECDSA", d.ID, p)
		}
		keys = append(keys, signingKey{id: d.ID, priv: priv, created: d.Created})
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: d.ID, Algorithm: "ES256", Use: "sig"})
	}
	if len(keys) == 0 {
		return errors.New("no signing key")
	}
	k.mu.Lock()
	k.keys, k.jwks, k.loaded = keys, set, time.Now()
	k.mu.Unlock()
	return nil
}

// current is the key that signs, as fosite (go-jose v3) wants it.
func (k *keyring) current(context.Context) (any, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.keys) == 0 {
		return nil, errors.New("no signing key")
	}
	c := k.keys[0]
	return &josev3.JSONWebKey{Key: c.priv, KeyID: c.id, Algorithm: "ES256", Use: "sig"}, nil
}

// public returns the verification key with that id.
func (k *keyring) public(kid string) (*ecdsa.PublicKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, c := range k.keys {
		if c.id == kid {
			return &c.priv.PublicKey, true
		}
	}
	return nil, false
}

// JWKS is the published key set (public keys only).
func (k *keyring) JWKS(context.Context) (jose.JSONWebKeySet, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks, nil
}
