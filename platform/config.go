package platform

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Config is everything `mgx up` (and the single-role commands) read from the
// environment and flags. A flag wins over its environment variable.
type Config struct {
	// HTTPAddr is where MGX listens. MGX_HTTP_ADDR, default 127.0.0.1:8080.
	HTTPAddr string
	// PublicURL is how browsers and containers reach MGX. MGX_PUBLIC_URL, default http://<HTTPAddr>.
	PublicURL string
	// DataDir holds the embedded databases, workspaces, keys. MGX_DATA_DIR, default ./.mgx.
	DataDir string
	// MongoURI is the MGX database server; empty starts embedded FerretDB. MGX_MONGODB_URI.
	MongoURI string
	// AppsMongoURI is the apps' database server; empty uses the MGX one. MGX_APPS_MONGODB_URI.
	AppsMongoURI string
	// AppsDBUsers gives each app a MongoDB user limited to its database: auto|on|off.
	// MGX_APPS_DB_USERS, default auto (on with a real MongoDB reached with credentials).
	AppsDBUsers string
	// RedisURL; empty starts redis-server from PATH or an in-process Redis. MGX_REDIS_URL.
	RedisURL string
	// EmbeddedHost is the address embedded services listen on. MGX_EMBEDDED_HOST,
	// default 127.0.0.1; containers reach MGX through the Docker host gateway, so the
	// docker runtime needs an address the bridge can reach (e.g. 0.0.0.0 behind a firewall).
	EmbeddedHost string
	// Runtime runs agents, dev environments and apps: auto|docker|process. MGX_RUNTIME, default auto.
	Runtime string
	// Gateway: embedded|apisix. MGX_GATEWAY, default embedded.
	Gateway        string
	APISIXAdminURL string // MGX_APISIX_ADMIN_URL
	APISIXAdminKey string // MGX_APISIX_ADMIN_KEY
	// LLMProvider: openai|anthropic|offline. MGX_LLM_PROVIDER, default offline without an API key, else openai.
	LLMProvider string
	LLMBaseURL  string // MGX_LLM_BASE_URL
	LLMAPIKey   string // MGX_LLM_API_KEY (never logged)
	LLMModel    string // MGX_LLM_MODEL
	// SSHAddr is the SSH server's address. MGX_SSH_ADDR, default 127.0.0.1:2222; "off" disables it.
	SSHAddr string
	// AdminEmail, AdminPassword: the first admin. MGX_ADMIN_EMAIL (default admin@mgx.local),
	// MGX_ADMIN_PASSWORD (empty: generated, printed once, written to <DataDir>/admin-password).
	AdminEmail    string
	AdminPassword string
	// OTLPEndpoint receives MGX's own traces. MGX_OTLP_ENDPOINT.
	OTLPEndpoint string
	// ExtraCABundle is a CA file containers must trust. MGX_EXTRA_CA_BUNDLE.
	ExtraCABundle string
	// LogLevel: debug|info|warn|error. MGX_LOG_LEVEL, default info.
	LogLevel string

	// Roles says which parts of MGX this process runs; the zero value runs all of them
	// (mgx up). Single-role processes need MGX_MONGODB_URI and MGX_REDIS_URL.
	Roles Roles
}

// Roles of one MGX process.
type Roles struct {
	// Control serves the API, the web UI, the gateway's routes and fallbacks, and runs
	// dev environments and deploys.
	Control bool
	// OAuth serves /oauth2 and rotates the signing keys.
	OAuth bool
	// Scheduler runs queued agent runs.
	Scheduler bool
}

// All reports whether no single role was chosen: every role runs.
func (r Roles) All() bool { return !r.Control && !r.OAuth && !r.Scheduler }

func (r Roles) control() bool   { return r.All() || r.Control }
func (r Roles) oauth() bool     { return r.All() || r.OAuth }
func (r Roles) scheduler() bool { return r.All() || r.Scheduler }

type option struct {
	flag, env, def, usage string
	dst                   *string
}

func (c *Config) options() []option {
	return []option{
		{"http-addr", "MGX_HTTP_ADDR", "127.0.0.1:8080", "address to listen on", &c.HTTPAddr},
		{"public-url", "MGX_PUBLIC_URL", "", "URL browsers and containers use to reach MGX (default http://<http-addr>)", &c.PublicURL},
		{"data-dir", "MGX_DATA_DIR", "./.mgx", "directory for embedded databases, workspaces and keys", &c.DataDir},
		{"mongodb-uri", "MGX_MONGODB_URI", "", "MongoDB for MGX (empty: embedded FerretDB)", &c.MongoURI},
		{"apps-mongodb-uri", "MGX_APPS_MONGODB_URI", "", "MongoDB for the apps (empty: same as MGX's)", &c.AppsMongoURI},
		{"apps-db-users", "MGX_APPS_DB_USERS", "auto", "per-app MongoDB users limited to their database: auto|on|off (auto: on with a MongoDB reached with credentials)", &c.AppsDBUsers},
		{"redis-url", "MGX_REDIS_URL", "", "Redis URL (empty: redis-server from PATH, else in-process)", &c.RedisURL},
		{"embedded-host", "MGX_EMBEDDED_HOST", "127.0.0.1", "address the embedded MongoDB and Redis listen on", &c.EmbeddedHost},
		{"runtime", "MGX_RUNTIME", "auto", "container runtime: auto|docker|process", &c.Runtime},
		{"gateway", "MGX_GATEWAY", "embedded", "gateway: embedded|apisix", &c.Gateway},
		{"apisix-admin-url", "MGX_APISIX_ADMIN_URL", "", "APISIX Admin API URL (with --gateway=apisix)", &c.APISIXAdminURL},
		{"apisix-admin-key", "MGX_APISIX_ADMIN_KEY", "", "APISIX Admin API key", &c.APISIXAdminKey},
		{"llm-provider", "MGX_LLM_PROVIDER", "", "LLM provider: openai|anthropic|offline (default offline without an API key)", &c.LLMProvider},
		{"llm-base-url", "MGX_LLM_BASE_URL", "", "LLM API base URL (OpenAI-compatible or Anthropic)", &c.LLMBaseURL},
		{"llm-api-key", "MGX_LLM_API_KEY", "", "LLM API key", &c.LLMAPIKey},
		{"llm-model", "MGX_LLM_MODEL", "", "LLM model name", &c.LLMModel},
		{"ssh-addr", "MGX_SSH_ADDR", "127.0.0.1:2222", "SSH server address for dev containers (\"off\" disables)", &c.SSHAddr},
		{"admin-email", "MGX_ADMIN_EMAIL", "admin@mgx.local", "first admin's email", &c.AdminEmail},
		{"admin-password", "MGX_ADMIN_PASSWORD", "", "first admin's password (empty: generated once)", &c.AdminPassword},
		{"otlp-endpoint", "MGX_OTLP_ENDPOINT", "", "OTLP/HTTP endpoint for MGX's own traces", &c.OTLPEndpoint},
		{"extra-ca-bundle", "MGX_EXTRA_CA_BUNDLE", "", "CA bundle file that containers must trust", &c.ExtraCABundle},
		{"log-level", "MGX_LOG_LEVEL", "info", "log level: debug|info|warn|error", &c.LogLevel},
	}
}

// BindFlags registers every option on fs, each defaulting to its environment variable
// (read through getenv) and then to the built-in default.
func (c *Config) BindFlags(fs *flag.FlagSet, getenv func(string) string) {
	for _, o := range c.options() {
		def := o.def
		if v := getenv(o.env); v != "" {
			def = v
		}
		fs.StringVar(o.dst, o.flag, def, o.usage+" ["+o.env+"]")
	}
}

// Load reads the environment only (for commands that take no flags, and tests).
func Load(getenv func(string) string) Config {
	var c Config
	c.BindFlags(flag.NewFlagSet("", flag.ContinueOnError), getenv)
	return c
}

// Validate fills derived defaults and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		bad("MGX_HTTP_ADDR %q: want host:port, e.g. 127.0.0.1:8080", c.HTTPAddr)
	}
	if c.PublicURL == "" && c.HTTPAddr != "" {
		host := c.HTTPAddr
		if strings.HasPrefix(host, ":") || strings.HasPrefix(host, "0.0.0.0:") {
			host = "127.0.0.1" + host[strings.Index(host, ":"):]
		}
		c.PublicURL = "http://" + host
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		bad("MGX_PUBLIC_URL %q: want an http(s) URL without a path, e.g. http://mgx.example.com", c.PublicURL)
	}
	if c.DataDir == "" {
		bad("MGX_DATA_DIR is empty")
	}
	for _, u := range []struct{ name, v string }{{"MGX_MONGODB_URI", c.MongoURI}, {"MGX_APPS_MONGODB_URI", c.AppsMongoURI}} {
		if u.v != "" && !strings.HasPrefix(u.v, "mongodb://") && !strings.HasPrefix(u.v, "mongodb+srv://") {
			bad("%s %q: want mongodb:// or mongodb+srv://", u.name, u.v)
		}
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("MGX_REDIS_URL %q: want redis:// or rediss://", c.RedisURL)
	}
	if net.ParseIP(c.EmbeddedHost) == nil {
		bad("MGX_EMBEDDED_HOST %q: want an IP address", c.EmbeddedHost)
	}
	oneOf := func(name, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad("%s %q: want one of %s", name, v, strings.Join(allowed, ", "))
	}
	oneOf("MGX_APPS_DB_USERS", c.AppsDBUsers, "auto", "on", "off")
	oneOf("MGX_RUNTIME", c.Runtime, "auto", "docker", "process")
	oneOf("MGX_GATEWAY", c.Gateway, "embedded", "apisix")
	if c.Gateway == "apisix" && c.APISIXAdminURL == "" {
		bad("MGX_GATEWAY=apisix needs MGX_APISIX_ADMIN_URL")
	}
	if c.LLMProvider == "" {
		c.LLMProvider = "offline"
		if c.LLMAPIKey != "" {
			c.LLMProvider = "openai"
		}
	}
	oneOf("MGX_LLM_PROVIDER", c.LLMProvider, "openai", "anthropic", "offline")
	if (c.LLMProvider == "openai" || c.LLMProvider == "anthropic") && c.LLMAPIKey == "" && c.LLMBaseURL == "" {
		bad("MGX_LLM_PROVIDER=%s needs MGX_LLM_API_KEY (or MGX_LLM_BASE_URL for a local server)", c.LLMProvider)
	}
	if c.SSHAddr != "off" {
		if _, _, err := net.SplitHostPort(c.SSHAddr); err != nil {
			bad("MGX_SSH_ADDR %q: want host:port or off", c.SSHAddr)
		}
	}
	if !strings.Contains(c.AdminEmail, "@") {
		bad("MGX_ADMIN_EMAIL %q: want an email address", c.AdminEmail)
	}
	if c.AdminPassword != "" && len([]rune(c.AdminPassword)) < 8 {
		bad("MGX_ADMIN_PASSWORD: must be at least 8 characters")
	}
	if c.ExtraCABundle != "" {
		if st, err := os.Stat(c.ExtraCABundle); err != nil || st.IsDir() {
			bad("MGX_EXTRA_CA_BUNDLE %q: not a readable file", c.ExtraCABundle)
		}
	}
	oneOf("MGX_LOG_LEVEL", c.LogLevel, "debug", "info", "warn", "error")
	if !c.Roles.All() {
		// Several processes cannot share one embedded database or Redis.
		if c.MongoURI == "" {
			bad("MGX_MONGODB_URI is required when a single role runs (embedded services come only with mgx up)")
		}
		if c.RedisURL == "" {
			bad("MGX_REDIS_URL is required when a single role runs (embedded services come only with mgx up)")
		}
	}
	return errors.Join(errs...)
}
