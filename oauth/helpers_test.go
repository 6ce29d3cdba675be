package oauth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/mgx-dev/mgx/store/storetest"
	"github.com/mgx-dev/mgx/users"
)

const (
	adminEmail = "admin@mgx.local"
	adminPass  = "correct horse battery staple"
	userEmail  = "ada@example.com"
	userPass   = "analytical-engine-1843"
)

// env is a provider on embedded FerretDB behind a real HTTP server, with the control
// plane's /api routes mounted beside it.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	p        *Provider
	verifier *Verifier
	admin    users.User
	user     users.User
}

func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	st := storetest.New(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := Config{PublicURL: srv.URL, Store: st, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	ctx := context.Background()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p.Mount(mux)
	v := NewVerifier(p.Issuer(), p.Keys(), nil)
	(&APIHandler{Users: p.Users(), Verifier: v}).Mount(mux)
	if created, err := p.EnsureAdmin(ctx, adminEmail, adminPass); err != nil || !created {
		t.Fatalf("EnsureAdmin: %v %v", created, err)
	}
	admin, err := p.Users().GetByEmail(ctx, users.PlatformRealm, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Users().Create(ctx, users.NewUser{Realm: users.PlatformRealm, Email: userEmail, Name: "Ada", Password: userPass})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, p: p, verifier: v, admin: admin, user: u}
}

// browser is an HTTP client with a cookie jar that stops at redirects leaving the
// provider, as a browser arriving at a client's callback.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.Path, "/oauth2/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func (e *env) webConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    WebClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: e.p.Issuer() + "/authorize", TokenURL: e.p.Issuer() + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: e.srv.URL + "/auth/callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile", "email", "offline_access"},
	}
}

func (e *env) cliConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID: CLIClientID,
		Endpoint: oauth2.Endpoint{TokenURL: e.p.Issuer() + "/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "offline_access"},
	}
}

// loginForm is the sign-in form as parsed from the page.
type loginForm struct {
	action string
	fields url.Values
}

func parseLoginForm(t testing.TB, base *url.URL, body io.Reader) loginForm {
	t.Helper()
	doc, err := html.Parse(body)
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var f loginForm
	f.fields = url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				if attr("method") != "post" {
					t.Errorf("form method %q", attr("method"))
				}
				u, err := base.Parse(attr("action"))
				if err != nil {
					t.Fatalf("form action: %v", err)
				}
				f.action = u.String()
			case "input":
				f.fields.Set(attr("name"), attr("value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if f.action == "" {
		t.Fatal("no form on the page")
	}
	for _, k := range []string{"username", "password", "csrf_token"} {
		if _, ok := f.fields[k]; !ok {
			t.Fatalf("form has no %q input", k)
		}
	}
	return f
}

// authorize opens authURL in b, fills the form if shown, and returns the final response
// (the redirect to the client, or the page when sign-in fails).
func (e *env) authorize(b *http.Client, authURL, email, pw string) *http.Response {
	e.t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		e.t.Fatalf("GET authorize: %v", err)
	}
	if resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound {
		return resp // signed in already
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("GET authorize: %d %s", resp.StatusCode, body)
	}
	f := parseLoginForm(e.t, resp.Request.URL, resp.Body)
	f.fields.Set("username", email)
	f.fields.Set("password", pw)
	resp2, err := b.PostForm(f.action, f.fields)
	if err != nil {
		e.t.Fatalf("POST sign-in: %v", err)
	}
	return resp2
}

// codeFrom returns the code and state of a redirect to the client's callback.
func codeFrom(t testing.TB, resp *http.Response, wantPrefix string) (code, state string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("want a redirect to the client, got %d: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), wantPrefix) {
		t.Fatalf("redirect to %s, want %s…", loc, wantPrefix)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorize error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return q.Get("code"), q.Get("state")
}

// webLogin runs the whole browser flow for mgx-web and exchanges the code.
func (e *env) webLogin(email, pw string) (*oauth2.Token, string) {
	e.t.Helper()
	conf := e.webConfig()
	verifier := oauth2.GenerateVerifier()
	nonce := "nonce-" + randomToken()[:16]
	state := "state-" + randomToken()[:16]
	resp := e.authorize(e.browser(), conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), email, pw)
	code, gotState := codeFrom(e.t, resp, conf.RedirectURL)
	if gotState != state {
		e.t.Fatalf("state %q, want %q", gotState, state)
	}
	tok, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok, nonce
}

// postForm posts to a provider endpoint and decodes the JSON answer.
func (e *env) postForm(path string, form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}
