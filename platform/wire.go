package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	dockerclient "github.com/docker/docker/client"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/apisix"
	"github.com/mgx-dev/mgx/appadmin"
	"github.com/mgx-dev/mgx/appdb"
	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/deploy"
	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/execapi"
	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/oauth"
	"github.com/mgx-dev/mgx/otlp"
	"github.com/mgx-dev/mgx/password"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/sessions"
	"github.com/mgx-dev/mgx/sshd"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/templates"
	"github.com/mgx-dev/mgx/terminal"
	"github.com/mgx-dev/mgx/users"
	"github.com/mgx-dev/mgx/workspace"
)

// wireApps builds everything that works on apps: workspaces, dev environments, the
// gateway, sessions and the scheduler, deploys, logs, the terminal and SSH.
func (p *Platform) wireApps(ctx context.Context, api *http.ServeMux) error {
	cfg := p.Config
	log := p.Log
	driver, kind := p.Runtime, p.RuntimeKind
	if p.ContainerHost != "" {
		kind += " (containers reach MGX at " + p.ContainerHost + ")"
	}
	p.Services = append(p.Services, Service{"Runtime", kind})
	kind = p.RuntimeKind

	key, err := apps.LoadOrCreateKey(p.DataDir.Path)
	if err != nil {
		return err
	}
	box, err := apps.NewSecretBox(key)
	if err != nil {
		return err
	}
	if err := apps.EnsureIndexes(ctx, p.Store); err != nil {
		return err
	}
	appStore := apps.NewStore(p.Store.DB(), box)
	p.Apps = appStore
	mode, err := appdb.ParseMode(cfg.AppsDBUsers)
	if err != nil {
		return err
	}
	dbUsers, err := appdb.New(ctx, appdb.Config{
		Client: p.AppsStore.Client(), URI: p.AppsMongoURI, Key: key, Mode: mode,
		Logger: log.With("component", "appdb"),
	})
	if err != nil {
		return err
	}
	p.Services = append(p.Services, Service{"App databases", "one per app; per-app users " + dbUsers.Status()})
	env := &appEnv{p: p, apps: appStore, dbUsers: dbUsers, key: key}
	p.apps = env

	// Dev and agent containers run as 1000:1000 (the images' user): workspaces belong to
	// it so both, and MGX running as root, can write them.
	wsCfg := workspace.Config{DataDir: p.DataDir.Path, OwnerUID: -1, OwnerGID: -1}
	if kind == "docker" && os.Geteuid() == 0 {
		wsCfg.OwnerUID, wsCfg.OwnerGID = containerUID, containerUID
	}
	ws, err := workspace.New(wsCfg)
	if err != nil {
		return err
	}
	(&workspace.Handler{Workspaces: ws, Owners: appStore, Events: p.Events, Logger: log}).Mount(api)

	dev, err := devenv.New(devenv.Config{
		Driver: driver, Apps: env, DataDir: p.DataDir.Path, PublicURL: cfg.PublicURL,
		ImageNode: os.Getenv("MGX_IMAGE_NODE"), ImagePythonNode: os.Getenv("MGX_IMAGE_PYTHON_NODE"),
		CABundle: cfg.ExtraCABundle, Logger: log.With("component", "devenv"),
	})
	if err != nil {
		return fmt.Errorf("dev environments: %w", err)
	}
	p.Dev = dev
	p.goRun("devenv", dev.Run)

	// The gateway: embedded (MGX serves every path itself) or APISIX (MGX keeps its
	// routes there and serves /apps/ and /dev/ fallbacks).
	var gwDriver gateway.Driver
	var embedded *gateway.Embedded
	if cfg.Gateway == "apisix" {
		ad, err := apisix.New(apisix.Config{AdminURL: cfg.APISIXAdminURL, AdminKey: cfg.APISIXAdminKey, Fallback: upstreamsFrom("MGX_APISIX_PLATFORM_UPSTREAMS", cfg.HTTPAddr)})
		if err != nil {
			return fmt.Errorf("APISIX: %w", err)
		}
		gwDriver = ad
	} else {
		embedded = gateway.NewEmbedded(gateway.EmbeddedConfig{Platform: p.mux, Waker: dev, Dev: dev, Logger: log.With("component", "gateway")})
		gwDriver = embedded
	}
	gw, err := gateway.New(ctx, gateway.Config{Store: p.Store, Driver: gwDriver, Waker: dev, Dev: dev, Logger: log.With("component", "gateway")})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	p.Gateway = gw
	for _, r := range gateway.PlatformRoutesFor(upstreamsFrom("MGX_APISIX_PLATFORM_UPSTREAMS", cfg.HTTPAddr), upstreamsFrom("MGX_APISIX_OAUTH_UPSTREAMS", cfg.HTTPAddr)) {
		if err := gw.Upsert(ctx, r); err != nil {
			return fmt.Errorf("gateway: platform route %s: %w", r.ID, err)
		}
	}
	if err := gw.Reconcile(ctx); err != nil {
		log.WarnContext(ctx, "gateway: first reconcile", "err", err)
	}
	p.goRun("gateway", gw.Run)
	(&gateway.Handler{Gateway: gw}).Mount(api)
	if embedded != nil {
		p.top = embedded
	} else {
		fb := gw.Fallback()
		p.mux.Handle("/apps/", fb)
		p.mux.Handle("/dev/", fb)
	}

	// Sessions and the scheduler: every control instance enqueues; the loop that starts
	// agents runs in the scheduler role.
	sched, err := p.newScheduler(ctx)
	if err != nil {
		return err
	}
	if cfg.Roles.scheduler() {
		p.goRun("scheduler", sched.Run)
	}
	// Agents run commands in the dev environment through the control plane, with the run
	// token the scheduler gave them: outside the OAuth-guarded /api/ mux.
	(&execapi.Handler{
		Tokens: execapi.NewTokens(p.Store.DB()), Runs: sched.Queue().Runs(), Shells: dev,
		Logger: log.With("component", "execapi"),
	}).Mount(p.mux)
	sh, err := sessions.New(sessions.Config{
		DB: p.Store.DB(), Apps: appStore, Events: p.Events,
		Queue: sched.Queue(), Runs: sched.Queue().Runs(), Workspaces: ws,
		Render: func(fw, dir, name, slug string) error {
			return templates.Render(fw, dir, templates.Vars{AppName: name, Slug: slug})
		},
		OAuth: p.c.OAuth, Dev: dev, Logger: log.With("component", "sessions"),
	})
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	sh.Mount(api)
	ah, err := apps.NewHandler(apps.HandlerConfig{Apps: appStore, Status: dev, Logger: log})
	if err != nil {
		return err
	}
	ah.Mount(api)

	// Production: logs and traces, OTLP intake, deploys.
	logs, err := applogs.New(ctx, applogs.Config{Store: p.Store, Apps: appStore, Logger: log.With("component", "applogs")})
	if err != nil {
		return fmt.Errorf("app logs: %w", err)
	}
	p.goRun("applogs", logs.Run)
	logs.Mount(api)
	recv, err := otlp.New(otlp.Config{Sink: logs, Apps: otlp.KnownApps(appStore, time.Minute), Key: key, Logger: log.With("component", "otlp")})
	if err != nil {
		return fmt.Errorf("OTLP: %w", err)
	}
	recv.Mount(p.mux)
	var builder deploy.Builder
	if kind == "docker" {
		cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
		if err != nil {
			return fmt.Errorf("docker builder: %w", err)
		}
		builder, err = deploy.NewDockerBuilder(deploy.DockerBuilderConfig{Client: cli, BuildArgs: imageBuildArgs(), CABundle: cfg.ExtraCABundle})
		if err != nil {
			return fmt.Errorf("docker builder: %w", err)
		}
	} else {
		builder, err = deploy.NewProcessBuilder(deploy.ProcessBuilderConfig{ReleasesDir: p.DataDir.Join("releases"), CABundle: cfg.ExtraCABundle})
		if err != nil {
			return fmt.Errorf("process builder: %w", err)
		}
	}
	dp, err := deploy.New(ctx, deploy.Config{
		Store: p.Store, Apps: env, Driver: driver, Builder: builder, Router: gw, Logs: logs,
		PublicURL: cfg.PublicURL, CABundle: cfg.ExtraCABundle, Logger: log.With("component", "deploy"),
	})
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	dp.Mount(api)
	if err := dp.Recover(ctx); err != nil {
		log.WarnContext(ctx, "deploy: recovering live apps", "err", err)
	}
	p.goRun("deploy", dp.Run)

	// App users and the app database browser.
	(&appadmin.Handler{
		Apps: appStore, Users: p.c.OAuth.Users(), Audit: p.Store.DB().Collection("audit"), Logger: log,
		AppsDB: func(slug string) *mongo.Database { return p.AppsStore.Database(AppDatabase(slug)) },
	}).Mount(api)

	// The read-only terminal and SSH.
	(&terminal.Handler{Apps: env, Consoles: dev, Logger: log}).Mount(api)
	keys := sshd.NewKeys(p.Store.DB())
	if err := sshd.EnsureKeyIndexes(ctx, p.Store); err != nil {
		return err
	}
	(&sshd.KeysHandler{Keys: keys, Logger: log}).Mount(api)
	if cfg.SSHAddr != "off" {
		srv, err := sshd.New(sshd.Config{
			Addr: cfg.SSHAddr, DataDir: p.DataDir.Path, Apps: env,
			Passwords: passwordChecker{p.c.OAuth.Users()}, Keys: keys, Shells: dev,
			Logger: log.With("component", "sshd"),
		})
		if err != nil {
			return fmt.Errorf("SSH server: %w", err)
		}
		p.goRun("sshd", srv.Run)
		p.Services = append(p.Services, Service{"SSH", "ssh -p " + portOf(cfg.SSHAddr) + " <app-slug>@" + hostOf(cfg.SSHAddr)})
	}
	return nil
}

// appEnv answers the components' questions about apps from the apps store.
type appEnv struct {
	p       *Platform
	apps    *apps.Store
	dbUsers *appdb.Provisioner
	key     []byte // MGX's secret key: the apps' telemetry tokens
}

var (
	_ devenv.AppSource   = (*appEnv)(nil)
	_ deploy.AppSource   = (*appEnv)(nil)
	_ terminal.AppOwners = (*appEnv)(nil)
	_ sshd.AppOwners     = (*appEnv)(nil)
)

// containerEnv is the app env of DESIGN.md but PORT, BASE_PATH and PUBLIC_URL. With
// per-app database users, MONGODB_URL carries the app's own user, which reaches only
// MONGODB_DB.
func (e *appEnv) containerEnv(ctx context.Context, a *apps.App) (map[string]string, error) {
	secret, err := e.apps.OpenSecret(a)
	if err != nil {
		return nil, fmt.Errorf("app %s: client secret: %w", a.Slug, err)
	}
	mongoURL, err := e.dbUsers.Ensure(ctx, a.ID, AppDatabase(a.Slug))
	if err != nil {
		return nil, fmt.Errorf("app %s: database user: %w", a.Slug, err)
	}
	return map[string]string{
		"MGX_OAUTH_ISSUER":            e.p.Config.PublicURL + "/oauth2",
		"MGX_OAUTH_CLIENT_ID":         a.OAuthClientID,
		"MGX_OAUTH_CLIENT_SECRET":     secret,
		"MONGODB_URL":                 mongoURL,
		"MONGODB_DB":                  AppDatabase(a.Slug),
		"OTEL_EXPORTER_OTLP_ENDPOINT": e.p.Config.PublicURL + "/otlp",
		"OTEL_EXPORTER_OTLP_HEADERS":  otlp.HeadersEnv(e.key, a.Slug),
		"OTEL_SERVICE_NAME":           a.Slug,
	}, nil
}

// AppEnv is the environment MGX gives an app's dev and production containers (DESIGN.md's
// app env but PORT, BASE_PATH and PUBLIC_URL, which the runtime and deploy add): OAuth
// client, database, telemetry. Only the control role has it.
func (p *Platform) AppEnv(ctx context.Context, slug string) (map[string]string, error) {
	if p.apps == nil {
		return nil, errors.New("platform: AppEnv needs the control role")
	}
	a, err := p.apps.apps.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	return p.apps.containerEnv(ctx, a)
}

// OAuth is the platform's OAuth2/OIDC provider (nil without the OAuth role).
func (p *Platform) OAuth() *oauth.Provider { return p.c.OAuth }

// AppDatabase is the name of an app's database on the apps server.
func AppDatabase(slug string) string { return "app_" + strings.ReplaceAll(slug, "-", "_") }

func (e *appEnv) workspaceDir(a *apps.App) string {
	return e.p.DataDir.Join("workspaces", a.WorkspaceID)
}

func (e *appEnv) DevApp(ctx context.Context, slug string) (*devenv.App, error) {
	a, err := e.apps.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	env, err := e.containerEnv(ctx, a)
	if err != nil {
		return nil, err
	}
	return &devenv.App{Slug: a.Slug, OwnerID: a.OwnerID, Dir: e.workspaceDir(a), Env: env}, nil
}

func (e *appEnv) DeployApp(ctx context.Context, slug string) (*deploy.App, error) {
	a, err := e.apps.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	env, err := e.containerEnv(ctx, a)
	if err != nil {
		return nil, err
	}
	return &deploy.App{Slug: a.Slug, OwnerID: a.OwnerID, Framework: a.Framework, Dir: e.workspaceDir(a), Env: env}, nil
}

func (e *appEnv) AppOwner(ctx context.Context, slug string) (string, error) {
	a, err := e.apps.Get(ctx, slug)
	if err != nil {
		return "", err
	}
	return a.OwnerID, nil
}

// passwordChecker checks a platform user's MGX password for SSH.
type passwordChecker struct{ users *users.Store }

func (c passwordChecker) CheckPassword(ctx context.Context, userID, pw string) (bool, error) {
	u, err := c.users.Get(ctx, users.PlatformRealm, userID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, users.ErrNotFound) {
		password.Verify(dummyHash, pw) // same time whether the user exists or not
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !u.Disabled && password.Verify(u.PasswordHash, pw), nil
}

var dummyHash, _ = password.Hash("not a real password, only for timing")

// imageBuildArgs passes configured base images to the templates' Dockerfiles.
func imageBuildArgs() map[string]string {
	out := map[string]string{}
	for _, k := range []string{"MGX_IMAGE_NODE", "MGX_IMAGE_PYTHON", "MGX_IMAGE_PYTHON_NODE"} {
		if v := os.Getenv(k); v != "" {
			out[strings.TrimPrefix(k, "MGX_")] = v
		}
	}
	return out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// agentCommand is how agents start: the process driver runs this binary itself
// (the scheduler's default); in a container it is mounted at /usr/local/bin/mgx.
func agentCommand(kind string) []string {
	if kind != "docker" {
		return nil
	}
	return []string{"/usr/local/bin/mgx", "agent"}
}

func agentMounts(kind string) []runtime.Mount {
	if kind != "docker" {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []runtime.Mount{{Source: exe, Target: "/usr/local/bin/mgx", ReadOnly: true}}
}

// newScheduler builds the scheduler (and its queue) on the selected runtime. Each agent
// start gets a token for the control plane's command endpoint (execapi), which needs
// only MongoDB: a lone `mgx scheduler` issues tokens the control instances accept.
func (p *Platform) newScheduler(ctx context.Context) (*scheduler.Scheduler, error) {
	cfg := p.Config
	kind := p.RuntimeKind
	if err := execapi.EnsureIndexes(ctx, p.Store); err != nil {
		return nil, err
	}
	sched, err := scheduler.New(scheduler.Config{
		DB: p.Store.DB(), Redis: p.Redis, Events: p.Events, Driver: p.Runtime,
		WorkspacesDir: p.DataDir.Join("workspaces"),
		MongoURL:      p.forContainers(p.MongoURI), MongoDB: "mgx", RedisURL: p.forContainers(p.RedisURL),
		Env: map[string]string{
			"MGX_LLM_PROVIDER": cfg.LLMProvider, "MGX_LLM_BASE_URL": cfg.LLMBaseURL,
			"MGX_LLM_API_KEY": cfg.LLMAPIKey, "MGX_LLM_MODEL": cfg.LLMModel,
		},
		PreviewURLBase: p.forContainers(cfg.PublicURL) + "/dev/",
		RunEnv:         execapi.RunEnv(execapi.NewTokens(p.Store.DB()), p.forContainers(cfg.PublicURL)+execapi.Path),
		Image:          envOr("MGX_IMAGE_AGENT", envOr("MGX_IMAGE_PYTHON_NODE", "mgx/python-node:22")),
		// Agent containers run this very binary, mounted read-only: no agent image to
		// build or keep in step with MGX.
		Command: agentCommand(kind),
		User:    agentUser(kind),
		Mounts:  agentMounts(kind),
		Logger:  p.Log.With("component", "scheduler"),
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return sched, nil
}

// wireScheduler runs the scheduler alone (mgx scheduler).
func (p *Platform) wireScheduler(ctx context.Context) error {
	sched, err := p.newScheduler(ctx)
	if err != nil {
		return err
	}
	p.Services = append(p.Services, Service{"Runtime", p.RuntimeKind})
	p.goRun("scheduler", sched.Run)
	return nil
}

// upstreamsFrom reads a comma-separated list of host:port from the environment (the
// production compose file names MGX's instances as APISIX sees them), else def.
func upstreamsFrom(env, def string) []string {
	var out []string
	for _, s := range strings.Split(os.Getenv(env), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{def}
	}
	return out
}

// forContainers rewrites a loopback URL to host.docker.internal for agent containers
// (the process runtime's agents use it as it is).
func (p *Platform) forContainers(raw string) string {
	if p.RuntimeKind != "docker" {
		return raw
	}
	for _, lo := range []string{"127.0.0.1", "localhost"} {
		raw = strings.Replace(raw, "//"+lo+":", "//host.docker.internal:", 1)
		raw = strings.Replace(raw, "//"+lo+"/", "//host.docker.internal/", 1)
	}
	return raw
}

// containerUID is the user dev, agent and app containers run as.
const containerUID = 1000

func agentUser(kind string) string {
	if kind != "docker" {
		return ""
	}
	return "1000:1000"
}
