package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	josev3 "github.com/go-jose/go-jose/v3"
	"golang.org/x/oauth2"

	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

func (e *env) appConfig(slug, secret, base string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     AppClientPrefix + slug,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{AuthURL: e.p.Issuer() + "/authorize", TokenURL: e.p.Issuer() + "/token", AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  e.srv.URL + "/" + base + "/" + slug + "/api/auth/callback",
		Scopes:       []string{"openid", "email", "profile"},
	}
}

func TestAppClientsAndRealms(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	id, secret, err := e.p.CreateAppClient(ctx, "todo")
	if err != nil || id != "app-todo" || len(secret) < 40 {
		t.Fatalf("CreateAppClient: %q %q %v", id, secret, err)
	}
	if _, _, err := e.p.CreateAppClient(ctx, "todo"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second CreateAppClient: %v", err)
	}
	for _, bad := range []string{"mgx", "", "Bad", "a/b", "../x"} {
		if _, _, err := e.p.CreateAppClient(ctx, bad); !errors.Is(err, ErrInvalidSlug) {
			t.Errorf("slug %q: %v", bad, err)
		}
	}
	appUser, err := e.p.Users().Create(ctx, users.NewUser{Realm: "todo", Email: "eve@example.com", Name: "Eve", Password: userPass})
	if err != nil {
		t.Fatal(err)
	}

	signIn := func(t *testing.T, conf *oauth2.Config, email, pw string) (*http.Response, string) {
		v := oauth2.GenerateVerifier()
		resp := e.authorize(e.browser(), conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-123456789")), email, pw)
		return resp, v
	}

	for _, base := range []string{"apps", "dev"} {
		t.Run("app user signs in through "+base, func(t *testing.T) {
			conf := e.appConfig("todo", secret, base)
			resp, v := signIn(t, conf, appUser.Email, userPass)
			code, _ := codeFrom(t, resp, conf.RedirectURL)
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			// An app's token verifies for that app's audience and realm, not for the platform.
			appV := &Verifier{Issuer: e.p.Issuer(), Audience: "app-todo", Realm: "todo", Keys: e.p.Keys()}
			p, err := appV.Verify(ctx, tok.AccessToken)
			if err != nil || p.UserID != appUser.ID || p.Realm != "todo" {
				t.Fatalf("app verify: %+v %v", p, err)
			}
			if _, err := e.verifier.Verify(ctx, tok.AccessToken); err == nil {
				t.Fatal("the control plane accepted an app user's token")
			}
			// Introspection by the app (client authentication) sees it active; revocation ends it.
			st, m, _ := e.postForm("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, conf.ClientID, secret)
			if st != 200 || m["active"] != true || m["sub"] != appUser.ID {
				t.Fatalf("introspect: %d %v", st, m)
			}
			st, m, _ = e.postForm("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, conf.ClientID, "wrong")
			if st != 401 {
				t.Fatalf("introspect with a wrong secret: %d %v", st, m)
			}
			st, _, _ = e.postForm("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, conf.ClientID, secret)
			if st != 200 {
				t.Fatalf("revoke: %d", st)
			}
			_, m, _ = e.postForm("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, conf.ClientID, secret)
			if m["active"] != false {
				t.Fatalf("introspect after revoke: %v", m)
			}
			_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			assertOAuthError(t, err, "invalid_grant")
		})
	}

	t.Run("wrong realm: platform user through an app", func(t *testing.T) {
		resp, _ := signIn(t, e.appConfig("todo", secret, "apps"), userEmail, userPass)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("wrong realm: app user through mgx-web and mgx-cli", func(t *testing.T) {
		resp, _ := signIn(t, e.webConfig(), appUser.Email, userPass)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
		_, err := e.cliConfig().PasswordCredentialsToken(ctx, appUser.Email, userPass)
		assertOAuthError(t, err, "invalid_grant")
	})
	t.Run("another app's redirect", func(t *testing.T) {
		conf := e.appConfig("todo", secret, "apps")
		conf.RedirectURL = e.srv.URL + "/apps/other/api/auth/callback"
		resp, err := e.browser().Get(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("wrong client secret at the token endpoint", func(t *testing.T) {
		conf := e.appConfig("todo", secret, "apps")
		resp, v := signIn(t, conf, appUser.Email, userPass)
		code, _ := codeFrom(t, resp, conf.RedirectURL)
		bad := *conf
		bad.ClientSecret = "nope"
		_, err := bad.Exchange(ctx, code, oauth2.VerifierOption(v))
		assertOAuthError(t, err, "invalid_client")
	})
	t.Run("rotated secret", func(t *testing.T) {
		newSecret, err := e.p.RotateAppClientSecret(ctx, "todo")
		if err != nil || newSecret == secret {
			t.Fatalf("rotate: %v", err)
		}
		st, _, _ := e.postForm("/oauth2/introspect", url.Values{"token": {"x"}}, "app-todo", secret)
		if st != 401 {
			t.Fatalf("old secret after rotation: %d", st)
		}
		st, _, _ = e.postForm("/oauth2/introspect", url.Values{"token": {"x"}}, "app-todo", newSecret)
		if st != 200 {
			t.Fatalf("new secret: %d", st)
		}
		if err := e.p.DeleteAppClient(ctx, "todo"); err != nil {
			t.Fatal(err)
		}
		st, _, _ = e.postForm("/oauth2/introspect", url.Values{"token": {"x"}}, "app-todo", newSecret)
		if st != 401 {
			t.Fatalf("deleted client: %d", st)
		}
	})
}

func TestThrottling(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFailuresPerAccount = 3; c.MaxFailuresPerAddress = 100 })
	ctx := t.Context()
	cli := e.cliConfig()
	for i := range 3 {
		_, err := cli.PasswordCredentialsToken(ctx, userEmail, "wrong password "+strconv.Itoa(i))
		assertOAuthError(t, err, "invalid_grant")
	}
	// Locked now, even with the right password: 429 with Retry-After.
	st, m, h := e.postForm("/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {CLIClientID},
		"username": {userEmail}, "password": {userPass}}, "", "")
	ra, _ := strconv.Atoi(h.Get("Retry-After"))
	if st != http.StatusTooManyRequests || ra <= 0 || ra > 15*60 {
		t.Fatalf("locked account: %d Retry-After %q %v", st, h.Get("Retry-After"), m)
	}
	// The sign-in page says so.
	resp := e.authorize(e.browser(), e.webConfig().AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), userEmail, userPass)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "Too many failed sign-in attempts") {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	// Unknown accounts lock the same way (no enumeration through the lock).
	for range 3 {
		_, _ = cli.PasswordCredentialsToken(ctx, "nobody@example.com", "whatever-password")
	}
	st, _, _ = e.postForm("/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {CLIClientID},
		"username": {"nobody@example.com"}, "password": {"x"}}, "", "")
	if st != http.StatusTooManyRequests {
		t.Fatalf("unknown account: %d", st)
	}
	// Other accounts are unaffected; the window ending unlocks.
	if _, err := cli.PasswordCredentialsToken(ctx, adminEmail, adminPass); err != nil {
		t.Fatalf("other account: %v", err)
	}
	e.p.throttle.now = func() time.Time { return time.Now().Add(16 * time.Minute) }
	if _, err := cli.PasswordCredentialsToken(ctx, userEmail, userPass); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestThrottlingPerAddress(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFailuresPerAccount = 100; c.MaxFailuresPerAddress = 4 })
	ctx := t.Context()
	for i := range 4 {
		_, _ = e.cliConfig().PasswordCredentialsToken(ctx, "user"+strconv.Itoa(i)+"@example.com", "wrong-password")
	}
	_, err := e.cliConfig().PasswordCredentialsToken(ctx, adminEmail, adminPass)
	var re *oauth2.RetrieveError
	if !asRetrieveError(err, &re) || re.Response.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("address over its limit: %v", err)
	}
}

func TestSSOAndLogout(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	conf := e.webConfig()
	url1 := func() string {
		return conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oidc.Nonce("nonce-123456789"))
	}
	resp := e.authorize(b, url1(), userEmail, userPass)
	codeFrom(t, resp, conf.RedirectURL)
	// Signed in: the next authorization answers at once.
	resp, err := b.Get(url1())
	if err != nil {
		t.Fatal(err)
	}
	codeFrom(t, resp, conf.RedirectURL)
	// prompt=login asks again.
	resp, err = b.Get(url1() + "&prompt=login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("prompt=login: %d", resp.StatusCode)
	}
	// The SSO session does not cross realms.
	if _, _, err := e.p.CreateAppClient(t.Context(), "shop"); err != nil {
		t.Fatal(err)
	}
	resp, err = b.Get(e.appConfig("shop", "", "apps").AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("app authorize with a platform SSO session: %d", resp.StatusCode)
	}
	// Logout with a registered post-logout URI redirects there with the state.
	resp, err = b.Get(e.p.Issuer() + "/logout?client_id=mgx-web&state=abc&post_logout_redirect_uri=" + url.QueryEscape(e.srv.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != e.srv.URL+"/?state=abc" {
		t.Fatalf("logout: %d %q", resp.StatusCode, loc)
	}
	resp, err = b.Get(url1())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize after logout: %d", resp.StatusCode)
	}
	// An unregistered post-logout URI is not followed.
	resp, err = b.Get(e.p.Issuer() + "/logout?client_id=mgx-web&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("logout to an unregistered URI: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// prompt=none without a session: login_required back at the client.
	resp, err = b.Get(url1() + "&prompt=none")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Location"), "error=login_required") {
		t.Fatalf("prompt=none: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSignOutEverywhere(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tok, _ := e.webLogin(userEmail, userPass)
	if err := e.p.Users().RevokeTokens(ctx, e.user.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.webConfig().TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	assertOAuthError(t, err, "invalid_grant")
	// A new password also signs out everywhere.
	tok, _ = e.webLogin(userEmail, userPass)
	if err := e.p.Users().SetPassword(ctx, "mgx", e.user.ID, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	_, err = e.webConfig().TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	assertOAuthError(t, err, "invalid_grant")
}

// forge builds a JWT with any header and claims, signed with HMAC-SHA256 under key (or
// unsigned for alg "none").
func forge(header, claims map[string]any, key []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	if header["alg"] == "none" {
		return in + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestAlgorithmConfusionAndMiddleware(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tok, err := e.cliConfig().PasswordCredentialsToken(ctx, adminEmail, adminPass)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var header, claims map[string]any
	_ = json.Unmarshal(hb, &header)
	_ = json.Unmarshal(cb, &claims)
	if header["alg"] != "ES256" || header["kid"] == "" || header["typ"] != "at+jwt" {
		t.Fatalf("header %v", header)
	}
	resp, err := http.Get(e.p.Issuer() + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	_ = json.Unmarshal(jwks, &set)
	if len(set.Keys) == 0 || strings.Contains(string(jwks), `"d"`) {
		t.Fatalf("jwks: %s", jwks)
	}

	with := func(k string, v any) map[string]any {
		h := map[string]any{}
		for a, b := range header {
			h[a] = b
		}
		h[k] = v
		return h
	}
	claimsWith := func(k string, v any) map[string]any {
		c := map[string]any{}
		for a, b := range claims {
			c[a] = b
		}
		c[k] = v
		return c
	}
	// A valid ES256 token whose claims were edited keeps the old signature.
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(claimsWith("realm", "mgx"))) + "x." + parts[2]
	cases := map[string]string{
		"alg none":                      forge(with("alg", "none"), claims, nil),
		"HS256 keyed with the JWKS":     forge(with("alg", "HS256"), claims, jwks),
		"HS256 keyed with the key JSON": forge(with("alg", "HS256"), claims, set.Keys[0]),
		"unknown kid":                   forge(with("kid", "nope"), claims, jwks),
		"tampered claims":               tampered,
		"garbage":                       "not.a.jwt",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := e.verifier.Verify(ctx, raw); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/me", nil)
			req.Header.Set("Authorization", "Bearer "+raw)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || body.Error.Code != "unauthorized" {
				t.Fatalf("/api/me: %d %+v", resp.StatusCode, body)
			}
		})
	}
	t.Run("ID token is not an access token", func(t *testing.T) {
		wt, _ := e.webLogin(userEmail, userPass)
		if _, err := e.verifier.Verify(ctx, wt.Extra("id_token").(string)); err == nil {
			t.Fatal("ID token accepted as access token")
		}
	})
	t.Run("wrong issuer", func(t *testing.T) {
		v := *e.verifier
		v.Issuer = "https://other.example/oauth2"
		if _, err := v.Verify(ctx, tok.AccessToken); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("no token", func(t *testing.T) {
		resp, err := http.Get(e.srv.URL + "/api/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyRotation = time.Hour })
	ctx := t.Context()
	old, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := e.p.keys.rotate(ctx, later); err != nil {
		t.Fatal(err)
	}
	set, _ := e.p.keys.JWKS(ctx)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys after rotation, want 2", len(set.Keys))
	}
	fresh, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	kid := func(raw string) string {
		hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
		var h map[string]any
		_ = json.Unmarshal(hb, &h)
		return h["kid"].(string)
	}
	if kid(old.AccessToken) == kid(fresh.AccessToken) {
		t.Fatal("new tokens still signed with the old key")
	}
	// Both verify, in-process and through the JWKS over HTTP (mgx control alone).
	remote := NewVerifier(e.p.Issuer(), NewRemoteKeys(e.p.Issuer()+"/jwks"), nil)
	for _, v := range []*Verifier{e.verifier, remote} {
		for _, tk := range []*oauth2.Token{old, fresh} {
			if _, err := v.Verify(ctx, tk.AccessToken); err != nil {
				t.Fatalf("verify after rotation: %v", err)
			}
		}
	}
	// Once the old key's tokens have all expired, it leaves the JWKS.
	if err := e.p.keys.rotate(ctx, later.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	set, _ = e.p.keys.JWKS(ctx)
	for _, k := range set.Keys {
		if k.KeyID == kid(old.AccessToken) {
			t.Fatal("retired key still published")
		}
	}
	// A second instance rotating at the same moment agrees on one key.
	k2, err := newKeyring(ctx, e.p.cfg.Store, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := k2.rotate(ctx, later.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, _ := e.p.keys.current(ctx)
	b, _ := k2.current(ctx)
	if keyID(a) != keyID(b) {
		t.Fatalf("instances disagree on the signing key: %s %s", keyID(a), keyID(b))
	}
}

func keyID(k any) string { return k.(*josev3.JSONWebKey).KeyID }

func TestAppClientsWithoutProvider(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	ac := NewAppClients(e.p.cfg.Store, e.srv.URL+"/")
	id, secret, err := ac.CreateAppClient(ctx, "solo")
	if err != nil || id != "app-solo" {
		t.Fatalf("create: %q %v", id, err)
	}
	introspect := func(secret string) int {
		st, _, _ := e.postForm("/oauth2/introspect", url.Values{"token": {"x"}}, id, secret)
		return st
	}
	if st := introspect(secret); st != 200 {
		t.Fatalf("the provider does not know the client: %d", st)
	}
	s2, err := ac.RotateAppClientSecret(ctx, "solo")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := introspect(secret), introspect(s2); a != 401 || b != 200 {
		t.Fatalf("after rotation: old %d, new %d", a, b)
	}
	if err := ac.DeleteAppClient(ctx, "solo"); err != nil {
		t.Fatal(err)
	}
	if err := ac.DeleteAppClient(ctx, "solo"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if st := introspect(s2); st != 401 {
		t.Fatalf("deleted client: %d", st)
	}
}
