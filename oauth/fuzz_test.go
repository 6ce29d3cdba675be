package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzTokenRequest throws arbitrary token requests at the token endpoint: it must never
// fail with a server error, never answer anything but an RFC 6749 JSON body, and never
// issue a token without the right password.
func FuzzTokenRequest(f *testing.F) {
	e := newEnv(f, func(c *Config) { c.MaxFailuresPerAddress = 1 << 30; c.MaxFailuresPerAccount = 1 << 30 })
	valid := "grant_type=password&client_id=mgx-cli&username=" + userEmail + "&password=" + strings.ReplaceAll(userPass, " ", "+")
	seeds := []struct{ body, ctype, auth string }{
		{valid, "application/x-www-form-urlencoded", ""},
		{"grant_type=password&client_id=mgx-cli&username=a&password=b", "application/x-www-form-urlencoded", ""},
		{"grant_type=password&grant_type=refresh_token&client_id=mgx-cli", "application/x-www-form-urlencoded", ""},
		{"grant_type=refresh_token&client_id=mgx-web&refresh_token=ory_rt_abc.def", "application/x-www-form-urlencoded", ""},
		{"grant_type=authorization_code&client_id=mgx-web&code=x.y&code_verifier=" + strings.Repeat("a", 43) + "&redirect_uri=http://x", "application/x-www-form-urlencoded", ""},
		{"grant_type=client_credentials", "application/x-www-form-urlencoded", "Basic YXBwLXRvZG86c2VjcmV0"},
		{"grant_type=implicit&client_id=app-x", "application/x-www-form-urlencoded", "Basic %%%"},
		{"grant_type=password&client_id=mgx-cli&username=" + userEmail + "&password=" + strings.Repeat("x", 5000), "application/x-www-form-urlencoded", ""},
		{"%zz=1&grant_type", "application/x-www-form-urlencoded", "Bearer abc"},
		{`{"grant_type":"password"}`, "application/json", ""},
		{"--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--b--", "multipart/form-data; boundary=b", ""},
		{"grant_type=password&client_id=\x00\xff", "application/x-www-form-urlencoded", "Basic bWd4LWNsaTo="},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.body, s.ctype, s.auth)
	}
	f.Fuzz(func(t *testing.T, body, ctype, auth string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/oauth2/token", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.p.handleToken(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("server error %d for %q: %s", rec.Code, body, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON (%d): %q", rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK {
			q, _ := url.ParseQuery(body)
			if m["access_token"] == nil || q.Get("password") != userPass {
				t.Fatalf("issued a token for %q: %v", body, m)
			}
			return
		}
		if _, ok := m["error"].(string); !ok {
			t.Fatalf("%d without an RFC 6749 error: %v", rec.Code, m)
		}
	})
}
