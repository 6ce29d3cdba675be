// Package deploy builds an app's workspace into production workloads and serves them at
// /apps/<slug>/: POST /api/apps/{slug}/deployments runs queued → building → starting →
// live (or failed with a plain reason). The previous live deployment keeps serving until
// every service of the new one is healthy; then the gateway routes switch and the old
// workloads drain and stop. Build logs are kept in MongoDB and streamed as SSE. Live
// deployments are supervised (restarted when they exit), their output goes to applogs,
// and Recover re-attaches to them after an MGX restart.
//
// Two builders exist: DockerBuilder (images through the Docker Engine API, for the docker
// runtime) and ProcessBuilder (a release directory built on the host, for the process
// runtime).
package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/store"
)

// Errors of the package.
var (
	// ErrBusy: the app already has a deployment in progress. It wraps store.ErrConflict.
	ErrBusy = fmt.Errorf("a deployment is already in progress: %w", store.ErrConflict)
	// ErrNotRollbackable: the deployment never went live or its build was pruned.
	ErrNotRollbackable = errors.New("deployment cannot be rolled back to")
	// ErrAppNotFound: no such app (AppSource errors may wrap store.ErrNotFound instead).
	ErrAppNotFound = fmt.Errorf("app %w", store.ErrNotFound)
)

// App is what deploy needs to know about an app.
type App struct {
	Slug      string
	OwnerID   string
	Framework string
	// Dir is the app's workspace on the host.
	Dir string
	// Env is the app env of DESIGN.md except PORT, BASE_PATH and PUBLIC_URL, which deploy
	// sets: MGX_OAUTH_ISSUER, MGX_OAUTH_CLIENT_ID, MGX_OAUTH_CLIENT_SECRET, MONGODB_URL,
	// MONGODB_DB (the app's production database), OTEL_EXPORTER_OTLP_ENDPOINT (deploy sets
	// OTEL_SERVICE_NAME to the slug). With the docker driver, loopback hosts in values are
	// rewritten to host.docker.internal.
	Env map[string]string
}

// AppSource looks apps up; the core implements it over the apps store and workspaces.
// Unknown apps give an error wrapping store.ErrNotFound.
type AppSource interface {
	DeployApp(ctx context.Context, slug string) (*App, error)
}

// Router is the part of the gateway deploy uses; *gateway.Gateway implements it.
type Router interface {
	Upsert(ctx context.Context, r gateway.Route) error
	Delete(ctx context.Context, id string) error
}

var _ Router = (*gateway.Gateway)(nil)

// LogSink stores the production output of the apps; *applogs.Logs implements it.
type LogSink interface {
	AppendLogs(ctx context.Context, entries []applogs.Entry) error
}

var _ LogSink = (*applogs.Logs)(nil)

// Config configures the Deployer. Durations and limits have defaults; the rest is required
// unless marked optional.
type Config struct {
	// Store is the MGX database (collections deployments, deployment_logs,
	// deployment_locks; the live_deployment_id field of apps).
	Store *store.Store
	// Apps looks apps up.
	Apps AppSource
	// Driver runs the production workloads (docker or process).
	Driver runtime.Driver
	// Builder builds them: NewDockerBuilder for the docker driver, NewProcessBuilder for
	// the process driver.
	Builder Builder
	// Router switches /apps/<slug>/ routes.
	Router Router
	// Logs, optional, receives the workloads' output.
	Logs LogSink
	// PublicURL is MGX's public URL (PUBLIC_URL = <PublicURL>/apps/<slug>).
	PublicURL string
	// Resources limit each production container (docker); default 1 GiB, 1 CPU, 512 pids.
	Resources runtime.Resources
	// User runs production containers (docker); default: the image's USER (the templates'
	// images use 10001).
	User string
	// CABundle, optional, is a host CA file the apps must trust (MGX_EXTRA_CA_BUNDLE):
	// mounted read-only (docker) and named by NODE_EXTRA_CA_CERTS, SSL_CERT_FILE,
	// REQUESTS_CA_BUNDLE.
	CABundle string
	// HealthTimeout is how long a new service has to answer its health check; default 2m.
	HealthTimeout time.Duration
	// HealthInterval between health probes; default 500ms.
	HealthInterval time.Duration
	// DrainDelay is how long the old version keeps running after traffic moved, for the
	// requests in flight; default 5s.
	DrainDelay time.Duration
	// StopTimeout is the grace period of a stopping workload; default 10s.
	StopTimeout time.Duration
	// KeepReleases is the number of earlier successful deployments whose images (or
	// release directories) are kept for rollback; default 3. Older ones are pruned.
	KeepReleases int
	// SuperviseInterval is how often live workloads are checked; default 5s. One that
	// exited is restarted (with backoff), one whose address changed is re-routed.
	SuperviseInterval time.Duration
	// BuildTimeout bounds a build; default 30m.
	BuildTimeout time.Duration
	// Logger; default discards.
	Logger *slog.Logger
}

// Deployer runs deployments.
type Deployer struct {
	cfg Config
	log *slog.Logger
	st  *deployStore

	baseMu  sync.Mutex
	baseCtx context.Context // Run's context once it runs; deployments outlive requests
	wg      sync.WaitGroup

	liveMu sync.Mutex // serializes route switches, supervision and recovery per process

	mu         sync.Mutex
	logWaiters map[string]chan struct{} // deployment id → closed on new log lines
	followers  map[string]context.CancelFunc
	restarting map[string]time.Time // "<deployment>/<service>" → earliest next restart
}

// New validates cfg and creates the indexes.
func New(ctx context.Context, cfg Config) (*Deployer, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if cfg.Apps == nil {
		errs = append(errs, errors.New("Apps is required"))
	}
	if cfg.Driver == nil {
		errs = append(errs, errors.New("Driver is required"))
	}
	if cfg.Builder == nil {
		errs = append(errs, errors.New("Builder is required"))
	}
	if cfg.Router == nil {
		errs = append(errs, errors.New("Router is required"))
	}
	if cfg.PublicURL == "" {
		errs = append(errs, errors.New("PublicURL is required"))
	} else if u, err := url.Parse(cfg.PublicURL); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("PublicURL %q is not an absolute URL", cfg.PublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HealthTimeout, 2*time.Minute)
	def(&cfg.HealthInterval, 500*time.Millisecond)
	def(&cfg.DrainDelay, 5*time.Second)
	def(&cfg.StopTimeout, 10*time.Second)
	def(&cfg.SuperviseInterval, 5*time.Second)
	def(&cfg.BuildTimeout, 30*time.Minute)
	if cfg.KeepReleases <= 0 {
		cfg.KeepReleases = 3
	}
	if cfg.Resources == (runtime.Resources{}) {
		cfg.Resources = runtime.Resources{MemoryBytes: 1 << 30, CPUs: 1, Pids: 512}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	st, err := newDeployStore(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	return &Deployer{
		cfg: cfg, log: cfg.Logger, st: st, baseCtx: context.Background(),
		logWaiters: map[string]chan struct{}{}, followers: map[string]context.CancelFunc{}, restarting: map[string]time.Time{},
	}, nil
}

func (dp *Deployer) base() context.Context {
	dp.baseMu.Lock()
	defer dp.baseMu.Unlock()
	return dp.baseCtx
}

// BasePath of an app in production.
func BasePath(slug string) string { return "/apps/" + slug }

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Create starts a deployment of the app's workspace, or, with from set, a rollback to that
// earlier deployment's build. It returns at once with the queued deployment; the work goes
// on in the background. ErrBusy when one is in progress.
func (dp *Deployer) Create(ctx context.Context, slug, createdBy, from string) (*Deployment, error) {
	app, err := dp.cfg.Apps.DeployApp(ctx, slug)
	if err != nil {
		return nil, err
	}
	var src *Deployment
	if from != "" {
		src, err = dp.st.get(ctx, slug, from)
		if err != nil {
			return nil, err
		}
		if !src.Rollbackable() {
			return nil, fmt.Errorf("%w: %s is %s%s", ErrNotRollbackable, from, src.Status, map[bool]string{true: " and pruned"}[src.Pruned])
		}
	}
	d := &Deployment{
		ID: store.NewID(), Slug: slug, Status: StatusQueued, Framework: app.Framework, Driver: dp.cfg.Driver.Name(),
		CreatedBy: createdBy, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Services: []ServiceDeployment{},
	}
	if src != nil {
		d.RollbackOf = src.ID
	}
	if err := dp.st.lock(ctx, slug, d.ID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, ErrBusy
		}
		return nil, err
	}
	if err := dp.st.insert(ctx, d); err != nil {
		_ = dp.st.unlock(context.WithoutCancel(ctx), slug, d.ID)
		return nil, err
	}
	dp.wg.Add(1)
	go func() {
		defer dp.wg.Done()
		dp.run(dp.base(), d, app, src)
	}()
	return d, nil
}

// Wait blocks until every deployment started by this Deployer has finished.
func (dp *Deployer) Wait() { dp.wg.Wait() }

// Get returns one deployment of an app.
func (dp *Deployer) Get(ctx context.Context, slug, id string) (*Deployment, error) {
	return dp.st.get(ctx, slug, id)
}

// List returns an app's deployments, newest first.
func (dp *Deployer) List(ctx context.Context, slug string, limit int) ([]Deployment, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return dp.st.find(ctx, bson.M{"slug": slug}, int64(limit))
}

// Live returns the app's live deployment, or nil.
func (dp *Deployer) Live(ctx context.Context, slug string) (*Deployment, error) {
	ds, err := dp.st.find(ctx, bson.M{"slug": slug, "status": StatusLive}, 1)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return &ds[0], nil
}

// run does the deployment. It never returns an error: every outcome is in d.
func (dp *Deployer) run(ctx context.Context, d *Deployment, app *App, src *Deployment) {
	// The deployment's bookkeeping must land even when ctx ends (MGX stopping).
	bg := context.WithoutCancel(ctx)
	// The lock is released as soon as the outcome is known: draining the previous version
	// and pruning do not hold up the next deployment.
	var unlockOnce sync.Once
	unlock := func() {
		unlockOnce.Do(func() {
			if err := dp.st.unlock(bg, d.Slug, d.ID); err != nil {
				dp.log.ErrorContext(bg, "release deployment lock", "slug", d.Slug, "err", err)
			}
		})
	}
	defer unlock()
	blog := dp.newBuildLog(d.ID)
	defer blog.Close()
	started := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(blog, format+"\n", args...) }
	save := func() {
		if err := dp.st.save(bg, d); err != nil {
			dp.log.ErrorContext(bg, "save deployment", "deployment", d.ID, "err", err)
		}
		blog.notify()
	}
	var arts []Artifact
	fail := func(reason string) {
		d.Status, d.Reason = StatusFailed, reason
		d.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
		d.DurationMS = time.Since(started).Milliseconds()
		logf("==> failed: %s", reason)
		blog.Flush()
		save()
		unlock()
		dp.log.InfoContext(bg, "deployment failed", "slug", d.Slug, "deployment", d.ID, "reason", reason)
		// A failed build is never rolled back to: drop what it built (the layer cache stays).
		if src == nil && len(arts) > 0 {
			if err := dp.cfg.Builder.Remove(bg, arts); err != nil {
				dp.log.WarnContext(bg, "remove failed build", "deployment", d.ID, "err", err)
			}
		}
	}
	d.Status, d.StartedAt = StatusBuilding, time.Now().UTC().Truncate(time.Millisecond)
	save()
	base := BasePath(d.Slug)
	if src == nil {
		logf("==> deploying %s (%s) to %s%s/", d.Slug, app.Framework, dp.cfg.PublicURL, base)
		man, err := manifestOf(app.Dir)
		if err != nil {
			fail(err.Error())
			return
		}
		bctx, cancel := context.WithTimeout(ctx, dp.cfg.BuildTimeout)
		t0 := time.Now()
		arts, err = dp.cfg.Builder.Build(bctx, BuildRequest{Slug: d.Slug, DeploymentID: d.ID, Dir: app.Dir, Manifest: man, BasePath: base,
			Env: map[string]string{"PUBLIC_URL": dp.cfg.PublicURL + base}}, blog)
		cancel()
		d.BuildMS = time.Since(t0).Milliseconds()
		if err != nil {
			var be *BuildError
			switch {
			case errors.As(err, &be):
				fail(be.Reason)
			case errors.Is(err, context.DeadlineExceeded):
				fail(fmt.Sprintf("the build took longer than %v", dp.cfg.BuildTimeout))
			case ctx.Err() != nil:
				fail("MGX stopped during the build")
			default:
				fail("the builder failed: " + err.Error())
			}
			return
		}
		byName := map[string]Artifact{}
		for _, a := range arts {
			byName[a.Service] = a
		}
		for _, s := range man.Services {
			d.Services = append(d.Services, ServiceDeployment{Name: s.Name, Route: s.Route, StripPrefix: s.StripPrefix, Health: s.Health, Artifact: byName[s.Name]})
		}
		logf("==> built in %.1fs", time.Since(t0).Seconds())
	} else {
		logf("==> rolling back %s to deployment %s (built %s)", d.Slug, src.ID, src.CreatedAt.Format(time.RFC3339))
		for _, s := range src.Services {
			d.Services = append(d.Services, ServiceDeployment{Name: s.Name, Route: s.Route, StripPrefix: s.StripPrefix, Health: s.Health, Artifact: s.Artifact})
		}
	}
	d.Status = StatusStarting
	save()
	if reason := dp.startAll(ctx, d, app, blog); reason != "" {
		dp.removeWorkloads(bg, d)
		fail(reason)
		return
	}
	// Every new service is healthy: move the traffic, then retire the old version.
	dp.liveMu.Lock()
	prev, err := dp.Live(bg, d.Slug)
	if err == nil {
		err = dp.switchRoutes(bg, d, prev)
	}
	if err != nil {
		dp.liveMu.Unlock()
		dp.removeWorkloads(bg, d)
		fail("cannot switch the gateway route: " + err.Error())
		return
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	d.Status, d.LiveAt, d.FinishedAt = StatusLive, now, now
	d.DurationMS = time.Since(started).Milliseconds()
	d.URL = dp.cfg.PublicURL + base + "/"
	logf("==> live at %s (%.1fs)", d.URL, time.Since(started).Seconds())
	blog.Flush()
	save()
	if err := dp.st.setLive(bg, d.Slug, d.ID); err != nil {
		dp.log.ErrorContext(bg, "set live deployment", "slug", d.Slug, "err", err)
	}
	if prev != nil {
		prev.Status = StatusSuperseded
		if err := dp.st.save(bg, prev); err != nil {
			dp.log.ErrorContext(bg, "save deployment", "deployment", prev.ID, "err", err)
		}
	}
	dp.liveMu.Unlock()
	unlock()
	for i := range d.Services {
		dp.follow(d, &d.Services[i], time.Time{})
	}
	dp.log.InfoContext(bg, "deployment live", "slug", d.Slug, "deployment", d.ID, "duration_ms", d.DurationMS)
	if prev != nil {
		logf("==> draining the previous deployment %s for %v", prev.ID, dp.cfg.DrainDelay)
		blog.Flush()
		dp.stopFollowers(prev)
		select {
		case <-time.After(dp.cfg.DrainDelay):
		case <-ctx.Done():
		}
		dp.removeWorkloads(bg, prev)
		if err := dp.st.save(bg, prev); err != nil {
			dp.log.ErrorContext(bg, "save deployment", "deployment", prev.ID, "err", err)
		}
		logf("==> previous deployment stopped")
	}
	dp.prune(bg, d.Slug, blog)
}

// workloadName names a service's workload; restarts get a suffix.
func workloadName(d *Deployment, s *ServiceDeployment) string {
	n := "mgx-app-" + d.Slug + "-" + s.Name + "-" + shortID(d.ID)[:8]
	if s.Restarts > 0 {
		n += "-r" + strconv.Itoa(s.Restarts)
	}
	return n
}

// processPort is the port key of process workloads: the process driver picks the real
// port and sets PORT.
const processPort = 3000

// spec is the workload of one service.
func (dp *Deployer) spec(d *Deployment, app *App, s *ServiceDeployment) runtime.Spec {
	base := BasePath(d.Slug)
	env := maps.Clone(app.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["BASE_PATH"] = base
	env["PUBLIC_URL"] = dp.cfg.PublicURL + base
	env["OTEL_SERVICE_NAME"] = d.Slug
	env["NODE_ENV"] = "production"
	// Keys without dots: handles (and their labels) are stored in MongoDB.
	labels := map[string]string{"mgx-role": "prod", "mgx-app": d.Slug, "mgx-deployment": d.ID, "mgx-service": s.Name}
	sp := runtime.Spec{Name: workloadName(d, s), Env: env, Labels: labels}
	if s.Image != "" {
		for k, v := range env {
			env[k] = dockerHost(v)
		}
		env["PORT"] = strconv.Itoa(s.Port)
		sp.Image, sp.Ports, sp.Resources, sp.User = s.Image, []int{s.Port}, dp.cfg.Resources, dp.cfg.User
		if dp.cfg.CABundle != "" {
			const target = "/etc/mgx/ca.crt"
			sp.Mounts = []runtime.Mount{{Source: dp.cfg.CABundle, Target: target, ReadOnly: true}}
			env["NODE_EXTRA_CA_CERTS"], env["SSL_CERT_FILE"], env["REQUESTS_CA_BUNDLE"] = target, target, target
		}
		return sp
	}
	sp.Command = s.Command
	sp.Mounts = []runtime.Mount{{Source: s.ReleaseDir, Target: "/release"}}
	sp.Dir = path.Join("/release", s.Dir)
	sp.Ports = []int{processPort}
	if dp.cfg.CABundle != "" {
		env["NODE_EXTRA_CA_CERTS"], env["SSL_CERT_FILE"], env["REQUESTS_CA_BUNDLE"] = dp.cfg.CABundle, dp.cfg.CABundle, dp.cfg.CABundle
	}
	return sp
}

func (s *ServiceDeployment) port() int {
	if s.Image != "" {
		return s.Port
	}
	return processPort
}

// dockerHost rewrites loopback hosts in URLs and host:port values to the Docker host
// gateway, which containers reach as host.docker.internal.
func dockerHost(v string) string {
	for _, lo := range []string{"127.0.0.1", "localhost", "[::1]"} {
		for _, sep := range []string{"//", "@"} {
			v = strings.ReplaceAll(v, sep+lo+":", sep+"host.docker.internal:")
			v = strings.ReplaceAll(v, sep+lo+"/", sep+"host.docker.internal/")
			if strings.HasSuffix(v, sep+lo) {
				v = strings.TrimSuffix(v, lo) + "host.docker.internal"
			}
		}
	}
	return v
}

// startAll starts every service and waits until all are healthy; it returns the reason
// of a failure, or "".
func (dp *Deployer) startAll(ctx context.Context, d *Deployment, app *App, blog *buildLog) string {
	bg := context.WithoutCancel(ctx)
	for i := range d.Services {
		s := &d.Services[i]
		fmt.Fprintf(blog, "==> starting service %s\n", s.Name)
		h, err := dp.cfg.Driver.Start(ctx, dp.spec(d, app, s))
		if err != nil {
			return fmt.Sprintf("cannot start service %s: %v", s.Name, err)
		}
		s.Handle, s.Addr = h, h.Addr(s.port())
		if err := dp.st.save(bg, d); err != nil {
			return fmt.Sprintf("cannot record service %s: %v", s.Name, err)
		}
		if s.Addr == "" {
			return fmt.Sprintf("service %s publishes no port", s.Name)
		}
	}
	errc := make(chan string, len(d.Services))
	for i := range d.Services {
		go func(s *ServiceDeployment) {
			reason := dp.waitHealthy(ctx, d.Slug, s)
			if reason != "" {
				fmt.Fprintf(blog, "==> service %s is not healthy: %s; its last output:\n", s.Name, reason)
				for _, l := range dp.tail(bg, s.Handle, 40) {
					fmt.Fprintf(blog, "    %s\n", l)
				}
			} else {
				fmt.Fprintf(blog, "==> service %s is healthy at %s\n", s.Name, s.Addr)
			}
			errc <- reason
		}(&d.Services[i])
	}
	var reasons []string
	for range d.Services {
		if r := <-errc; r != "" {
			reasons = append(reasons, r)
		}
	}
	slices.Sort(reasons)
	return strings.Join(reasons, "; ")
}

// healthURL is where a service's health check answers.
func healthURL(slug string, s *ServiceDeployment) string {
	p := s.Health
	if !s.StripPrefix {
		p = BasePath(slug) + p
	}
	return "http://" + s.Addr + p
}

var healthClient = &http.Client{Timeout: 3 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// waitHealthy polls a service until it answers its health check (or, without one, accepts
// connections), exits, or HealthTimeout passes.
func (dp *Deployer) waitHealthy(ctx context.Context, slug string, s *ServiceDeployment) string {
	deadline := time.Now().Add(dp.cfg.HealthTimeout)
	last := "no answer"
	for {
		st, err := dp.cfg.Driver.Inspect(ctx, s.Handle)
		if err == nil && st.State == runtime.StateExited {
			if st.OOMKilled {
				return fmt.Sprintf("service %s ran out of memory while starting", s.Name)
			}
			return fmt.Sprintf("service %s exited with code %d while starting", s.Name, st.ExitCode)
		}
		if err != nil && errors.Is(err, runtime.ErrNotFound) {
			return fmt.Sprintf("service %s disappeared while starting", s.Name)
		}
		if s.Health != "" {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, healthURL(slug, s), nil)
			resp, err := healthClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return ""
				}
				last = fmt.Sprintf("%s answered %d", s.Health, resp.StatusCode)
			} else {
				last = "no answer"
			}
		} else if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			return ""
		}
		if time.Now().After(deadline) {
			if s.Health != "" {
				return fmt.Sprintf("service %s did not pass its health check %s within %v (%s)", s.Name, s.Health, dp.cfg.HealthTimeout, last)
			}
			return fmt.Sprintf("service %s did not accept connections within %v", s.Name, dp.cfg.HealthTimeout)
		}
		select {
		case <-ctx.Done():
			return "MGX stopped while the app was starting"
		case <-time.After(dp.cfg.HealthInterval):
		}
	}
}

// tail returns the last n lines of a workload's output.
func (dp *Deployer) tail(ctx context.Context, h *runtime.Handle, n int) []string {
	if h == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := dp.cfg.Driver.Logs(ctx, h, runtime.LogOptions{Tail: n})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// switchRoutes points the app's prod routes at d's services and removes routes of prev's
// services that d does not have.
func (dp *Deployer) switchRoutes(ctx context.Context, d, prev *Deployment) error {
	keep := map[string]bool{}
	for _, s := range d.Services {
		r := gateway.AppRoute(gateway.KindProd, d.Slug, s.Route, s.StripPrefix, s.Addr)
		keep[r.ID] = true
		if err := dp.cfg.Router.Upsert(ctx, r); err != nil {
			return err
		}
	}
	if prev != nil {
		for _, s := range prev.Services {
			if id := gateway.AppRoute(gateway.KindProd, d.Slug, s.Route, s.StripPrefix).ID; !keep[id] {
				if err := dp.cfg.Router.Delete(ctx, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// removeWorkloads stops and removes a deployment's workloads and forgets their handles.
func (dp *Deployer) removeWorkloads(ctx context.Context, d *Deployment) {
	var wg sync.WaitGroup
	for i := range d.Services {
		s := &d.Services[i]
		if s.Handle == nil {
			continue
		}
		wg.Add(1)
		go func(h *runtime.Handle) {
			defer wg.Done()
			if err := dp.cfg.Driver.Stop(ctx, h, dp.cfg.StopTimeout); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				dp.log.WarnContext(ctx, "stop workload", "name", h.Name, "err", err)
			}
			if err := dp.cfg.Driver.Remove(ctx, h); err != nil {
				dp.log.WarnContext(ctx, "remove workload", "name", h.Name, "err", err)
			}
		}(s.Handle)
		s.Handle, s.Addr = nil, ""
	}
	wg.Wait()
}

// prune removes the builds of successful deployments beyond KeepReleases (the live one
// is never pruned).
func (dp *Deployer) prune(ctx context.Context, slug string, w io.Writer) {
	ds, err := dp.st.find(ctx, bson.M{"slug": slug, "status": StatusSuperseded, "pruned": bson.M{"$ne": true}}, 1000)
	if err != nil {
		dp.log.WarnContext(ctx, "prune", "slug", slug, "err", err)
		return
	}
	live, _ := dp.Live(ctx, slug)
	inUse := map[string]bool{}
	if live != nil {
		for _, s := range live.Services {
			inUse[s.Image+s.ReleaseDir] = true
		}
	}
	for i, d := range ds {
		if i < dp.cfg.KeepReleases {
			for _, s := range d.Services {
				inUse[s.Image+s.ReleaseDir] = true
			}
			continue
		}
		var arts []Artifact
		for _, s := range d.Services {
			// A rollback reuses its source's build: never remove what a kept one uses.
			if !inUse[s.Image+s.ReleaseDir] {
				arts = append(arts, s.Artifact)
			}
		}
		if err := dp.cfg.Builder.Remove(ctx, arts); err != nil {
			dp.log.WarnContext(ctx, "prune", "deployment", d.ID, "err", err)
			continue
		}
		d.Pruned = true
		if err := dp.st.save(ctx, &d); err != nil {
			dp.log.WarnContext(ctx, "prune", "deployment", d.ID, "err", err)
			continue
		}
		if w != nil {
			fmt.Fprintf(w, "==> pruned the build of deployment %s\n", d.ID)
		}
	}
}
