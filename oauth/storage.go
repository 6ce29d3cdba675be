package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

// Collections of the provider's grant state. Codes and tokens are keyed by fosite's
// signature of the token (an HMAC for codes and refresh tokens, the JWT signature for access
// tokens): the tokens themselves are never stored. FerretDB has no TTL indexes: fosite
// checks expiry from the stored session and Run deletes expired rows.
const (
	codesCollection   = "oauth_codes"
	pkceCollection    = "oauth_pkce"
	oidcCollection    = "oauth_oidc"
	accessCollection  = "oauth_access_tokens"
	refreshCollection = "oauth_refresh_tokens"
	// usedCollection holds one row per used code or refresh token: inserting a unique _id
	// is the one atomic "first use wins" on both MongoDB and FerretDB (whose updates are
	// not atomic read-modify-writes).
	usedCollection = "oauth_used"
)

// grantStore implements fosite's storage interfaces on MongoDB.
type grantStore struct {
	clients *clientStore
	codes   *mongo.Collection
	pkce    *mongo.Collection
	oidc    *mongo.Collection
	access  *mongo.Collection
	refresh *mongo.Collection
	used    *mongo.Collection
	now     func() time.Time
}

var (
	_ fosite.Storage                                      = (*grantStore)(nil)
	_ oauth2.CoreStorage                                  = (*grantStore)(nil)
	_ oauth2.TokenRevocationStorage                       = (*grantStore)(nil)
	_ pkce.PKCERequestStorage                             = (*grantStore)(nil)
	_ openid.OpenIDConnectRequestStorage                  = (*grantStore)(nil)
	_ oauth2.ResourceOwnerPasswordCredentialsGrantStorage = (*passwordGrantStore)(nil)
)

func newGrantStore(ctx context.Context, st *store.Store, clients *clientStore) (*grantStore, error) {
	idx := func(keys ...string) []mongo.IndexModel {
		var ms []mongo.IndexModel
		for _, k := range keys {
			ms = append(ms, mongo.IndexModel{Keys: bson.D{{Key: k, Value: 1}}, Options: options.Index().SetName(k)})
		}
		return ms
	}
	if err := ensureIndexes(ctx, st, usedCollection, idx("expires")...); err != nil {
		return nil, err
	}
	for _, c := range []string{codesCollection, pkceCollection, oidcCollection, accessCollection, refreshCollection} {
		if err := ensureIndexes(ctx, st, c, idx("request_id", "user_id", "client_id", "expires")...); err != nil {
			return nil, err
		}
	}
	db := st.DB()
	return &grantStore{
		clients: clients,
		codes:   db.Collection(codesCollection),
		pkce:    db.Collection(pkceCollection),
		oidc:    db.Collection(oidcCollection),
		access:  db.Collection(accessCollection),
		refresh: db.Collection(refreshCollection),
		used:    db.Collection(usedCollection),
		now:     time.Now,
	}, nil
}

// ensureIndexes creates indexes one per call: FerretDB v1 drops the connection when a
// multi-index createIndexes names indexes that already exist, as on every restart.
func ensureIndexes(ctx context.Context, st *store.Store, coll string, models ...mongo.IndexModel) error {
	for _, m := range models {
		if err := st.EnsureIndexes(ctx, coll, m); err != nil {
			return err
		}
	}
	return nil
}

// grantDoc is a stored fosite request.
type grantDoc struct {
	Signature         string              `bson:"_id"`
	RequestID         string              `bson:"request_id"`
	UserID            string              `bson:"user_id"`
	ClientID          string              `bson:"client_id"`
	RequestedAt       time.Time           `bson:"requested_at"`
	RequestedScopes   []string            `bson:"requested_scopes"`
	GrantedScopes     []string            `bson:"granted_scopes"`
	RequestedAudience []string            `bson:"requested_audience"`
	GrantedAudience   []string            `bson:"granted_audience"`
	Form              map[string][]string `bson:"form"`
	Session           []byte              `bson:"session"`
	Active            bool                `bson:"active"`
	Expires           time.Time           `bson:"expires"`
	AccessSignature   string              `bson:"access_signature,omitempty"`
}

// sensitiveForm are form fields never stored with a grant.
var sensitiveForm = []string{"password", "username", "client_secret", "csrf_token", "refresh_token", "code", "code_verifier", "client_assertion"}

func toDoc(sig string, r fosite.Requester, tt fosite.TokenType, fallback time.Duration, now time.Time) (grantDoc, error) {
	sess, err := json.Marshal(r.GetSession())
	if err != nil {
		return grantDoc{}, fmt.Errorf("marshal session: %w", err)
	}
	form := url.Values{}
	for k, v := range r.GetRequestForm() {
		form[k] = v
	}
	for _, k := range sensitiveForm {
		delete(form, k)
	}
	exp := r.GetSession().GetExpiresAt(tt)
	if exp.IsZero() {
		exp = now.Add(fallback)
	}
	userID := ""
	if s, ok := r.GetSession().(*Session); ok {
		userID = s.UserID
		if userID == "" {
			userID = s.GetSubject()
		}
	}
	return grantDoc{
		Signature: sig, RequestID: r.GetID(), UserID: userID, ClientID: r.GetClient().GetID(),
		RequestedAt: r.GetRequestedAt(), RequestedScopes: r.GetRequestedScopes(), GrantedScopes: r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Form: form, Session: sess, Active: true, Expires: exp.UTC(),
	}, nil
}

func (g *grantStore) fromDoc(ctx context.Context, d grantDoc, session fosite.Session) (*fosite.Request, error) {
	client, err := g.clients.GetClient(ctx, d.ClientID)
	if err != nil {
		return nil, err
	}
	if session == nil {
		session = newSession()
	}
	if err := json.Unmarshal(d.Session, session); err != nil {
		return nil, fmt.Errorf("unmarshal session: %w", err)
	}
	return &fosite.Request{
		ID: d.RequestID, RequestedAt: d.RequestedAt, Client: client,
		RequestedScope: d.RequestedScopes, GrantedScope: d.GrantedScopes,
		RequestedAudience: d.RequestedAudience, GrantedAudience: d.GrantedAudience,
		Form: url.Values(d.Form), Session: session,
	}, nil
}

func (g *grantStore) create(ctx context.Context, coll *mongo.Collection, sig string, r fosite.Requester, tt fosite.TokenType, fallback time.Duration) error {
	d, err := toDoc(sig, r, tt, fallback, g.now())
	if err != nil {
		return err
	}
	if _, err := coll.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("store %s: %w", coll.Name(), err)
	}
	return nil
}

// get loads a row; an expired row is not found. An inactive row is returned with
// fosite's "inactive" error, as fosite's reuse detection needs.
func (g *grantStore) get(ctx context.Context, coll *mongo.Collection, sig string, session fosite.Session, inactive error) (fosite.Requester, error) {
	var d grantDoc
	if err := coll.FindOne(ctx, bson.M{"_id": sig}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fosite.ErrNotFound
		}
		return nil, fmt.Errorf("load %s: %w", coll.Name(), err)
	}
	req, err := g.fromDoc(ctx, d, session)
	if err != nil {
		return nil, err
	}
	if !d.Active {
		return req, inactive
	}
	// Expiry is fosite's to check, from the session's expiry times.
	return req, nil
}

func (g *grantStore) del(ctx context.Context, coll *mongo.Collection, sig string) error {
	if _, err := coll.DeleteOne(ctx, bson.M{"_id": sig}); err != nil {
		return fmt.Errorf("delete from %s: %w", coll.Name(), err)
	}
	return nil
}

// fosite.ClientManager

func (g *grantStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return g.clients.GetClient(ctx, id)
}

// ClientAssertionJWTValid: private_key_jwt client authentication is not offered.
func (g *grantStore) ClientAssertionJWTValid(context.Context, string) error { return nil }

func (g *grantStore) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

// Authorization codes

func (g *grantStore) CreateAuthorizeCodeSession(ctx context.Context, sig string, r fosite.Requester) error {
	return g.create(ctx, g.codes, sig, r, fosite.AuthorizeCode, 10*time.Minute)
}

func (g *grantStore) GetAuthorizeCodeSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	return g.get(ctx, g.codes, sig, s, fosite.ErrInvalidatedAuthorizeCode)
}

// claim records the first use of a code or refresh token; a second use of the same one
// gets fosite.ErrSerializationFailure (a concurrent request won).
func (g *grantStore) claim(ctx context.Context, kind, sig string) error {
	_, err := g.used.InsertOne(ctx, bson.M{"_id": kind + ":" + sig, "expires": g.now().Add(31 * 24 * time.Hour).UTC()})
	if errors.Is(store.Translate(err), store.ErrConflict) {
		return fosite.ErrSerializationFailure
	}
	if err != nil {
		return fmt.Errorf("claim %s: %w", kind, err)
	}
	return nil
}

// InvalidateAuthorizeCodeSession marks a code used; fosite then refuses it and revokes
// the tokens it produced when it comes back. Of concurrent exchanges only one gets past.
func (g *grantStore) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	if err := g.claim(ctx, "code", sig); err != nil {
		if errors.Is(err, fosite.ErrSerializationFailure) {
			return fosite.ErrInvalidatedAuthorizeCode
		}
		return err
	}
	if _, err := g.codes.UpdateOne(ctx, bson.M{"_id": sig}, bson.M{"$set": bson.M{"active": false}}); err != nil {
		return fmt.Errorf("invalidate code: %w", err)
	}
	return nil
}

// PKCE

func (g *grantStore) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return g.create(ctx, g.pkce, sig, r, fosite.AuthorizeCode, 10*time.Minute)
}

func (g *grantStore) GetPKCERequestSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	return g.get(ctx, g.pkce, sig, s, fosite.ErrNotFound)
}

func (g *grantStore) DeletePKCERequestSession(ctx context.Context, sig string) error {
	return g.del(ctx, g.pkce, sig)
}

// OpenID Connect

func (g *grantStore) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return g.create(ctx, g.oidc, code, r, fosite.AuthorizeCode, 10*time.Minute)
}

func (g *grantStore) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	return g.get(ctx, g.oidc, code, r.GetSession(), fosite.ErrNotFound)
}

func (g *grantStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return g.del(ctx, g.oidc, code)
}

// Access tokens

func (g *grantStore) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	return g.create(ctx, g.access, sig, r, fosite.AccessToken, time.Hour)
}

func (g *grantStore) GetAccessTokenSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	return g.get(ctx, g.access, sig, s, fosite.ErrNotFound)
}

func (g *grantStore) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	return g.del(ctx, g.access, sig)
}

// Refresh tokens

func (g *grantStore) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, r fosite.Requester) error {
	d, err := toDoc(sig, r, fosite.RefreshToken, 30*24*time.Hour, g.now())
	if err != nil {
		return err
	}
	d.AccessSignature = accessSig
	if _, err := g.refresh.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("store refresh token: %w", err)
	}
	return nil
}

func (g *grantStore) GetRefreshTokenSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	return g.get(ctx, g.refresh, sig, s, fosite.ErrInactiveToken)
}

func (g *grantStore) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	return g.del(ctx, g.refresh, sig)
}

// RotateRefreshToken marks the used refresh token inactive, kept so that its reuse is
// recognised and revokes the family. Of concurrent refreshes with one token only the first
// claim wins. The access token issued with it is left to expire (minutes): the control
// plane checks access tokens locally anyway. Filters name _id alone: FerretDB looks up
// only those directly.
func (g *grantStore) RotateRefreshToken(ctx context.Context, _ string, sig string) error {
	if err := g.claim(ctx, "refresh", sig); err != nil {
		return err
	}
	res, err := g.refresh.UpdateOne(ctx, bson.M{"_id": sig}, bson.M{"$set": bson.M{"active": false}})
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if res.MatchedCount == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// RevokeRefreshToken revokes the whole family (every refresh token of the grant).
func (g *grantStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if _, err := g.refresh.DeleteMany(ctx, bson.M{"request_id": requestID}); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

// RevokeAccessToken ends every access token of the grant.
func (g *grantStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if _, err := g.access.DeleteMany(ctx, bson.M{"request_id": requestID}); err != nil {
		return fmt.Errorf("revoke access tokens: %w", err)
	}
	return nil
}

// sweep deletes expired rows. Used refresh tokens stay until their own expiry so reuse is
// still recognised.
func (g *grantStore) sweep(ctx context.Context) error {
	cut := g.now().Add(-time.Minute).UTC()
	for _, c := range []*mongo.Collection{g.refresh, g.access, g.codes, g.pkce, g.oidc, g.used} {
		if _, err := c.DeleteMany(ctx, bson.M{"expires": bson.M{"$lt": cut}}); err != nil {
			return fmt.Errorf("sweep %s: %w", c.Name(), err)
		}
	}
	return nil
}

// passwordGrantStore adds the resource owner password check to the grant store; the
// provider's password handler puts the client's realm and the caller's address in ctx.
type passwordGrantStore struct {
	*grantStore
	auth func(ctx context.Context, username, password string) (string, error)
}

func (p *passwordGrantStore) Authenticate(ctx context.Context, username, password string) (string, error) {
	return p.auth(ctx, username, password)
}

// UserRevoker signs users out everywhere by deleting their grants and sign-in sessions
// straight from the database; a control plane running without the provider (`mgx
// control` alone) sets it as users.Store.Revoker.
type UserRevoker struct{ DB *mongo.Database }

var _ users.Revoker = UserRevoker{}

// RevokeUser deletes every refresh token, access token session, code and SSO session of
// the user.
func (u UserRevoker) RevokeUser(ctx context.Context, userID string) error {
	for _, c := range []string{refreshCollection, accessCollection, codesCollection, pkceCollection, oidcCollection, ssoCollection} {
		if _, err := u.DB.Collection(c).DeleteMany(ctx, bson.M{"user_id": userID}); err != nil {
			return fmt.Errorf("revoke user in %s: %w", c, err)
		}
	}
	return nil
}
