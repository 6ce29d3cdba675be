package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
)

const maxFormBytes = 64 << 10

// handleToken is fosite's token endpoint plus MGX's user checks: the password grant's
// user and realm, and on refresh a fresh look at the user (gone or disabled: refused).
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	tc := &tokenCall{addr: p.clientAddr(r)}
	ctx := context.WithValue(r.Context(), tokenCallKey{}, tc)
	ar, err := p.oauth.NewAccessRequest(ctx, r, newSession())
	if err != nil {
		if tc.retryAfter > 0 {
			writeThrottled(w, tc.retryAfter)
			return
		}
		p.logOAuthError(ctx, "token", err)
		p.oauth.WriteAccessError(ctx, w, ar, err)
		return
	}
	client, _ := ar.GetClient().(*Client)
	sess, _ := ar.GetSession().(*Session)
	if client == nil || sess == nil {
		p.oauth.WriteAccessError(ctx, w, ar, fosite.ErrServerError)
		return
	}
	switch {
	case ar.GetGrantTypes().ExactOne("password"):
		sess.setUser(tc.user, client.GetID(), p.now())
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s) // fosite has checked the client may ask for each
		}
		for _, a := range client.GetAudience() {
			ar.GrantAudience(a)
		}
	case ar.GetGrantTypes().ExactOne("refresh_token"), ar.GetGrantTypes().ExactOne("authorization_code"):
		u, err := p.users.GetByID(ctx, sess.UserID)
		if err != nil || u.Disabled || u.Realm != client.Realm {
			_ = p.grants.RevokeRefreshToken(ctx, ar.GetID())
			_ = p.grants.RevokeAccessToken(ctx, ar.GetID())
			p.oauth.WriteAccessError(ctx, w, ar, fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled."))
			return
		}
		sess.setUser(u, client.GetID(), time.Time{}) // name, email, admin may have changed
	}
	resp, err := p.oauth.NewAccessResponse(ctx, ar)
	if err != nil {
		p.logOAuthError(ctx, "token", err)
		p.oauth.WriteAccessError(ctx, w, ar, err)
		return
	}
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

func writeThrottled(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"error":             "temporarily_unavailable",
		"error_description": fmt.Sprintf("Too many failed sign-in attempts. Try again in %d seconds.", secs),
	})
}

func (p *Provider) logOAuthError(ctx context.Context, endpoint string, err error) {
	e := fosite.ErrorToRFC6749Error(err)
	if e.CodeField >= 500 {
		p.log.ErrorContext(ctx, "oauth error", "endpoint", endpoint, "err", e.WithExposeDebug(true).GetDescription())
		return
	}
	p.log.DebugContext(ctx, "oauth refusal", "endpoint", endpoint, "error", e.ErrorField, "hint", e.HintField)
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// handleUserinfo answers OIDC userinfo for a live access token (revocation counts).
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := bearer(r)
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mgx"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "missing bearer token"})
		return
	}
	_, ar, err := p.oauth.IntrospectToken(ctx, tok, fosite.AccessToken, newSession())
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mgx", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the access token is invalid, expired or revoked"})
		return
	}
	sess, _ := ar.GetSession().(*Session)
	u, err := p.users.GetByID(ctx, sess.UserID)
	if err != nil || u.Disabled {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mgx", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the user no longer exists or is disabled"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": u.ID, "email": u.Email, "name": u.Name, "preferred_username": u.Email,
		"realm": u.Realm, "admin": u.Admin,
	})
}

func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ctx := r.Context()
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, newSession())
	if err != nil {
		p.logOAuthError(ctx, "introspect", err)
		p.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	p.oauth.WriteIntrospectionResponse(ctx, w, ir)
}

func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ctx := r.Context()
	err := p.oauth.NewRevocationRequest(ctx, r)
	p.oauth.WriteRevocationResponse(ctx, w, err)
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	i := p.issuer
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                        i,
		"authorization_endpoint":                        i + "/authorize",
		"token_endpoint":                                i + "/token",
		"userinfo_endpoint":                             i + "/userinfo",
		"jwks_uri":                                      i + "/jwks",
		"introspection_endpoint":                        i + "/introspect",
		"revocation_endpoint":                           i + "/revoke",
		"end_session_endpoint":                          i + "/logout",
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token", "password"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"ES256"},
		"code_challenge_methods_supported":              []string{"S256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                              []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                              []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "name", "preferred_username", "realm"},
		"prompt_values_supported":                       []string{"none", "login"},
		"request_parameter_supported":                   false,
	})
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := p.keys.JWKS(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, set)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
