// Package scheduler runs agent jobs from a Redis Stream (`mgx:runs`, consumer group
// `mgx-schedulers`) and supervises the agents through the container runtime.
//
// MongoDB `runs` is the source of truth; the stream only announces runs. An entry is
// acknowledged only once its run's final state is recorded. Entries of a scheduler that
// died are reclaimed with XAUTOCLAIM after ClaimIdle; a live scheduler keeps its entries
// fresh with XCLAIM. One run at a time per session, in order, is enforced by a lease per
// session in MongoDB `leases`: its holder runs the session's active runs one after the
// other; entries of the same session read by others wait ("parked") until the lease is
// free or their run is over. A run whose agent is still running is re-attached through
// the runtime's Recover; one whose agent is gone without FINISH is restarted once
// (MaxAttempts), then failed.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/store"
)

// Driver is what the scheduler needs of the container runtime (runtime.Driver has it).
type Driver interface {
	Name() string
	Start(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error)
	Recover(ctx context.Context, h *runtime.Handle) error
	Wait(ctx context.Context, h *runtime.Handle) (runtime.ExitResult, error)
	Stop(ctx context.Context, h *runtime.Handle, timeout time.Duration) error
	Remove(ctx context.Context, h *runtime.Handle) error
	Inspect(ctx context.Context, h *runtime.Handle) (runtime.Status, error)
	Logs(ctx context.Context, h *runtime.Handle, opts runtime.LogOptions) (io.ReadCloser, error)
}

var _ Driver = runtime.Driver(nil)

// Config configures a scheduler instance. Several instances may share one stream.
type Config struct {
	// DB is the MGX database (`runs`, `leases`, and `events` read for FINISH). Required.
	DB *mongo.Database
	// Redis carries the stream. Required.
	Redis redis.UniversalClient
	// Events records the FINISH events the scheduler writes itself. Required.
	Events EventSink
	// Driver starts agents: runtime/docker or runtime/process. Required.
	Driver Driver

	// WorkspacesDir is <data-dir>/workspaces on the host; a run's workspace
	// WorkspacesDir/<workspace_id> is mounted at /workspace. Required.
	WorkspacesDir string
	// MongoURL and MongoDB are MONGODB_URL and MONGODB_DB as the agent must see them (for
	// docker, an address containers reach, e.g. via host.docker.internal). Required.
	MongoURL, MongoDB string
	// RedisURL is REDIS_URL (and MGX_REDIS_URL, which the agent reads) as the agent sees
	// it, so its events wake SSE listeners.
	RedisURL string
	// Env is added to every agent's environment: the LLM settings (MGX_LLM_PROVIDER,
	// MGX_LLM_BASE_URL, MGX_LLM_API_KEY, MGX_LLM_MODEL) and anything else agents need.
	// Values of keys naming a KEY, SECRET, TOKEN or PASSWORD are redacted from reasons.
	Env map[string]string
	// RunEnv, when set, adds per-run variables at each agent start, e.g. MGX_EXEC_URL and a
	// MGX_EXEC_TOKEN scoped to the run for the control plane's command endpoint. An error
	// fails the run with it as the reason.
	RunEnv func(ctx context.Context, r *Run) (map[string]string, error)
	// PreviewURLBase, when set, gives the agent MGX_PREVIEW_URL=<base><slug>/, e.g.
	// "http://host.docker.internal:8080/dev/".
	PreviewURLBase string
	// Image is the agent image (docker). Default "mgx/agent:latest".
	Image string
	// Command runs the agent. Default: the process driver runs this binary
	// (os.Executable()) as `mgx agent`; docker runs ["mgx", "agent"].
	Command []string
	// Mounts are added to the workspace mount (e.g. a CA bundle, read-only).
	Mounts []runtime.Mount
	// Resources limit each agent container. Default 2 GiB, 2 CPUs, 512 pids.
	Resources runtime.Resources
	// User runs the agent container as this user (docker). Default: the image's.
	User string

	// Stream is the Redis stream. Default DefaultStream ("mgx:runs").
	Stream string
	// Group is the consumer group. Default "mgx-schedulers".
	Group string
	// Consumer names this instance in the group; it must be unique among live instances.
	// Default <hostname>-<pid>-<random>.
	Consumer string
	// Timeout bounds one run; the agent is then stopped and the run ends timed_out.
	// Default 30m.
	Timeout time.Duration
	// MaxRuns bounds the sessions this instance supervises at once. Default 8.
	MaxRuns int
	// MaxAttempts bounds agent starts per run when agents are lost (killed while no
	// scheduler watched). Default 2: a lost run is retried exactly once.
	MaxAttempts int
	// LeaseTTL is how long a session lease outlives its holder's last renewal. Default 30s.
	LeaseTTL time.Duration
	// ClaimIdle is how long an entry stays unrefreshed before another instance reclaims
	// it (XAUTOCLAIM). Default 60s.
	ClaimIdle time.Duration
	// PollInterval is how often a supervised run's document and events are checked
	// (cancel, FINISH). Default 1s.
	PollInterval time.Duration
	// ReconcileInterval is how often active runs missing from the stream (Redis lost its
	// data) are announced again. Default 15s.
	ReconcileInterval time.Duration
	// StaleAfter is how old an active run's heartbeat must be before reconciliation looks
	// at it. Default 2×ClaimIdle.
	StaleAfter time.Duration
	// StopGrace is how long a stopped agent gets between SIGTERM and SIGKILL. Default 10s.
	StopGrace time.Duration
	// ReadBlock is how long one stream read blocks; shutdown waits for it. Default 2s.
	ReadBlock time.Duration
	// FinishGrace is how long an agent may keep running after its FINISH. Default 15s.
	FinishGrace time.Duration
	// Logger; default discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("DB is required"))
	}
	if c.Redis == nil {
		errs = append(errs, errors.New("Redis is required"))
	}
	if c.Events == nil {
		errs = append(errs, errors.New("Events is required"))
	}
	if c.Driver == nil {
		errs = append(errs, errors.New("Driver is required"))
	}
	if c.WorkspacesDir == "" {
		errs = append(errs, errors.New("WorkspacesDir is required"))
	}
	if c.MongoURL == "" {
		errs = append(errs, errors.New("MongoURL is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scheduler config: %w", err)
	}
	if c.MongoDB == "" {
		c.MongoDB = c.DB.Name()
	}
	if c.Image == "" {
		c.Image = "mgx/agent:latest"
	}
	if len(c.Command) == 0 {
		if c.Driver.Name() == "process" {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("scheduler config: find the mgx binary: %w", err)
			}
			c.Command = []string{exe, "agent"}
		} else {
			c.Command = []string{"mgx", "agent"}
		}
	}
	if c.Resources == (runtime.Resources{}) {
		c.Resources = runtime.Resources{MemoryBytes: 2 << 30, CPUs: 2, Pids: 512}
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Group == "" {
		c.Group = "mgx-schedulers"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), store.ShortID()[:6])
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Timeout, 30*time.Minute)
	def(&c.LeaseTTL, 30*time.Second)
	def(&c.ClaimIdle, 60*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.ReconcileInterval, 15*time.Second)
	def(&c.StaleAfter, 2*c.ClaimIdle)
	def(&c.StopGrace, 10*time.Second)
	def(&c.FinishGrace, 15*time.Second)
	def(&c.ReadBlock, 2*time.Second)
	if c.MaxRuns <= 0 {
		c.MaxRuns = 8
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Scheduler consumes the stream and supervises agents.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	runs   *Runs
	leases *leases
	queue  *Queue
	events *mongo.Collection

	slots chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	tracked map[string]*entry        // by stream entry id
	cancels map[string]chan struct{} // by run id: closed/signalled on cancel
}

// entry is a stream entry this instance holds (pending under its consumer name).
type entry struct {
	msgID, runID, sessionID string
	parked                  bool
}

// New returns a scheduler; Run starts it.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	q, err := NewQueue(QueueConfig{DB: cfg.DB, Redis: cfg.Redis, Events: cfg.Events, Stream: cfg.Stream, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return &Scheduler{
		cfg: cfg, log: cfg.Logger.With("consumer", cfg.Consumer), runs: q.runs, queue: q,
		leases:  q.leases,
		events:  cfg.DB.Collection("events"),
		slots:   make(chan struct{}, cfg.MaxRuns),
		tracked: map[string]*entry{}, cancels: map[string]chan struct{}{},
	}, nil
}

// Queue is the enqueueing side on the same stream (for the sessions API).
func (s *Scheduler) Queue() *Queue { return s.queue }

// Consumer is this instance's consumer name.
func (s *Scheduler) Consumer() string { return s.cfg.Consumer }

// Run consumes the stream until ctx ends. Agents keep running when it returns: another
// instance (or this one restarted) re-attaches to them.
func (s *Scheduler) Run(ctx context.Context) error {
	s.log.InfoContext(ctx, "scheduler started", "stream", s.cfg.Stream, "driver", s.cfg.Driver.Name(), "max_runs", s.cfg.MaxRuns)
	for ctx.Err() == nil {
		if err := s.ensureGroup(ctx); err == nil {
			break
		} else {
			s.log.WarnContext(ctx, "create consumer group; retrying", "err", err)
		}
		sleep(ctx, time.Second)
	}
	loops := []func(context.Context){s.readLoop, s.reclaimLoop, s.parkLoop, s.refreshLoop, s.reconcileLoop, s.cancelLoop}
	var lw sync.WaitGroup
	for _, l := range loops {
		lw.Add(1)
		go func() { defer lw.Done(); l(ctx) }()
	}
	lw.Wait()
	s.wg.Wait()
	s.log.InfoContext(context.WithoutCancel(ctx), "scheduler stopped")
	return nil
}

func (s *Scheduler) ensureGroup(ctx context.Context) error {
	err := s.cfg.Redis.XGroupCreateMkStream(ctx, s.cfg.Stream, s.cfg.Group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// readLoop reads new entries while a slot is free.
func (s *Scheduler) readLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case s.slots <- struct{}{}:
		}
		res, err := s.cfg.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.cfg.Group, Consumer: s.cfg.Consumer, Streams: []string{s.cfg.Stream, ">"},
			Count: 1, Block: s.cfg.ReadBlock,
		}).Result()
		if err != nil {
			<-s.slots
			if errors.Is(err, redis.Nil) || ctx.Err() != nil {
				continue
			}
			if strings.Contains(err.Error(), "NOGROUP") {
				_ = s.ensureGroup(ctx)
			}
			s.log.WarnContext(ctx, "read stream", "err", err)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		got := false
		for _, st := range res {
			for _, m := range st.Messages {
				if !got {
					got = true
					s.dispatch(ctx, m)
				} else if s.trySlot() {
					s.dispatch(ctx, m)
				}
			}
		}
		if !got {
			<-s.slots
		}
	}
}

func (s *Scheduler) trySlot() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// dispatch handles an entry for which the caller holds a slot.
func (s *Scheduler) dispatch(ctx context.Context, m redis.XMessage) {
	runID, _ := m.Values["run_id"].(string)
	sessionID, _ := m.Values["session_id"].(string)
	s.mu.Lock()
	if _, ok := s.tracked[m.ID]; ok {
		s.mu.Unlock()
		<-s.slots
		return
	}
	e := &entry{msgID: m.ID, runID: runID, sessionID: sessionID}
	s.tracked[m.ID] = e
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.handle(ctx, e)
	}()
}

func (s *Scheduler) untrack(e *entry) {
	s.mu.Lock()
	delete(s.tracked, e.msgID)
	s.mu.Unlock()
}

func (s *Scheduler) ack(ctx context.Context, e *entry) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	pipe := s.cfg.Redis.TxPipeline()
	pipe.XAck(actx, s.cfg.Stream, s.cfg.Group, e.msgID)
	pipe.HDel(actx, entriesKey(s.cfg.Stream), e.runID)
	if _, err := pipe.Exec(actx); err != nil {
		// The run is final in MongoDB: whoever gets the entry next acks it.
		s.log.WarnContext(ctx, "ack entry", "entry", e.msgID, "run", e.runID, "err", err)
	}
	s.untrack(e)
}

func leaseKey(sessionID string) string { return "session:" + sessionID }

func (s *Scheduler) holder(e *entry) string { return s.cfg.Consumer + "/" + e.msgID }

// handle processes one entry with a slot held: it acks entries of final runs, and runs
// the session (this run and any other active one, in order) when it gets the lease.
func (s *Scheduler) handle(ctx context.Context, e *entry) {
	defer func() { <-s.slots }()
	r, err := s.runs.Get(ctx, e.runID)
	switch {
	case errors.Is(err, ErrNotFound):
		s.log.WarnContext(ctx, "entry for an unknown run", "entry", e.msgID, "run", e.runID)
		s.ack(ctx, e)
		return
	case err != nil:
		s.log.ErrorContext(ctx, "read run", "run", e.runID, "err", err)
		s.park(e) // retried by the park loop
		return
	case Final(r.State):
		s.ack(ctx, e)
		return
	}
	e.sessionID = r.SessionID
	s.log.DebugContext(ctx, "entry", "entry", e.msgID, "run", r.ID, "state", r.State, "attempts", r.Attempts)
	key, holder := leaseKey(r.SessionID), s.holder(e)
	ok, err := s.leases.acquire(ctx, key, holder, s.cfg.LeaseTTL)
	if err != nil || !ok {
		if err != nil {
			s.log.WarnContext(ctx, "acquire lease", "session", r.SessionID, "err", err)
		}
		s.park(e)
		return
	}
	err = s.runSession(ctx, r.SessionID, key, holder)
	if ctx.Err() != nil {
		// Shutting down (or killed): keep the lease and the entry; they expire and are
		// reclaimed by another instance, which re-attaches to the agent.
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	_ = s.leases.release(rctx, key, holder)
	cancel()
	if err != nil {
		s.log.WarnContext(ctx, "session run interrupted", "session", r.SessionID, "err", err)
	}
	if r, gerr := s.runs.Get(ctx, e.runID); gerr == nil && Final(r.State) {
		s.ack(ctx, e)
		return
	}
	s.park(e)
}

func (s *Scheduler) park(e *entry) {
	s.mu.Lock()
	e.parked = true
	s.mu.Unlock()
}

var errLeaseLost = errors.New("session lease lost")

// runSession supervises the session's active runs in order while holding its lease.
func (s *Scheduler) runSession(ctx context.Context, sessionID, key, holder string) error {
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(s.cfg.LeaseTTL / 3)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			ok, err := s.leases.acquire(lctx, key, holder, s.cfg.LeaseTTL)
			switch {
			case err == nil && !ok:
				cancel(errLeaseLost) // another holder has it: stop acting at once
				return
			case err == nil:
				renewed = time.Now()
			case lctx.Err() == nil:
				s.log.WarnContext(lctx, "renew lease", "session", sessionID, "err", err)
				if time.Since(renewed) >= s.cfg.LeaseTTL {
					// It may have expired where others can see it: stop acting.
					cancel(errLeaseLost)
					return
				}
			}
		}
	}()
	for {
		r, err := s.runs.nextActive(lctx, sessionID)
		if err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		if err := s.supervise(lctx, r); err != nil {
			if c := context.Cause(lctx); c != nil {
				return c
			}
			return err
		}
	}
}

// parkLoop acks parked entries whose run is over and hands back those whose session lease
// came free.
func (s *Scheduler) parkLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var parked []*entry
		for _, e := range s.tracked {
			if e.parked {
				parked = append(parked, e)
			}
		}
		s.mu.Unlock()
		for _, e := range parked {
			r, err := s.runs.Get(ctx, e.runID)
			if err == nil && Final(r.State) || errors.Is(err, ErrNotFound) {
				s.ack(ctx, e)
				continue
			}
			if err != nil {
				continue
			}
			if free, err := s.leases.free(ctx, leaseKey(r.SessionID)); err != nil || !free {
				continue
			}
			if !s.trySlot() {
				break
			}
			s.mu.Lock()
			e.parked = false
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(ctx, e)
			}()
		}
	}
}

// refreshLoop keeps this instance's entries from looking abandoned: XCLAIM to itself
// resets their idle time.
func (s *Scheduler) refreshLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ClaimIdle / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		ids := make([]string, 0, len(s.tracked))
		for id := range s.tracked {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		err := s.cfg.Redis.XClaimJustID(ctx, &redis.XClaimArgs{
			Stream: s.cfg.Stream, Group: s.cfg.Group, Consumer: s.cfg.Consumer, MinIdle: 0, Messages: ids,
		}).Err()
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "refresh entries", "err", err)
		}
	}
}

// reclaimLoop takes over entries other instances left idle for ClaimIdle.
func (s *Scheduler) reclaimLoop(ctx context.Context) {
	every := max(s.cfg.ClaimIdle/2, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(lastSweep) > 10*time.Minute {
			lastSweep = time.Now()
			s.forgetDeadConsumers(ctx)
		}
		start := "0-0"
		for ctx.Err() == nil {
			free := cap(s.slots) - len(s.slots)
			if free <= 0 {
				break
			}
			msgs, next, err := s.cfg.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: s.cfg.Stream, Group: s.cfg.Group, Consumer: s.cfg.Consumer,
				MinIdle: s.cfg.ClaimIdle, Start: start, Count: int64(free),
			}).Result()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, redis.Nil) {
					s.log.WarnContext(ctx, "reclaim entries", "err", err)
				}
				break
			}
			for _, m := range msgs {
				if !s.trySlot() {
					break // stays pending on us: refreshed, handled when a slot frees up
				}
				s.log.InfoContext(ctx, "reclaimed entry", "entry", m.ID, "run", m.Values["run_id"])
				s.dispatch(ctx, m)
			}
			if next == "0-0" || next == "" {
				break
			}
			start = next
		}
	}
}

// forgetDeadConsumers deletes consumers of earlier instances that hold no entries and
// were idle for an hour, so the group does not grow with every restart.
func (s *Scheduler) forgetDeadConsumers(ctx context.Context) {
	cs, err := s.cfg.Redis.XInfoConsumers(ctx, s.cfg.Stream, s.cfg.Group).Result()
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Name != s.cfg.Consumer && c.Pending == 0 && c.Idle > time.Hour {
			_ = s.cfg.Redis.XGroupDelConsumer(ctx, s.cfg.Stream, s.cfg.Group, c.Name).Err()
		}
	}
}

// reconcileLoop announces again active runs whose entry is missing from the stream (Redis
// restarted without its data, or an XADD failed).
func (s *Scheduler) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stale, err := s.runs.stale(ctx, time.Now().Add(-s.cfg.StaleAfter), 100)
		if err != nil {
			continue
		}
		for i := range stale {
			r := &stale[i]
			id, err := s.cfg.Redis.HGet(ctx, entriesKey(s.cfg.Stream), r.ID).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				break // Redis is away: next time
			}
			if id != "" {
				if got, err := s.cfg.Redis.XRange(ctx, s.cfg.Stream, id, id).Result(); err != nil || len(got) > 0 {
					continue
				}
			}
			if err := s.ensureGroup(ctx); err != nil {
				break
			}
			if err := s.queue.publish(ctx, r); err != nil {
				s.log.WarnContext(ctx, "republish run", "run", r.ID, "err", err)
				break
			}
			s.log.InfoContext(ctx, "republished run missing from the stream", "run", r.ID, "session", r.SessionID)
		}
	}
}

// cancelLoop wakes supervisors of cancelled runs at once instead of at their next poll.
func (s *Scheduler) cancelLoop(ctx context.Context) {
	for ctx.Err() == nil {
		sub := s.cfg.Redis.Subscribe(ctx, cancelChannel)
		ch := sub.Channel()
	recv:
		for {
			select {
			case <-ctx.Done():
				break recv
			case m, ok := <-ch:
				if !ok {
					break recv
				}
				s.mu.Lock()
				if c, ok := s.cancels[m.Payload]; ok {
					select {
					case c <- struct{}{}:
					default:
					}
				}
				s.mu.Unlock()
			}
		}
		_ = sub.Close()
		sleep(ctx, time.Second)
	}
}

func (s *Scheduler) cancelWake(runID string) (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.cancels[runID] = c
	s.mu.Unlock()
	return c, func() {
		s.mu.Lock()
		delete(s.cancels, runID)
		s.mu.Unlock()
	}
}
