package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

const (
	ssoCollection   = "oauth_sso_sessions"
	ssoCookiePrefix = "mgx_sso_"
	csrfCookie      = "mgx_csrf"
)

//go:embed login.html
var loginHTML string

//go:embed style.css
var styleCSS []byte

var pageTmpl = template.Must(template.New("page").Parse(loginHTML))

// pageData fills login.html.
type pageData struct {
	Title     string
	AppName   string // "MGX" or the app's slug
	Action    string // form action, carrying the authorization request
	CSRF      string
	Email     string
	Error     string
	Notice    string
	SignedOut bool
}

// ssoDoc is the provider's own sign-in session; the cookie holds a random token whose
// SHA-256 is the id.
type ssoDoc struct {
	ID       string    `bson:"_id"`
	UserID   string    `bson:"user_id"`
	Realm    string    `bson:"realm"`
	AuthTime time.Time `bson:"auth_time"`
	Expires  time.Time `bson:"expires"`
}

func newSSOStore(ctx context.Context, st *store.Store) (*mongo.Collection, error) {
	if err := ensureIndexes(ctx, st, ssoCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetName("user_id")},
		mongo.IndexModel{Keys: bson.D{{Key: "expires", Value: 1}}, Options: options.Index().SetName("expires")},
	); err != nil {
		return nil, err
	}
	return st.DB().Collection(ssoCollection), nil
}

func (p *Provider) sweepSSO(ctx context.Context) error {
	_, err := p.sso.DeleteMany(ctx, bson.M{"expires": bson.M{"$lt": p.now().UTC()}})
	return err
}

func tokenID(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) cookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/oauth2", MaxAge: maxAge, HttpOnly: true,
		Secure: p.secure, SameSite: sameSite}
}

// startSSO records a sign-in and sets the realm's SSO cookie.
func (p *Provider) startSSO(ctx context.Context, w http.ResponseWriter, u users.User, authTime time.Time) error {
	tok := randomToken()
	d := ssoDoc{ID: tokenID(tok), UserID: u.ID, Realm: u.Realm, AuthTime: authTime.UTC(), Expires: authTime.Add(p.cfg.SSOLifespan).UTC()}
	if _, err := p.sso.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("store sign-in session: %w", err)
	}
	http.SetCookie(w, p.cookie(ssoCookiePrefix+u.Realm, tok, int(p.cfg.SSOLifespan.Seconds()), http.SameSiteLaxMode))
	return nil
}

// ssoUser returns the realm's signed-in user, if the cookie names a live session of an
// enabled user.
func (p *Provider) ssoUser(ctx context.Context, r *http.Request, realm string) (users.User, time.Time, bool) {
	c, err := r.Cookie(ssoCookiePrefix + realm)
	if err != nil || c.Value == "" {
		return users.User{}, time.Time{}, false
	}
	var d ssoDoc
	if err := p.sso.FindOne(ctx, bson.M{"_id": tokenID(c.Value), "realm": realm}).Decode(&d); err != nil {
		return users.User{}, time.Time{}, false
	}
	if p.now().After(d.Expires) {
		return users.User{}, time.Time{}, false
	}
	u, err := p.users.Get(ctx, realm, d.UserID)
	if err != nil || u.Disabled {
		return users.User{}, time.Time{}, false
	}
	return u, d.AuthTime, true
}

// csrfFor binds the form's token to the browser's CSRF cookie with an HMAC, so neither a
// cross-site form (no cookie) nor an injected cookie (no key) can produce a valid pair.
func (p *Provider) csrfFor(cookieValue string) string {
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte(cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Provider) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return p.csrfFor(c.Value)
	}
	v := randomToken()
	http.SetCookie(w, p.cookie(csrfCookie, v, 0, http.SameSiteStrictMode))
	return p.csrfFor(v)
}

func (p *Provider) csrfValid(r *http.Request, token string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(p.csrfFor(c.Value)), []byte(token))
}

// handleAuthorize: GET shows the sign-in page (or answers at once for a signed-in
// browser); POST checks the form. Both carry the authorization request in the query, and
// fosite validates it (client, exact redirect URI, PKCE S256, state) before anything else.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var email, pw, csrf string
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		email, pw, csrf = r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("csrf_token")
		// The credentials must not become part of the stored authorization request.
		for _, k := range []string{"username", "password", "csrf_token"} {
			r.PostForm.Del(k)
			r.Form.Del(k)
		}
	}
	ar, err := p.oauth.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.logOAuthError(ctx, "authorize", err)
		if ar == nil || !ar.IsRedirectURIValid() {
			// Nowhere safe to send the browser back to: say what is wrong on a page.
			e := fosite.ErrorToRFC6749Error(err)
			p.render(w, e.CodeField, pageData{Title: "Sign-in link not valid", AppName: "MGX",
				Error: "This sign-in link is not valid: " + e.GetDescription()})
			return
		}
		p.oauth.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	client, ok := ar.GetClient().(*Client)
	if !ok {
		p.oauth.WriteAuthorizeError(ctx, w, ar, fosite.ErrServerError)
		return
	}
	// fosite's PKCE handler enforces S256 when the response is made, after sign-in; refuse a
	// request that will fail before anyone types a password into it.
	if f := ar.GetRequestForm(); f.Get("code_challenge") == "" || f.Get("code_challenge_method") != "S256" {
		p.oauth.WriteAuthorizeError(ctx, w, ar, fosite.ErrInvalidRequest.WithHint("PKCE with code_challenge_method S256 is required."))
		return
	}
	data := pageData{Title: "Sign in", AppName: appName(client), Action: "/oauth2/authorize?" + r.URL.RawQuery}
	prompt := ar.GetRequestForm().Get("prompt")

	if r.Method == http.MethodGet {
		if !strings.Contains(prompt, "login") {
			if u, authTime, ok := p.ssoUser(ctx, r, client.Realm); ok {
				p.finishAuthorize(ctx, w, ar, client, u, authTime)
				return
			}
		}
		if prompt == "none" {
			p.oauth.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired)
			return
		}
		data.CSRF = p.csrfToken(w, r)
		p.render(w, http.StatusOK, data)
		return
	}

	data.Email = email
	data.CSRF = p.csrfToken(w, r)
	if !p.csrfValid(r, csrf) {
		data.Error = "Your sign-in form expired. Please try again."
		p.render(w, http.StatusForbidden, data)
		return
	}
	if email == "" || pw == "" {
		data.Error = "Enter your email and password."
		p.render(w, http.StatusBadRequest, data)
		return
	}
	u, wait, err := p.authenticate(ctx, client.Realm, email, pw, p.clientAddr(r))
	switch {
	case errors.Is(err, errThrottled):
		mins := int(math.Ceil(wait.Minutes()))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		data.Error = fmt.Sprintf("Too many failed sign-in attempts. Please wait %d minute%s and try again.", mins, plural(mins))
		p.render(w, http.StatusTooManyRequests, data)
		return
	case errors.Is(err, errBadCredentials):
		data.Error = "Incorrect email or password."
		p.render(w, http.StatusUnauthorized, data)
		return
	case err != nil:
		p.log.ErrorContext(ctx, "sign-in", "err", err)
		data.Error = "Something went wrong on our side. Please try again."
		p.render(w, http.StatusInternalServerError, data)
		return
	}
	now := p.now()
	if err := p.startSSO(ctx, w, u, now); err != nil {
		p.log.ErrorContext(ctx, "sign-in session", "err", err)
	}
	p.finishAuthorize(ctx, w, ar, client, u, now)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func appName(c *Client) string {
	if c.Realm == users.PlatformRealm {
		return "MGX"
	}
	return c.Realm
}

// finishAuthorize grants what was asked (first-party clients: no consent screen) and
// redirects with the code.
func (p *Provider) finishAuthorize(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, c *Client, u users.User, authTime time.Time) {
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range c.GetAudience() {
		ar.GrantAudience(a)
	}
	sess := newSession()
	sess.setUser(u, c.GetID(), authTime)
	sess.DefaultSession.Claims.RequestedAt = ar.GetRequestedAt().UTC().Truncate(time.Second)
	resp, err := p.oauth.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.logOAuthError(ctx, "authorize", err)
		p.oauth.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

func (p *Provider) render(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		p.log.Error("render sign-in page", "err", err)
	}
}

func (p *Provider) handleCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleCSS)
}

// handleLogout is OIDC RP-initiated logout: it ends the provider's sign-in session of the
// client's realm (every realm when no client is named) and goes back to
// post_logout_redirect_uri only if the client registered it exactly.
func (p *Provider) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	clientID := r.Form.Get("client_id")
	if hint := r.Form.Get("id_token_hint"); hint != "" && clientID == "" {
		clientID = p.audienceOfIDToken(hint)
	}
	var client *Client
	if clientID != "" {
		client, _ = p.clients.get(ctx, clientID)
	}
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, ssoCookiePrefix) {
			continue
		}
		realm := strings.TrimPrefix(c.Name, ssoCookiePrefix)
		if client != nil && client.Realm != realm {
			continue
		}
		_, _ = p.sso.DeleteOne(ctx, bson.M{"_id": tokenID(c.Value)})
		http.SetCookie(w, p.cookie(c.Name, "", -1, http.SameSiteLaxMode))
	}
	if to := r.Form.Get("post_logout_redirect_uri"); to != "" && client != nil {
		for _, allowed := range client.PostLogoutRedirectURIs {
			if to == allowed {
				if st := r.Form.Get("state"); st != "" {
					u, _ := url.Parse(to)
					q := u.Query()
					q.Set("state", st)
					u.RawQuery = q.Encode()
					to = u.String()
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
		}
	}
	name := "MGX"
	if client != nil {
		name = appName(client)
	}
	p.render(w, http.StatusOK, pageData{Title: "Signed out", AppName: name, SignedOut: true,
		Notice: "You are signed out."})
}

// audienceOfIDToken returns the client an ID token of ours was issued to; expiry does not
// matter for a logout hint, the signature does.
func (p *Provider) audienceOfIDToken(raw string) string {
	t, err := (&keySigner{keys: p.keys}).Decode(context.Background(), raw)
	if t == nil || t.Claims == nil {
		return ""
	}
	var ve *jwt.ValidationError
	if err != nil && (!errors.As(err, &ve) || ve.Errors != jwt.ValidationErrorExpired) {
		return ""
	}
	switch a := t.Claims["aud"].(type) {
	case string:
		return a
	case []any:
		if len(a) > 0 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}
