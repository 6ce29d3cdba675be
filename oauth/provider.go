// Package oauth is MGX's OAuth 2.0 / OpenID Connect provider, mounted at /oauth2, for the
// platform's own sign-in (clients mgx-web and mgx-cli, realm "mgx") and for every generated
// app (confidential client app-<slug>, realm <slug>). The grant logic is ory/fosite's; this
// package supplies MongoDB storage, signing keys, the sign-in page, single sign-on,
// throttling, and the endpoints fosite leaves to its user (discovery, JWKS, userinfo,
// logout). The Verifier checks the provider's access tokens for the control plane.
package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/password"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

// Config configures the provider. Zero values take the documented defaults.
type Config struct {
	// PublicURL is MGX's public base URL without a trailing slash, e.g.
	// "https://mgx.example.com". Required. The issuer is PublicURL + "/oauth2".
	PublicURL string
	// Store is the MGX database. Required.
	Store *store.Store
	// Logger; default discards.
	Logger *slog.Logger

	// AccessTokenLifespan: JWT access tokens. Default 10m.
	AccessTokenLifespan time.Duration
	// IDTokenLifespan: default 1h.
	IDTokenLifespan time.Duration
	// RefreshTokenLifespan: each refresh token (rotated on use). Default 30 days.
	RefreshTokenLifespan time.Duration
	// AuthorizeCodeLifespan: default 2m (RFC 9700: short-lived, single use).
	AuthorizeCodeLifespan time.Duration
	// SSOLifespan: the provider's own sign-in session (cookie). Default 7 days.
	SSOLifespan time.Duration
	// KeyRotation: a new signing key every KeyRotation; the previous key stays in the JWKS
	// until every token it signed has expired. Default 30 days.
	KeyRotation time.Duration

	// ThrottleWindow: failed sign-ins are counted per window. Default 15m.
	ThrottleWindow time.Duration
	// MaxFailuresPerAccount in a window before that account is refused. Default 5.
	MaxFailuresPerAccount int
	// MaxFailuresPerAddress in a window before that client address is refused. Default 30.
	MaxFailuresPerAddress int
	// TrustedProxies may set X-Forwarded-For (the gateway). Default loopback only.
	TrustedProxies []netip.Prefix
}

func (c *Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("oauth: Store is required"))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); c.PublicURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("oauth: PublicURL %q must be an absolute http(s) URL", c.PublicURL))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
		if *d < 0 {
			errs = append(errs, fmt.Errorf("oauth: negative duration %s", *d))
		}
	}
	def(&c.AccessTokenLifespan, 10*time.Minute)
	def(&c.IDTokenLifespan, time.Hour)
	def(&c.RefreshTokenLifespan, 30*24*time.Hour)
	def(&c.AuthorizeCodeLifespan, 2*time.Minute)
	def(&c.SSOLifespan, 7*24*time.Hour)
	def(&c.KeyRotation, 30*24*time.Hour)
	def(&c.ThrottleWindow, 15*time.Minute)
	if c.MaxFailuresPerAccount == 0 {
		c.MaxFailuresPerAccount = 5
	}
	if c.MaxFailuresPerAddress == 0 {
		c.MaxFailuresPerAddress = 30
	}
	if c.TrustedProxies == nil {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return errors.Join(errs...)
}

// Provider is the OAuth2/OIDC provider.
type Provider struct {
	cfg       Config
	issuer    string
	log       *slog.Logger
	oauth     fosite.OAuth2Provider
	keys      *keyring
	grants    *grantStore
	clients   *clientStore
	users     *users.Store
	throttle  *throttle
	sso       *mongo.Collection
	csrfKey   []byte
	dummyHash string
	secure    bool // cookies get Secure
	now       func() time.Time
	verify    func(hash, pw string) bool // password.Verify; tests count calls
}

var _ users.Revoker = (*Provider)(nil)

// New builds the provider: indexes, secrets and the first signing key are created in the
// database on first start.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st := cfg.Store
	p := &Provider{cfg: cfg, issuer: cfg.PublicURL + "/oauth2", log: cfg.Logger, now: time.Now, verify: password.Verify,
		secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	var err error
	if p.users, err = users.New(ctx, st); err != nil {
		return nil, err
	}
	p.users.Revoker = p
	p.clients = newClientStore(st, cfg.PublicURL)
	if p.grants, err = newGrantStore(ctx, st, p.clients); err != nil {
		return nil, err
	}
	// Keys stay published for the longest-lived token they can have signed, plus a margin.
	keep := max(cfg.AccessTokenLifespan, cfg.IDTokenLifespan) + 10*time.Minute
	if p.keys, err = newKeyring(ctx, st, cfg.KeyRotation, keep); err != nil {
		return nil, err
	}
	if p.throttle, err = newThrottle(ctx, st, cfg.ThrottleWindow, cfg.MaxFailuresPerAccount, cfg.MaxFailuresPerAddress); err != nil {
		return nil, err
	}
	if p.sso, err = newSSOStore(ctx, st); err != nil {
		return nil, err
	}
	hmacSecret, err := loadSecret(ctx, st, "hmac")
	if err != nil {
		return nil, err
	}
	if p.csrfKey, err = loadSecret(ctx, st, "csrf"); err != nil {
		return nil, err
	}
	// Unknown users get their password checked against this hash, so that answering
	// "no such user" costs as long as a wrong password.
	if p.dummyHash, err = password.Hash(password.Generate(24)); err != nil {
		return nil, err
	}

	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenLifespan,
		RefreshTokenLifespan:           cfg.RefreshTokenLifespan,
		AuthorizeCodeLifespan:          cfg.AuthorizeCodeLifespan,
		IDTokenLifespan:                cfg.IDTokenLifespan,
		IDTokenIssuer:                  p.issuer,
		AccessTokenIssuer:              p.issuer,
		TokenURL:                       p.issuer + "/token",
		GlobalSecret:                   hmacSecret,
		EnforcePKCE:                    true, // every client, public or confidential (RFC 9700 2.1.1)
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{}, // every grant gets a refresh token
		ClientSecretsHasher:            secretHasher{},
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.ExactAudienceMatchingStrategy,
		RedirectSecureChecker:          p.redirectSecure,
		JWTScopeClaimKey:               0,
		SendDebugMessagesToClients:     false,
		MinParameterEntropy:            fosite.MinParameterEntropy,
	}
	signer := &keySigner{keys: p.keys}
	hmacStrategy := compose.NewOAuth2HMACStrategy(fc)
	strategy := &compose.CommonStrategy{
		CoreStrategy:               &oauth2.DefaultJWTStrategy{Signer: signer, HMACSHAStrategy: hmacStrategy, Config: fc},
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: signer, Config: fc},
		Signer:                     signer,
	}
	pwStore := &passwordGrantStore{grantStore: p.grants, auth: p.passwordGrantAuth}
	// Only what MGX offers: no implicit or hybrid flow, no client credentials, no PAR.
	p.oauth = compose.Compose(fc, p.grants, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		func(c fosite.Configurator, _ any, s any) any {
			h := compose.OAuth2ResourceOwnerPasswordCredentialsFactory(c, pwStore, s).(*oauth2.ResourceOwnerPasswordCredentialsGrantHandler)
			return &realmPasswordHandler{ResourceOwnerPasswordCredentialsGrantHandler: h}
		},
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
	)
	return p, nil
}

// Issuer is PublicURL + "/oauth2".
func (p *Provider) Issuer() string { return p.issuer }

// Users is the user store (all realms).
func (p *Provider) Users() *users.Store { return p.users }

// Keys is the provider's own key source, for a Verifier in the same process.
func (p *Provider) Keys() KeySource { return p.keys }

// EnsureAdmin creates the first platform admin when there is none; see users.EnsureAdmin.
func (p *Provider) EnsureAdmin(ctx context.Context, email, pw string) (bool, error) {
	return p.users.EnsureAdmin(ctx, email, pw)
}

// CreateAppClient registers the confidential client app-<slug> with redirects
// <public-url>/apps/<slug>/api/auth/callback and <public-url>/dev/<slug>/api/auth/callback,
// and returns its id and secret. The secret is shown only here (stored hashed). An
// existing client gives an error wrapping store.ErrConflict.
func (p *Provider) CreateAppClient(ctx context.Context, slug string) (clientID, secret string, err error) {
	return p.clients.create(ctx, slug)
}

// RotateAppClientSecret gives app-<slug> a new secret; the old one stops working at once
// and the client's refresh tokens are revoked.
func (p *Provider) RotateAppClientSecret(ctx context.Context, slug string) (secret string, err error) {
	secret, err = p.clients.rotate(ctx, slug)
	if err != nil {
		return "", err
	}
	return secret, revokeClientGrants(ctx, p.cfg.Store.DB(), AppClientPrefix+slug)
}

// DeleteAppClient removes app-<slug> and every grant it holds. The app's users (realm
// <slug>) are left to the caller: Users().DeleteRealm.
func (p *Provider) DeleteAppClient(ctx context.Context, slug string) error {
	if err := p.clients.delete(ctx, slug); err != nil {
		return err
	}
	return revokeClientGrants(ctx, p.cfg.Store.DB(), AppClientPrefix+slug)
}

// RevokeUser ends every grant and sign-in session of the user. Access tokens already
// issued stay valid where they are verified locally, until they expire.
func (p *Provider) RevokeUser(ctx context.Context, userID string) error {
	return UserRevoker{DB: p.cfg.Store.DB()}.RevokeUser(ctx, userID)
}

// Run rotates signing keys and sweeps expired rows until ctx ends.
func (p *Provider) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.keys.rotate(ctx, p.now()); err != nil {
			p.log.ErrorContext(ctx, "rotate signing keys", "err", err)
		}
		for name, f := range map[string]func(context.Context) error{
			"grants": p.grants.sweep, "throttle": p.throttle.sweep, "sso": p.sweepSSO,
		} {
			if err := f(ctx); err != nil {
				p.log.ErrorContext(ctx, "sweep", "what", name, "err", err)
			}
		}
	}
}

// Mount registers the provider's endpoints under /oauth2.
func (p *Provider) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth2/.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc("GET /.well-known/openid-configuration/oauth2", p.handleDiscovery) // RFC 8414 form
	mux.HandleFunc("GET /oauth2/jwks", p.handleJWKS)
	mux.HandleFunc("GET /oauth2/authorize", p.handleAuthorize)
	mux.HandleFunc("POST /oauth2/authorize", p.handleAuthorize)
	mux.HandleFunc("POST /oauth2/token", p.handleToken)
	mux.HandleFunc("GET /oauth2/userinfo", p.handleUserinfo)
	mux.HandleFunc("POST /oauth2/userinfo", p.handleUserinfo)
	mux.HandleFunc("POST /oauth2/introspect", p.handleIntrospect)
	mux.HandleFunc("POST /oauth2/revoke", p.handleRevoke)
	mux.HandleFunc("GET /oauth2/logout", p.handleLogout)
	mux.HandleFunc("POST /oauth2/logout", p.handleLogout)
	mux.HandleFunc("GET /oauth2/static/style.css", p.handleCSS)
}

// redirectSecure allows https, loopback http, and anything under MGX's own public URL
// (a laptop install on plain http still needs its own callbacks).
func (p *Provider) redirectSecure(ctx context.Context, u *url.URL) bool {
	if fosite.IsRedirectURISecureStrict(ctx, u) {
		return true
	}
	s := u.String()
	return s == p.cfg.PublicURL || strings.HasPrefix(s, p.cfg.PublicURL+"/")
}

func loadSecret(ctx context.Context, st *store.Store, name string) ([]byte, error) {
	coll := st.DB().Collection("oauth_secrets")
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if _, err := coll.InsertOne(ctx, bson.M{"_id": name, "value": b, "created": time.Now().UTC()}); err != nil &&
		!errors.Is(store.Translate(err), store.ErrConflict) {
		return nil, fmt.Errorf("store %s secret: %w", name, err)
	}
	var doc struct {
		Value []byte `bson:"value"`
	}
	if err := coll.FindOne(ctx, bson.M{"_id": name}).Decode(&doc); err != nil {
		return nil, fmt.Errorf("load %s secret: %w", name, err)
	}
	return doc.Value, nil
}

// clientAddr is the caller's IP: the connection's, or the nearest untrusted hop of
// X-Forwarded-For when the connection comes from a trusted proxy.
func (p *Provider) clientAddr(r *http.Request) string {
	host := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		host = ap.Addr().Unmap().String()
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !p.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !p.trusted(a) {
			return a.String()
		}
		host = a.String()
	}
	return host
}

func (p *Provider) trusted(a netip.Addr) bool {
	for _, pr := range p.cfg.TrustedProxies {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
