package oauth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mgx-dev/mgx/users"
)

func TestDiscoveryAndAuthorizationCodeFlow(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()

	// go-oidc checks that the issuer in the document is the one asked for.
	op, err := oidc.NewProvider(ctx, e.p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		Introspection string   `json:"introspection_endpoint"`
		Revocation    string   `json:"revocation_endpoint"`
		EndSession    string   `json:"end_session_endpoint"`
		PKCE          []string `json:"code_challenge_methods_supported"`
	}
	if err := op.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Introspection != e.p.Issuer()+"/introspect" || meta.EndSession != e.p.Issuer()+"/logout" ||
		len(meta.PKCE) != 1 || meta.PKCE[0] != "S256" {
		t.Fatalf("discovery document: %+v", meta)
	}

	tok, nonce := e.webLogin(userEmail, userPass)
	if tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("token: %+v", tok)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := op.Verifier(&oidc.Config{ClientID: WebClientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != e.user.ID {
		t.Fatalf("id token nonce %q sub %q, want %q %q", idt.Nonce, idt.Subject, nonce, e.user.ID)
	}
	var idc struct {
		Email string `json:"email"`
		Realm string `json:"realm"`
	}
	_ = idt.Claims(&idc)
	if idc.Email != userEmail || idc.Realm != users.PlatformRealm {
		t.Fatalf("id token claims %+v", idc)
	}

	// The access token works for the control plane and for userinfo.
	p, err := e.verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	if p.UserID != e.user.ID || p.Realm != "mgx" || p.Admin || p.Email != userEmail {
		t.Fatalf("principal %+v", p)
	}
	ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != e.user.ID || ui.Email != userEmail {
		t.Fatalf("userinfo %+v", ui)
	}

	// GET /api/me with the token.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/me", nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me["id"] != e.user.ID || me["email"] != userEmail {
		t.Fatalf("/api/me: %d %v", resp.StatusCode, me)
	}
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	conf := e.webConfig()
	tok, _ := e.webLogin(userEmail, userPass)

	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
	}
	t2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if t2.RefreshToken == "" || t2.RefreshToken == tok.RefreshToken || t2.AccessToken == tok.AccessToken {
		t.Fatal("refresh token not rotated")
	}
	if _, err := e.verifier.Verify(ctx, t2.AccessToken); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	// Reusing the rotated token is refused and revokes the whole family.
	_, err = refresh(tok.RefreshToken)
	assertOAuthError(t, err, "invalid_grant")
	_, err = refresh(t2.RefreshToken)
	assertOAuthError(t, err, "invalid_grant")
	// And the family's access token is no longer active at introspection or userinfo.
	req, _ := http.NewRequest(http.MethodGet, e.p.Issuer()+"/userinfo", nil)
	t2.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("userinfo with a revoked family's token: %d", resp.StatusCode)
	}
}

func assertOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if err == nil {
		t.Fatalf("want OAuth error %q, got success", code)
	}
	if !asRetrieveError(err, &re) || re.ErrorCode != code {
		t.Fatalf("want OAuth error %q, got %v", code, err)
	}
}

func asRetrieveError(err error, re **oauth2.RetrieveError) bool {
	for err != nil {
		if r, ok := err.(*oauth2.RetrieveError); ok {
			*re = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	conf := e.cliConfig()
	tok, err := conf.PasswordCredentialsToken(ctx, adminEmail, adminPass)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	p, err := e.verifier.Verify(ctx, tok.AccessToken)
	if err != nil || !p.Admin || p.UserID != e.admin.ID {
		t.Fatalf("principal %+v %v", p, err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	t2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || t2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh after password grant: %v", err)
	}

	// The web client may not use the password grant.
	web := e.webConfig()
	_, err = web.PasswordCredentialsToken(ctx, adminEmail, adminPass)
	assertOAuthError(t, err, "unauthorized_client")
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	conf := e.webConfig()

	t.Run("unknown redirect URI", func(t *testing.T) {
		c := *conf
		c.RedirectURL = "https://evil.example/cb"
		resp, err := e.browser().Get(c.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || strings.Contains(resp.Header.Get("Location"), "evil.example") {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(string(body), "This sign-in link is not valid") || strings.Contains(string(body), `name="password"`) {
			t.Fatalf("error page: %s", body)
		}
	})

	t.Run("redirect URI that only starts like a registered one", func(t *testing.T) {
		c := *conf
		c.RedirectURL = conf.RedirectURL + "/../../evil"
		resp, err := e.browser().Get(c.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	t.Run("missing PKCE", func(t *testing.T) {
		resp, err := e.browser().Get(conf.AuthCodeURL("state-123456789"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("plain PKCE", func(t *testing.T) {
		resp, err := e.browser().Get(conf.AuthCodeURL("state-123456789",
			oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc == nil || loc.Query().Get("error") == "" {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("implicit flow", func(t *testing.T) {
		resp, err := e.browser().Get(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("response_type", "token")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || !strings.Contains(resp.Header.Get("Location"), "error=") {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	codeFor := func(t *testing.T, verifier string) string {
		resp := e.authorize(e.browser(), conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(verifier)), userEmail, userPass)
		code, _ := codeFrom(t, resp, conf.RedirectURL)
		return code
	}

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		code := codeFor(t, oauth2.GenerateVerifier())
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		assertOAuthError(t, err, "invalid_grant")
	})

	t.Run("missing PKCE verifier", func(t *testing.T) {
		code := codeFor(t, oauth2.GenerateVerifier())
		_, err := conf.Exchange(ctx, code)
		assertOAuthError(t, err, "invalid_grant")
	})

	t.Run("reused code", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := codeFor(t, v)
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		assertOAuthError(t, err, "invalid_grant")
		// The tokens the code gave are revoked too (RFC 6749 4.1.2).
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		assertOAuthError(t, err, "invalid_grant")
	})

	t.Run("CSRF token missing", func(t *testing.T) {
		b := e.browser()
		resp, err := b.Get(conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		f := parseLoginForm(t, resp.Request.URL, resp.Body)
		resp.Body.Close()
		f.fields.Set("username", userEmail)
		f.fields.Set("password", userPass)
		for name, mutate := range map[string]func(url.Values){
			"missing": func(v url.Values) { v.Del("csrf_token") },
			"wrong":   func(v url.Values) { v.Set("csrf_token", "x"+v.Get("csrf_token")) },
		} {
			v := url.Values{}
			for k, x := range f.fields {
				v[k] = x
			}
			mutate(v)
			r2, err := b.PostForm(f.action, v)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r2.Body)
			r2.Body.Close()
			if r2.StatusCode != http.StatusForbidden || r2.Header.Get("Location") != "" || !strings.Contains(string(body), "expired") {
				t.Fatalf("%s CSRF token: %d %q", name, r2.StatusCode, r2.Header.Get("Location"))
			}
		}
		// Another browser (no CSRF cookie) posting the same form is refused too.
		r3, err := e.browser().PostForm(f.action, f.fields)
		if err != nil {
			t.Fatal(err)
		}
		r3.Body.Close()
		if r3.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site post: %d", r3.StatusCode)
		}
	})

	t.Run("wrong password and unknown user read the same", func(t *testing.T) {
		var bodies []string
		for _, creds := range [][2]string{{userEmail, "wrong password!"}, {"nobody@example.com", "wrong password!"}} {
			resp := e.authorize(e.browser(), conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), creds[0], creds[1])
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Incorrect email or password.") {
				t.Fatalf("%s: %d", creds[0], resp.StatusCode)
			}
			bodies = append(bodies, strings.ReplaceAll(string(body), creds[0], ""))
		}
	})

	t.Run("disabled user", func(t *testing.T) {
		u, err := e.p.Users().Create(ctx, users.NewUser{Realm: "mgx", Email: "gone@example.com", Password: userPass})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := e.cliConfig().PasswordCredentialsToken(ctx, u.Email, userPass)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.Users().SetDisabled(ctx, "mgx", u.ID, true); err != nil {
			t.Fatal(err)
		}
		resp := e.authorize(e.browser(), conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), u.Email, userPass)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("form sign-in of a disabled user: %d", resp.StatusCode)
		}
		_, err = e.cliConfig().PasswordCredentialsToken(ctx, u.Email, userPass)
		assertOAuthError(t, err, "invalid_grant")
		_, err = e.cliConfig().TokenSource(ctx, &oauth2.Token{RefreshToken: cli.RefreshToken}).Token()
		assertOAuthError(t, err, "invalid_grant")
	})

	t.Run("expired access token", func(t *testing.T) {
		tok, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
		if err != nil {
			t.Fatal(err)
		}
		late := *e.verifier
		late.Now = func() time.Time { return time.Now().Add(e.p.cfg.AccessTokenLifespan + time.Minute) }
		if _, err := late.Verify(ctx, tok.AccessToken); err == nil {
			t.Fatal("expired token accepted")
		}
	})
}
