package oauth

import (
	"bytes"
	"encoding/json"
	"github.com/mgx-dev/mgx/password"
	"github.com/mgx-dev/mgx/users"
	"golang.org/x/oauth2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestUsersAPI(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	adminTok, err := e.cliConfig().PasswordCredentialsToken(ctx, adminEmail, adminPass)
	if err != nil {
		t.Fatal(err)
	}
	userTok, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token string, body any) (int, map[string]any) {
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(mustJSON(body))
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, e.srv.URL+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	cases := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		want   int
	}{
		{"list without a token", "GET", "/api/users", "", nil, 401},
		{"list as a non-admin", "GET", "/api/users", userTok.AccessToken, nil, 403},
		{"create as a non-admin", "POST", "/api/users", userTok.AccessToken, map[string]string{"email": "x@example.com", "password": "long enough pw"}, 403},
		{"create", "POST", "/api/users", adminTok.AccessToken, map[string]string{"email": "New@Example.com", "password": "long enough pw", "name": "New"}, 201},
		{"create a duplicate", "POST", "/api/users", adminTok.AccessToken, map[string]string{"email": "new@example.com", "password": "long enough pw"}, 409},
		{"create with a weak password", "POST", "/api/users", adminTok.AccessToken, map[string]string{"email": "w@example.com", "password": "short"}, 400},
		{"create with an unknown field", "POST", "/api/users", adminTok.AccessToken, map[string]string{"email": "w@example.com", "password": "long enough pw", "role": "root"}, 400},
		{"me", "GET", "/api/me", userTok.AccessToken, nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, m := call(c.method, c.path, c.token, c.body)
			if st != c.want {
				t.Fatalf("status %d, want %d: %v", st, c.want, m)
			}
			if st >= 400 {
				if _, ok := m["error"].(map[string]any); !ok {
					t.Fatalf("error shape: %v", m)
				}
			}
			if _, leaked := m["password_hash"]; leaked {
				t.Fatal("password hash in the response")
			}
		})
	}
	st, m := call("GET", "/api/users?q=new", adminTok.AccessToken, nil)
	list, _ := m["users"].([]any)
	if st != 200 || m["total"] != float64(1) || len(list) != 1 || list[0].(map[string]any)["email"] != "new@example.com" {
		t.Fatalf("search: %d %v", st, m)
	}
	// The new user can sign in.
	if _, err := e.cliConfig().PasswordCredentialsToken(ctx, "new@example.com", "long enough pw"); err != nil {
		t.Fatalf("sign in as the created user: %v", err)
	}
	// A user deleted after their token was issued gets 401 from /api/me.
	if err := e.p.Users().Delete(ctx, "mgx", e.user.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := call("GET", "/api/me", userTok.AccessToken, nil); st != 401 {
		t.Fatalf("/api/me of a deleted user: %d", st)
	}
}

func TestExpiredAccessToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTokenLifespan = time.Second })
	ctx := t.Context()
	_, secret, err := e.p.CreateAppClient(ctx, "exp")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifier.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	time.Sleep(3100 * time.Millisecond) // exp is rounded to seconds and checked at second granularity
	// The verifier allows 5s of clock skew; past that the token is refused.
	late := *e.verifier
	late.Now = func() time.Time { return time.Now().Add(5 * time.Second) }
	if _, err := late.Verify(ctx, tok.AccessToken); err == nil {
		t.Fatal("expired token accepted by the verifier")
	}
	_, m, _ := e.postForm("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "app-exp", secret)
	if m["active"] != false {
		t.Fatalf("introspection of an expired token: %v", m)
	}
	req, _ := http.NewRequest(http.MethodGet, e.p.Issuer()+"/userinfo", nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("userinfo with an expired token: %d", resp.StatusCode)
	}
}

// A restarted (or second) provider on the same database keeps everything working: indexes
// re-created, the same HMAC secret and signing keys, tokens issued before still valid.
func TestRestartOnSameDatabase(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tok, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := New(ctx, e.p.cfg)
	if err != nil {
		t.Fatalf("second New on the same database: %v", err)
	}
	if created, err := p2.EnsureAdmin(ctx, adminEmail, "another password"); err != nil || created {
		t.Fatalf("EnsureAdmin on restart: %v %v", created, err)
	}
	v2 := NewVerifier(p2.Issuer(), p2.Keys(), nil)
	if _, err := v2.Verify(ctx, tok.AccessToken); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
	mux := http.NewServeMux()
	p2.Mount(mux)
	st, m := serve(t, mux, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {CLIClientID}, "refresh_token": {tok.RefreshToken}}, "", "")
	if st != 200 {
		t.Fatalf("refresh at the second instance: %d %v", st, m)
	}
}

// Unknown accounts, wrong passwords and disabled accounts cost the same: one Argon2id
// verification each, and the same answer.
func TestNoEnumerationByWork(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFailuresPerAccount = 100; c.MaxFailuresPerAddress = 100 })
	ctx := t.Context()
	disabled, err := e.p.Users().Create(ctx, users.NewUser{Realm: "mgx", Email: "off@example.com", Password: userPass})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Users().SetDisabled(ctx, "mgx", disabled.ID, true); err != nil {
		t.Fatal(err)
	}
	var calls int
	e.p.verify = func(hash, pw string) bool { calls++; return password.Verify(hash, pw) }
	cases := []struct{ name, email, pw string }{
		{"unknown account", "nobody@example.com", userPass},
		{"wrong password", userEmail, "not the password"},
		{"disabled account, right password", "off@example.com", userPass},
		{"over-long username", strings.Repeat("a", 300) + "@example.com", userPass},
	}
	var bodies []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls = 0
			st, m := serve(t, e.mux(), "/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {CLIClientID}, "username": {c.email}, "password": {c.pw}}, "", "")
			if st != 400 || m["error"] != "invalid_grant" || calls != 1 {
				t.Fatalf("status %d, %d Argon2id verifications, %v", st, calls, m)
			}
			bodies = append(bodies, m["error_description"].(string))
		})
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("messages differ: %q vs %q", b, bodies[0])
		}
	}
}

func (e *env) mux() http.Handler {
	mux := http.NewServeMux()
	e.p.Mount(mux)
	return mux
}

// Concurrent refreshes of one refresh token: exactly one gets new tokens.
func TestConcurrentRefresh(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.cliConfig().PasswordCredentialsToken(t.Context(), userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	if ok := concurrentOK(t, e.mux(), url.Values{"grant_type": {"refresh_token"}, "client_id": {CLIClientID}, "refresh_token": {tok.RefreshToken}}); ok != 1 {
		t.Fatalf("%d of 6 concurrent refreshes succeeded, want exactly 1", ok)
	}
}

// concurrentOK posts the same token request 6 times at once and counts the 200s.
func concurrentOK(t *testing.T, h http.Handler, form url.Values) int {
	const n = 6
	codes := make(chan int, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			st, _ := serve(t, h, "/oauth2/token", form, "", "")
			codes <- st
		}()
	}
	close(start)
	ok := 0
	for range n {
		if <-codes == 200 {
			ok++
		}
	}
	return ok
}

// Concurrent exchanges of one authorization code: exactly one gets tokens.
func TestConcurrentCodeExchange(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.webConfig()
	v := oauth2.GenerateVerifier()
	resp := e.authorize(e.browser(), conf.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(v)), userEmail, userPass)
	code, _ := codeFrom(t, resp, conf.RedirectURL)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {WebClientID},
		"code": {code}, "code_verifier": {v}, "redirect_uri": {conf.RedirectURL}}
	if ok := concurrentOK(t, e.mux(), form); ok != 1 {
		t.Fatalf("%d of 6 concurrent code exchanges succeeded, want exactly 1", ok)
	}
}
