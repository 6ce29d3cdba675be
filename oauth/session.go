package oauth

import (
	"encoding/json"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/mgx-dev/mgx/users"
)

// Claim names MGX adds to access tokens (besides iss, sub, aud, exp, iat, jti, scp).
const (
	ClaimRealm    = "realm"
	ClaimEmail    = "email"
	ClaimName     = "name"
	ClaimAdmin    = "admin"
	ClaimClientID = "client_id"
)

// Session is what fosite keeps with every code and token: the user, as of sign-in or the
// last refresh, plus the ID token claims.
type Session struct {
	*openid.DefaultSession `json:"oidc"`

	UserID   string `json:"user_id"`
	Realm    string `json:"realm"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Admin    bool   `json:"admin"`
	ClientID string `json:"client_id"`
}

var (
	_ oauth2.JWTSessionContainer = (*Session)(nil)
	_ openid.Session             = (*Session)(nil)
)

func newSession() *Session {
	return &Session{DefaultSession: &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{},
		Headers: &jwt.Headers{},
	}}
}

// setUser fills the session from the user record.
func (s *Session) setUser(u users.User, clientID string, authTime time.Time) {
	s.UserID, s.Realm, s.Email, s.Name, s.Admin, s.ClientID = u.ID, u.Realm, u.Email, u.Name, u.Admin, clientID
	s.DefaultSession.Subject = u.ID
	s.DefaultSession.Username = u.Email
	if s.DefaultSession.Claims == nil {
		s.DefaultSession.Claims = &jwt.IDTokenClaims{}
	}
	c := s.DefaultSession.Claims
	c.Subject = u.ID
	if !authTime.IsZero() {
		c.AuthTime = authTime.UTC().Truncate(time.Second)
	}
	c.Extra = map[string]any{ClaimEmail: u.Email, ClaimName: u.Name, ClaimRealm: u.Realm, "preferred_username": u.Email}
	if s.DefaultSession.Headers == nil {
		s.DefaultSession.Headers = &jwt.Headers{}
	}
}

// GetJWTClaims builds the access token's claims; fosite adds exp, iat, iss, aud, scope, jti.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	return &jwt.JWTClaims{
		Subject: s.UserID,
		Extra: map[string]any{
			ClaimRealm: s.Realm, ClaimEmail: s.Email, ClaimName: s.Name,
			ClaimAdmin: s.Admin, ClaimClientID: s.ClientID,
		},
	}
}

// GetJWTHeader: the kid comes from the signing key itself.
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}
}

// Clone deep-copies through JSON, the same form the session is stored in.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Session always marshals
	}
	c := newSession()
	if err := json.Unmarshal(b, c); err != nil {
		panic(err)
	}
	return c
}
