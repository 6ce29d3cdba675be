package platform

import (
	"flag"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c := Load(env(nil))
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" || c.DataDir != "./.mgx" ||
		c.LLMProvider != "offline" || c.AdminEmail != "admin@mgx.local" || c.Runtime != "auto" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFlagOverridesEnv(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	c.BindFlags(fs, env(map[string]string{"MGX_HTTP_ADDR": "127.0.0.1:9000", "MGX_LLM_API_KEY": "k"}))
	if err := fs.Parse([]string{"--http-addr", ":7000"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":7000" || c.PublicURL != "http://127.0.0.1:7000" || c.LLMProvider != "openai" {
		t.Fatalf("got %+v", c)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	c := Load(env(map[string]string{
		"MGX_HTTP_ADDR":       "nope",
		"MGX_PUBLIC_URL":      "ftp://x",
		"MGX_RUNTIME":         "kubernetes",
		"MGX_GATEWAY":         "apisix",
		"MGX_REDIS_URL":       "localhost:6379",
		"MGX_MONGODB_URI":     "localhost",
		"MGX_LLM_PROVIDER":    "anthropic",
		"MGX_SSH_ADDR":        "22",
		"MGX_ADMIN_EMAIL":     "admin",
		"MGX_LOG_LEVEL":       "loud",
		"MGX_EXTRA_CA_BUNDLE": "/nonexistent/ca.pem",
		"MGX_EMBEDDED_HOST":   "localhost",
		"MGX_APPS_DB_USERS":   "maybe",
	}))
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"MGX_HTTP_ADDR", "MGX_PUBLIC_URL", "MGX_RUNTIME", "MGX_APISIX_ADMIN_URL",
		"MGX_REDIS_URL", "MGX_MONGODB_URI", "MGX_LLM_API_KEY", "MGX_SSH_ADDR", "MGX_ADMIN_EMAIL",
		"MGX_LOG_LEVEL", "MGX_EXTRA_CA_BUNDLE", "MGX_EMBEDDED_HOST", "MGX_APPS_DB_USERS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 13 {
		t.Errorf("got %d problems, want 13, one per line:\n%v", n, err)
	}
}
