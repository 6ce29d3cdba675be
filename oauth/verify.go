package oauth

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/users"
)

// KeySource finds the provider's public signing key with a kid.
type KeySource interface {
	Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error)
}

var (
	_ KeySource = (*keyring)(nil)
	_ KeySource = (*RemoteKeys)(nil)
)

// ErrUnknownKey: no published key has that kid.
var ErrUnknownKey = errors.New("unknown signing key")

// Key implements KeySource in-process, reloading from the database when the kid is new
// (another instance rotated) and the last load is over 10s old.
func (k *keyring) Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	if pub, ok := k.public(kid); ok {
		return pub, nil
	}
	// Reload at most every 10s, or tokens with made-up kids would each cost a query.
	k.mu.RLock()
	recent := time.Since(k.loaded) < 10*time.Second
	k.mu.RUnlock()
	if recent {
		return nil, ErrUnknownKey
	}
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	if pub, ok := k.public(kid); ok {
		return pub, nil
	}
	return nil, ErrUnknownKey
}

// RemoteKeys fetches the JWKS over HTTP (for `mgx control` running without the provider)
// and caches it; an unknown kid triggers a refetch at most every MinRefresh.
type RemoteKeys struct {
	URL        string        // <issuer>/jwks
	Client     *http.Client  // default: a client with a 10s timeout
	TTL        time.Duration // cache lifetime; default 5m
	MinRefresh time.Duration // default 10s

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetched time.Time
}

// NewRemoteKeys reads the JWKS at jwksURL.
func NewRemoteKeys(jwksURL string) *RemoteKeys {
	return &RemoteKeys{URL: jwksURL, Client: &http.Client{Timeout: 10 * time.Second}}
}

func (r *RemoteKeys) Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	ttl, minRefresh := r.TTL, r.MinRefresh
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if minRefresh == 0 {
		minRefresh = 10 * time.Second
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	age := time.Since(r.fetched)
	if pub := findKey(r.set, kid); pub != nil && age < ttl {
		return pub, nil
	}
	if r.fetched.IsZero() || age >= minRefresh {
		if err := r.fetch(ctx); err != nil {
			if pub := findKey(r.set, kid); pub != nil {
				return pub, nil // stale but known: keep serving while the provider is away
			}
			return nil, err
		}
	}
	if pub := findKey(r.set, kid); pub != nil {
		return pub, nil
	}
	return nil, ErrUnknownKey
}

func (r *RemoteKeys) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return err
	}
	c := r.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode JWKS: %w", err)
	}
	r.set, r.fetched = set, time.Now()
	return nil
}

func findKey(set jose.JSONWebKeySet, kid string) *ecdsa.PublicKey {
	for _, k := range set.Key(kid) {
		if pub, ok := k.Key.(*ecdsa.PublicKey); ok && k.Algorithm == string(jose.ES256) {
			return pub
		}
	}
	return nil
}

// Verifier checks the provider's access tokens locally: ES256 signature by a published
// key (alg "none" and HMAC algorithms are refused before any key is looked at), issuer,
// audience, realm, expiry, token type.
type Verifier struct {
	Issuer   string    // <public-url>/oauth2
	Audience string    // default "mgx"
	Realm    string    // default "mgx"
	Keys     KeySource // Provider.Keys() in-process, NewRemoteKeys(issuer+"/jwks") otherwise
	Logger   *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewVerifier is a Verifier for platform tokens (audience and realm "mgx").
func NewVerifier(issuer string, keys KeySource, log *slog.Logger) *Verifier {
	return &Verifier{Issuer: issuer, Audience: PlatformAudience, Realm: users.PlatformRealm, Keys: keys, Logger: log}
}

// ErrInvalidToken wraps every reason a token is refused.
var ErrInvalidToken = errors.New("invalid access token")

type mgxClaims struct {
	Realm string `json:"realm"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
}

// Verify returns the token's principal or an error wrapping ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, raw string) (identity.Principal, error) {
	bad := func(why string, args ...any) (identity.Principal, error) {
		return identity.Principal{}, fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(why, args...))
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return bad("%v", err)
	}
	if len(tok.Headers) != 1 {
		return bad("want one signature")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		return bad("not an access token (typ %q)", typ)
	}
	key, err := v.Keys.Key(ctx, h.KeyID)
	if err != nil {
		return bad("key %q: %v", h.KeyID, err)
	}
	var std jwt.Claims
	var c mgxClaims
	if err := tok.Claims(key, &std, &c); err != nil {
		return bad("%v", err)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	aud, realm := v.Audience, v.Realm
	if aud == "" {
		aud = PlatformAudience
	}
	if realm == "" {
		realm = users.PlatformRealm
	}
	if std.Expiry == nil {
		return bad("no expiry")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.Issuer, AnyAudience: jwt.Audience{aud}, Time: now()}, 5*time.Second); err != nil {
		return bad("%v", err)
	}
	if c.Realm != realm {
		return bad("realm %q", c.Realm)
	}
	if std.Subject == "" {
		return bad("no subject")
	}
	return identity.Principal{UserID: std.Subject, Email: c.Email, Name: c.Name, Realm: c.Realm, Admin: c.Admin}, nil
}

// Middleware puts the bearer token's principal in the request context or answers 401 in
// the API's error shape. A request that already carries a principal passes through.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := identity.From(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		raw := bearer(r)
		if raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mgx"`)
			httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in: a bearer token is required")
			return
		}
		p, err := v.Verify(r.Context(), raw)
		if err != nil {
			if v.Logger != nil {
				v.Logger.DebugContext(r.Context(), "bearer token refused", "err", err)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="mgx", error="invalid_token"`)
			httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "the access token is invalid or expired")
			return
		}
		next.ServeHTTP(w, r.WithContext(identity.With(r.Context(), p)))
	})
}
