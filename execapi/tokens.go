package execapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
)

// ErrInvalidToken: the token is unknown, revoked or expired.
var ErrInvalidToken = errors.New("execapi: invalid or expired run token")

const (
	tokensCollection = "exec_tokens"
	// tokenPrefix marks MGX run tokens, so secret scanners and people recognise them.
	tokenPrefix = "mgxrun_"
)

// Grant is what a run token allows: running commands in the dev environment of one app
// for one attempt of one agent run, until ExpiresAt.
type Grant struct {
	RunID     string    `bson:"run_id"`
	SessionID string    `bson:"session_id"`
	Slug      string    `bson:"slug"`
	Attempt   int       `bson:"attempt"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// tokenDoc is a stored token: only its SHA-256 is kept, as the _id.
type tokenDoc struct {
	Hash      string `bson:"_id"`
	Grant     `bson:",inline"`
	CreatedAt time.Time `bson:"created_at"`
}

// Tokens issues and checks run tokens in MongoDB `exec_tokens`, so every control-plane
// instance accepts what any scheduler issued. FerretDB v1 has no TTL indexes: expired
// tokens are refused by their expires_at and deleted lazily.
type Tokens struct {
	coll *mongo.Collection
	now  func() time.Time
}

// NewTokens uses the MGX database.
func NewTokens(db *mongo.Database) *Tokens {
	return &Tokens{coll: db.Collection(tokensCollection), now: func() time.Time { return time.Now().UTC() }}
}

// EnsureIndexes creates the indexes of `exec_tokens`.
func EnsureIndexes(ctx context.Context, st *store.Store) error {
	return st.EnsureIndexes(ctx, tokensCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "run_id", Value: 1}}, Options: options.Index().SetName("run_id")},
		mongo.IndexModel{Keys: bson.D{{Key: "expires_at", Value: 1}}, Options: options.Index().SetName("expires_at")},
	)
}

// Issue stores a new token for g and returns it. Earlier tokens of the same run (an
// earlier attempt's) are revoked, and expired tokens of any run are swept.
func (t *Tokens) Issue(ctx context.Context, g Grant) (string, error) {
	if g.RunID == "" || g.Slug == "" || g.ExpiresAt.IsZero() {
		return "", fmt.Errorf("execapi: issue token: run id, app slug and expiry are required")
	}
	now := t.now()
	if _, err := t.coll.DeleteMany(ctx, bson.M{"$or": bson.A{
		bson.M{"run_id": g.RunID},
		bson.M{"expires_at": bson.M{"$lt": now}},
	}}); err != nil {
		return "", fmt.Errorf("execapi: revoke earlier tokens of run %s: %w", g.RunID, err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("execapi: issue token: %w", err)
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	g.ExpiresAt = g.ExpiresAt.UTC().Truncate(time.Millisecond)
	if _, err := t.coll.InsertOne(ctx, tokenDoc{Hash: hashToken(tok), Grant: g, CreatedAt: now.Truncate(time.Millisecond)}); err != nil {
		return "", fmt.Errorf("execapi: store token of run %s: %w", g.RunID, err)
	}
	return tok, nil
}

// Lookup returns the grant of a valid token; an unknown or expired one is ErrInvalidToken
// (an expired one is deleted on the way).
func (t *Tokens) Lookup(ctx context.Context, tok string) (Grant, error) {
	if !strings.HasPrefix(tok, tokenPrefix) || len(tok) > 128 {
		return Grant{}, ErrInvalidToken
	}
	h := hashToken(tok)
	var d tokenDoc
	err := t.coll.FindOne(ctx, bson.M{"_id": h}).Decode(&d)
	if errors.Is(store.Translate(err), store.ErrNotFound) {
		return Grant{}, ErrInvalidToken
	}
	if err != nil {
		return Grant{}, fmt.Errorf("execapi: look up token: %w", err)
	}
	if !t.now().Before(d.ExpiresAt) {
		_, _ = t.coll.DeleteOne(ctx, bson.M{"_id": h})
		return Grant{}, ErrInvalidToken
	}
	return d.Grant, nil
}

// Revoke deletes every token of a run.
func (t *Tokens) Revoke(ctx context.Context, runID string) error {
	if _, err := t.coll.DeleteMany(ctx, bson.M{"run_id": runID}); err != nil {
		return fmt.Errorf("execapi: revoke tokens of run %s: %w", runID, err)
	}
	return nil
}

func hashToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}
