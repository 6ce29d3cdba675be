package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/runtime"
)

// Run supervises the live deployments until ctx ends: a workload that exited is
// restarted (backoff doubling from 1s to 1m per service), one whose address changed is
// re-routed. Deployments started after Run began outlive requests and stop with ctx.
// Call Recover before Run.
func (dp *Deployer) Run(ctx context.Context) error {
	dp.baseMu.Lock()
	dp.baseCtx = ctx
	dp.baseMu.Unlock()
	t := time.NewTicker(dp.cfg.SuperviseInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dp.wg.Wait()
			return nil
		case <-t.C:
		}
		if err := dp.supervise(ctx); err != nil && ctx.Err() == nil {
			dp.log.WarnContext(ctx, "supervise deployments", "err", err)
		}
	}
}

func (dp *Deployer) supervise(ctx context.Context) error {
	live, err := dp.st.find(ctx, bson.M{"status": StatusLive}, 10000)
	if err != nil {
		return err
	}
	for i := range live {
		dp.check(ctx, &live[i], false)
	}
	return nil
}

// check makes a live deployment's services run and be routed. recovering: this is the
// first look after an MGX restart (no backoff, followers restarted).
func (dp *Deployer) check(ctx context.Context, d *Deployment, recovering bool) {
	dp.liveMu.Lock()
	defer dp.liveMu.Unlock()
	// Re-read under the lock: a deployment may have just replaced this one.
	cur, err := dp.st.get(ctx, d.Slug, d.ID)
	if err != nil || cur.Status != StatusLive {
		return
	}
	*d = *cur
	changed := false
	var app *App
	for i := range d.Services {
		s := &d.Services[i]
		running := false
		if s.Handle != nil {
			if err := dp.cfg.Driver.Recover(ctx, s.Handle); err == nil {
				st, err := dp.cfg.Driver.Inspect(ctx, s.Handle)
				running = err == nil && st.State == runtime.StateRunning
				if err == nil && st.State == runtime.StateExited {
					dp.log.WarnContext(ctx, "production service exited", "slug", d.Slug, "service", s.Name, "exit_code", st.ExitCode, "oom", st.OOMKilled)
					dp.appLog(ctx, d, s, "warn", fmt.Sprintf("[mgx] service %s exited with code %d; restarting it", s.Name, st.ExitCode))
				}
			}
		}
		if running {
			if addr := s.Handle.Addr(s.port()); addr != "" && addr != s.Addr {
				s.Addr, changed = addr, true
			}
			if recovering {
				dp.follow(d, s, time.Now())
			}
			continue
		}
		key := d.ID + "/" + s.Name
		dp.mu.Lock()
		next := dp.restarting[key]
		dp.mu.Unlock()
		if !recovering && time.Now().Before(next) {
			continue
		}
		if app == nil {
			if app, err = dp.cfg.Apps.DeployApp(ctx, d.Slug); err != nil {
				dp.log.WarnContext(ctx, "restart production service", "slug", d.Slug, "err", err)
				return
			}
		}
		backoff := time.Second << min(s.Restarts, 6)
		dp.mu.Lock()
		dp.restarting[key] = time.Now().Add(min(backoff, time.Minute))
		dp.mu.Unlock()
		if s.Handle != nil {
			_ = dp.cfg.Driver.Remove(ctx, s.Handle)
		}
		s.Restarts++
		h, err := dp.cfg.Driver.Start(ctx, dp.spec(d, app, s))
		if err != nil {
			dp.log.WarnContext(ctx, "restart production service", "slug", d.Slug, "service", s.Name, "err", err)
			s.Handle, s.Addr, changed = nil, "", true
			continue
		}
		s.Handle, s.Addr, changed = h, h.Addr(s.port()), true
		dp.log.InfoContext(ctx, "production service restarted", "slug", d.Slug, "service", s.Name, "restarts", s.Restarts)
		dp.follow(d, s, time.Time{})
	}
	if changed || recovering {
		if err := dp.st.save(ctx, d); err != nil {
			dp.log.WarnContext(ctx, "save deployment", "deployment", d.ID, "err", err)
		}
	}
	// Routes are re-applied on recovery (the gateway may have lost them) and on change.
	if changed || recovering {
		ok := true
		for _, s := range d.Services {
			ok = ok && s.Addr != ""
		}
		if ok {
			if err := dp.switchRoutes(ctx, d, nil); err != nil {
				dp.log.WarnContext(ctx, "route production service", "slug", d.Slug, "err", err)
			}
		}
	}
}

// Recover is called once at start, before Run: deployments interrupted by the last stop
// end failed (their workloads removed, their locks released), and live deployments are
// re-attached (or restarted) and routed again.
func (dp *Deployer) Recover(ctx context.Context) error {
	stale, err := dp.st.find(ctx, bson.M{"status": bson.M{"$in": []string{StatusQueued, StatusBuilding, StatusStarting}}}, 10000)
	if err != nil {
		return fmt.Errorf("recover deployments: %w", err)
	}
	for i := range stale {
		d := &stale[i]
		dp.removeWorkloads(ctx, d)
		d.Status, d.Reason = StatusFailed, "interrupted: MGX stopped during the deployment"
		d.FinishedAt = time.Now().UTC().Truncate(time.Millisecond)
		if err := dp.st.save(ctx, d); err != nil {
			return err
		}
		if err := dp.st.unlock(ctx, d.Slug, d.ID); err != nil {
			return err
		}
		dp.log.InfoContext(ctx, "interrupted deployment marked failed", "slug", d.Slug, "deployment", d.ID)
	}
	live, err := dp.st.find(ctx, bson.M{"status": StatusLive}, 10000)
	if err != nil {
		return fmt.Errorf("recover deployments: %w", err)
	}
	for i := range live {
		dp.check(ctx, &live[i], true)
	}
	dp.log.InfoContext(ctx, "deployments recovered", "live", len(live), "interrupted", len(stale))
	return nil
}

// follow copies a service's output into the app's production logs until it exits or
// the deployment is retired.
func (dp *Deployer) follow(d *Deployment, s *ServiceDeployment, since time.Time) {
	if dp.cfg.Logs == nil || s.Handle == nil {
		return
	}
	key := d.ID + "/" + s.Name
	ctx, cancel := context.WithCancel(dp.base())
	dp.mu.Lock()
	if old := dp.followers[key]; old != nil {
		old()
	}
	dp.followers[key] = cancel
	dp.mu.Unlock()
	h := *s.Handle
	slug, dep, svc := d.Slug, d.ID, s.Name
	go func() {
		defer cancel()
		rc, err := dp.cfg.Driver.Logs(ctx, &h, runtime.LogOptions{Follow: true, Since: since})
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				dp.log.WarnContext(ctx, "follow production logs", "slug", slug, "service", svc, "err", err)
			}
			return
		}
		defer rc.Close()
		lines := make(chan string, 256)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				select {
				case lines <- sc.Text():
				case <-ctx.Done():
					return
				}
			}
		}()
		var batch []applogs.Entry
		flush := func() {
			if len(batch) == 0 {
				return
			}
			if err := dp.cfg.Logs.AppendLogs(context.WithoutCancel(ctx), batch); err != nil {
				dp.log.WarnContext(ctx, "store production logs", "slug", slug, "err", err)
			}
			batch = nil
		}
		t := time.NewTicker(300 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					flush()
					return
				}
				batch = append(batch, applogs.ContainerEntry(slug, svc, dep, l, time.Now()))
				if len(batch) >= 200 {
					flush()
				}
			case <-t.C:
				flush()
			case <-ctx.Done():
				flush()
				return
			}
		}
	}()
}

func (dp *Deployer) stopFollowers(d *Deployment) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	for _, s := range d.Services {
		if c := dp.followers[d.ID+"/"+s.Name]; c != nil {
			c()
			delete(dp.followers, d.ID+"/"+s.Name)
		}
	}
}

// appLog writes one line of MGX's own about an app into its production logs.
func (dp *Deployer) appLog(ctx context.Context, d *Deployment, s *ServiceDeployment, level, msg string) {
	if dp.cfg.Logs == nil {
		return
	}
	_ = dp.cfg.Logs.AppendLogs(ctx, []applogs.Entry{{Slug: d.Slug, Service: s.Name, Deployment: d.ID, Level: level, Message: msg}})
}
