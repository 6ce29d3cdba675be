package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/scheduler/redistest"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// fakeRuntime is a func-based runtime: each workload runs agent in a goroutine. Like a
// Docker daemon, it outlives the schedulers that use it, so a second scheduler can
// Recover what the first started.
type fakeRuntime struct {
	agent func(ctx context.Context, w *work) int

	mu     sync.Mutex
	works  map[string]*work
	n      int
	starts atomic.Int32
	specs  []runtime.Spec
}

type work struct {
	spec   runtime.Spec
	id     string
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	killed atomic.Bool

	mu      sync.Mutex
	out     bytes.Buffer
	removed bool
}

func (w *work) printf(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(&w.out, format, a...)
}

func (w *work) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

var _ scheduler.Driver = (*fakeRuntime)(nil)

func newFakeRuntime(agent func(ctx context.Context, w *work) int) *fakeRuntime {
	return &fakeRuntime{agent: agent, works: map[string]*work{}}
}

func (f *fakeRuntime) Name() string { return "fake" }

func (f *fakeRuntime) Start(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.works {
		if w.spec.Name == spec.Name && !w.removed {
			return nil, fmt.Errorf("start %s: %w", spec.Name, runtime.ErrConflict)
		}
	}
	f.n++
	wctx, cancel := context.WithCancel(context.Background())
	w := &work{spec: spec, id: fmt.Sprintf("w%d", f.n), cancel: cancel, done: make(chan struct{})}
	f.works[w.id] = w
	f.specs = append(f.specs, spec)
	f.starts.Add(1)
	go func() {
		code := f.agent(wctx, w)
		if w.killed.Load() {
			code = 137
		}
		w.code = code
		close(w.done)
	}()
	return &runtime.Handle{Driver: "fake", ID: w.id, Name: spec.Name, Labels: spec.Labels, StartedAt: time.Now()}, nil
}

func (f *fakeRuntime) get(h *runtime.Handle) (*work, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.works[h.ID]
	if !ok || w.removed {
		return nil, fmt.Errorf("%s: %w", h.ID, runtime.ErrNotFound)
	}
	return w, nil
}

// byName returns the live workload with that name.
func (f *fakeRuntime) byName(name string) *work {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.works {
		if w.spec.Name == name && !w.removed {
			return w
		}
	}
	return nil
}

// kill ends a workload from outside, as `kill -9` or `docker kill` would.
func (f *fakeRuntime) kill(w *work) {
	w.killed.Store(true)
	w.cancel()
	<-w.done
}

// live counts workloads not removed.
func (f *fakeRuntime) live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.works {
		if !w.removed {
			n++
		}
	}
	return n
}

func (f *fakeRuntime) Recover(ctx context.Context, h *runtime.Handle) error {
	_, err := f.get(h)
	return err
}

func (f *fakeRuntime) Wait(ctx context.Context, h *runtime.Handle) (runtime.ExitResult, error) {
	w, err := f.get(h)
	if err != nil {
		return runtime.ExitResult{}, err
	}
	select {
	case <-ctx.Done():
		return runtime.ExitResult{}, ctx.Err()
	case <-w.done:
		return runtime.ExitResult{ExitCode: w.code}, nil
	}
}

func (f *fakeRuntime) Stop(ctx context.Context, h *runtime.Handle, timeout time.Duration) error {
	w, err := f.get(h)
	if err != nil {
		return err
	}
	w.cancel()
	<-w.done
	return nil
}

func (f *fakeRuntime) Remove(ctx context.Context, h *runtime.Handle) error {
	w, err := f.get(h)
	if err != nil {
		return nil
	}
	w.cancel()
	<-w.done
	w.mu.Lock()
	w.removed = true
	w.mu.Unlock()
	f.mu.Lock()
	w.removed = true
	f.mu.Unlock()
	return nil
}

func (f *fakeRuntime) Inspect(ctx context.Context, h *runtime.Handle) (runtime.Status, error) {
	w, err := f.get(h)
	if err != nil {
		return runtime.Status{}, err
	}
	if w.exited() {
		return runtime.Status{State: runtime.StateExited, ExitCode: w.code}, nil
	}
	return runtime.Status{State: runtime.StateRunning}, nil
}

func (f *fakeRuntime) Logs(ctx context.Context, h *runtime.Handle, opts runtime.LogOptions) (io.ReadCloser, error) {
	w, err := f.get(h)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return io.NopCloser(bytes.NewReader(bytes.Clone(w.out.Bytes()))), nil
}

// harness is a database, a Redis, an event store and a queue shared by scheduler
// instances of one test.
type harness struct {
	t     *testing.T
	st    *store.Store
	redis *redistest.Server
	rdb   *redis.Client
	ev    *events.Store
	q     *scheduler.Queue
	rt    *fakeRuntime
}

func newHarness(t *testing.T, rt *fakeRuntime, ropts redistest.Options) *harness {
	t.Helper()
	st := storetest.New(t)
	ctx := t.Context()
	if err := events.EnsureIndexes(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := scheduler.EnsureIndexes(ctx, st); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, ropts)
	rdb := srv.Client()
	ev := events.NewStore(st.DB(), rdb)
	q, err := scheduler.NewQueue(scheduler.QueueConfig{DB: st.DB(), Redis: rdb, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, st: st, redis: srv, rdb: rdb, ev: ev, q: q, rt: rt}
}

// fastConfig has short intervals so faults heal within a test's seconds.
func (h *harness) fastConfig(d scheduler.Driver) scheduler.Config {
	return scheduler.Config{
		DB: h.st.DB(), Redis: h.rdb, Events: h.ev, Driver: d,
		WorkspacesDir: h.t.TempDir(), MongoURL: "mongodb://agents-see-this/", RedisURL: "redis://agents-see-this",
		Env:     map[string]string{"MGX_LLM_PROVIDER": "offline", "MGX_LLM_API_KEY": "sk-very-secret"},
		Timeout: time.Minute, LeaseTTL: 600 * time.Millisecond, ClaimIdle: 400 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, ReconcileInterval: 200 * time.Millisecond,
		StaleAfter: 500 * time.Millisecond, StopGrace: 200 * time.Millisecond, FinishGrace: 300 * time.Millisecond,
		ReadBlock: 100 * time.Millisecond, Logger: testLogger(h.t),
	}
}

// testLogger logs through t.Log (shown for failing tests) until the test ends.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// start runs a scheduler until the returned stop (or the test's end).
func (h *harness) start(cfg scheduler.Config) (stop func()) {
	h.t.Helper()
	s, err := scheduler.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				h.t.Errorf("scheduler did not stop")
			}
		})
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) enqueue(session, prompt string) *scheduler.Run {
	h.t.Helper()
	r, err := h.q.Enqueue(h.t.Context(), scheduler.RunRequest{
		SessionID: session, WorkspaceID: "ws-" + session, Framework: "nextjs", AppSlug: "app-" + session, Prompt: prompt,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// wait polls the run until cond holds.
func (h *harness) wait(runID string, within time.Duration, cond func(*scheduler.Run) bool) *scheduler.Run {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := h.q.Runs().Get(context.Background(), runID)
		if err == nil && cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %s: condition not met within %s; last %+v (err %v)", runID, within, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func final(r *scheduler.Run) bool { return scheduler.Final(r.State) }

// finishes returns the session's FINISH events.
func (h *harness) finishes(session string) []events.Event {
	h.t.Helper()
	all, err := h.ev.List(context.Background(), session, 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []events.Event
	for _, e := range all {
		if e.Type == events.Finish {
			out = append(out, e)
		}
	}
	return out
}

// pending is the number of unacknowledged entries of the group.
func (h *harness) pending() int64 {
	p, err := h.rdb.XPending(context.Background(), scheduler.DefaultStream, "mgx-schedulers").Result()
	if err != nil {
		return -1
	}
	return p.Count
}

// Agent behaviours.

// finishAfter emits a few events and FINISH succeeded after d.
func finishAfter(ev *events.Store, d time.Duration) func(ctx context.Context, w *work) int {
	return func(ctx context.Context, w *work) int {
		sid := w.spec.Env["SESSION_ID"]
		_ = ev.Emit(context.Background(), sid, events.AgentStart, "team_leader", map[string]any{"run": w.spec.Env["MGX_RUN_NUMBER"]})
		select {
		case <-ctx.Done():
			w.printf("terminated\n")
			return 143
		case <-time.After(d):
		}
		_ = ev.Emit(context.Background(), sid, events.Finish, "team_leader", map[string]any{"status": "succeeded", "reason": "done"})
		return 0
	}
}
