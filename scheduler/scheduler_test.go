package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/scheduler/redistest"
)

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		agent      func(ev *events.Store) func(ctx context.Context, w *work) int
		timeout    time.Duration
		state      string
		reason     string // substring of the recorded reason and the FINISH reason
		agentWrote bool   // the FINISH comes from the agent, not the scheduler
	}{
		{
			name: "succeeds",
			agent: func(ev *events.Store) func(ctx context.Context, w *work) int {
				return finishAfter(ev, 50*time.Millisecond)
			},
			state: scheduler.StateSucceeded, reason: "done", agentWrote: true,
		},
		{
			name: "agent reports failure",
			agent: func(ev *events.Store) func(ctx context.Context, w *work) int {
				return func(ctx context.Context, w *work) int {
					_ = ev.Emit(ctx, w.spec.Env["SESSION_ID"], events.Finish, "team_leader", map[string]any{"status": "failed", "reason": "tests keep failing"})
					return 1
				}
			},
			state: scheduler.StateFailed, reason: "tests keep failing", agentWrote: true,
		},
		{
			name: "exits without FINISH",
			agent: func(ev *events.Store) func(ctx context.Context, w *work) int {
				return func(ctx context.Context, w *work) int {
					w.printf("starting\npanic: nil map (key sk-very-secret)\n")
					return 2
				}
			},
			state: scheduler.StateFailed, reason: "exited with code 2 without finishing; its last output: starting | panic: nil map (key [redacted])",
		},
		{
			name: "times out",
			agent: func(ev *events.Store) func(ctx context.Context, w *work) int {
				return func(ctx context.Context, w *work) int { <-ctx.Done(); return 143 }
			},
			timeout: 300 * time.Millisecond,
			state:   scheduler.StateTimedOut, reason: "longer than 300ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newFakeRuntime(nil)
			h := newHarness(t, rt, redistest.Options{})
			rt.agent = tt.agent(h.ev)
			cfg := h.fastConfig(rt)
			if tt.timeout > 0 {
				cfg.Timeout = tt.timeout
			}
			h.start(cfg)
			r := h.enqueue("s1", "a todo app")
			got := h.wait(r.ID, 10*time.Second, final)
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("run ended %s (%q), want %s (%q)", got.State, got.Reason, tt.state, tt.reason)
			}
			fin := h.finishes("s1")
			if len(fin) != 1 {
				t.Fatalf("%d FINISH events, want exactly 1: %+v", len(fin), fin)
			}
			if fin[0].Data["status"] != tt.state || !strings.Contains(fin[0].Data["reason"].(string), tt.reason) {
				t.Fatalf("FINISH %+v", fin[0].Data)
			}
			if wrote := fin[0].Role != scheduler.RoleScheduler; wrote != tt.agentWrote {
				t.Fatalf("FINISH role %q", fin[0].Role)
			}
			if got.Attempts != 1 || got.FinishedAt.IsZero() || got.StartedAt.IsZero() {
				t.Fatalf("run %+v", got)
			}
			deadline := time.Now().Add(5 * time.Second)
			for h.pending() != 0 || rt.live() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("entry not acked (%d pending) or agent not removed (%d live)", h.pending(), rt.live())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestAgentSpec(t *testing.T) {
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	rt.agent = finishAfter(h.ev, 0)
	cfg := h.fastConfig(rt)
	cfg.Image = "mgx/agent:test"
	cfg.PreviewURLBase = "http://host.docker.internal:8080/dev/"
	cfg.RunEnv = func(ctx context.Context, r *scheduler.Run) (map[string]string, error) {
		return map[string]string{"MGX_EXEC_TOKEN": "token-for-" + r.ID}, nil
	}
	h.start(cfg)
	r := h.enqueue("sess1", "a recipe book")
	h.wait(r.ID, 10*time.Second, final)
	rt.mu.Lock()
	spec := rt.specs[0]
	rt.mu.Unlock()
	if spec.Name != "mgx-agent-sess1" || spec.Image != "mgx/agent:test" || spec.Dir != "/workspace" {
		t.Fatalf("spec %+v", spec)
	}
	if len(spec.Mounts) != 1 || spec.Mounts[0].Target != "/workspace" || !strings.HasSuffix(spec.Mounts[0].Source, "/ws-sess1") {
		t.Fatalf("mounts %+v", spec.Mounts)
	}
	want := map[string]string{
		"SESSION_ID": "sess1", "WORKSPACE_ID": "ws-sess1", "FRAMEWORK": "nextjs", "PROMPT": "a recipe book",
		"MONGODB_URL": "mongodb://agents-see-this/", "MONGODB_DB": h.st.DB().Name(), "REDIS_URL": "redis://agents-see-this",
		"MGX_REDIS_URL": "redis://agents-see-this", "MGX_EXEC_TOKEN": "token-for-" + r.ID,
		"MGX_LLM_PROVIDER": "offline", "MGX_WORKSPACE_DIR": "/workspace", "MGX_RUN_NUMBER": "1",
		"MGX_PREVIEW_URL": "http://host.docker.internal:8080/dev/app-sess1/", "MGX_AGENT_TIMEOUT": "1m0s", // 1m minus 2×StopGrace (0.4s), rounded
	}
	for k, v := range want {
		if spec.Env[k] != v {
			t.Errorf("env %s=%q, want %q", k, spec.Env[k], v)
		}
	}
	if spec.Labels[scheduler.LabelSession] != "sess1" || spec.Labels[scheduler.LabelRun] != r.ID || spec.Resources.MemoryBytes == 0 {
		t.Fatalf("labels %v resources %+v", spec.Labels, spec.Resources)
	}
}

// Follow-ups queue behind the active run and run one at a time, in order, even with
// two schedulers reading the stream.
func TestOneRunAtATimePerSession(t *testing.T) {
	var running, maxRunning atomic.Int32
	var mu sync.Mutex
	var order []string
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	rt.agent = func(ctx context.Context, w *work) int {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		order = append(order, w.spec.Env["MGX_RUN_NUMBER"])
		mu.Unlock()
		return finishAfter(h.ev, 100*time.Millisecond)(ctx, w)
	}
	h.start(h.fastConfig(rt))
	h.start(h.fastConfig(rt))
	var runs []*scheduler.Run
	for i := range 3 {
		runs = append(runs, h.enqueue("s1", "message "+string(rune('a'+i))))
	}
	for _, r := range runs {
		if got := h.wait(r.ID, 15*time.Second, final); got.State != scheduler.StateSucceeded {
			t.Fatalf("run %d: %s %s", got.Number, got.State, got.Reason)
		}
	}
	if maxRunning.Load() != 1 {
		t.Fatalf("%d agents of one session ran at once", maxRunning.Load())
	}
	if strings.Join(order, ",") != "1,2,3" {
		t.Fatalf("runs started in order %v", order)
	}
	if n := len(h.finishes("s1")); n != 3 {
		t.Fatalf("%d FINISH events", n)
	}
}

func TestCancel(t *testing.T) {
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	var started atomic.Int32
	rt.agent = func(ctx context.Context, w *work) int {
		started.Add(1)
		<-ctx.Done()
		return 143
	}
	h.start(h.fastConfig(rt))
	r1 := h.enqueue("s1", "first")
	h.wait(r1.ID, 10*time.Second, func(r *scheduler.Run) bool { return r.Handle != nil })
	r2 := h.enqueue("s1", "follow-up")
	t0 := time.Now()
	n, err := h.q.Cancel(t.Context(), "s1")
	if err != nil || n != 2 {
		t.Fatalf("Cancel = %d, %v", n, err)
	}
	got1 := h.wait(r1.ID, 5*time.Second, final)
	took := time.Since(t0)
	got2 := h.wait(r2.ID, 5*time.Second, final)
	if got1.State != scheduler.StateCancelled || got2.State != scheduler.StateCancelled {
		t.Fatalf("states %s %s", got1.State, got2.State)
	}
	if started.Load() != 1 {
		t.Fatalf("%d agents started: the queued run must not start", started.Load())
	}
	fin := h.finishes("s1")
	if len(fin) != 2 {
		t.Fatalf("FINISH events %+v", fin)
	}
	for _, e := range fin {
		if e.Data["status"] != "cancelled" {
			t.Fatalf("FINISH %+v", e.Data)
		}
	}
	t.Logf("cancel took %s", took)
}

// The agent is killed from outside: FINISH failed with the reason.
func TestAgentKilled(t *testing.T) {
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	rt.agent = func(ctx context.Context, w *work) int { <-ctx.Done(); return 0 }
	h.start(h.fastConfig(rt))
	r := h.enqueue("s1", "x")
	h.wait(r.ID, 10*time.Second, func(r *scheduler.Run) bool { return r.Handle != nil })
	rt.kill(rt.byName("mgx-agent-s1"))
	got := h.wait(r.ID, 5*time.Second, final)
	if got.State != scheduler.StateFailed || !strings.Contains(got.Reason, "killed (exit code 137)") {
		t.Fatalf("run %s %q", got.State, got.Reason)
	}
	fin := h.finishes("s1")
	if len(fin) != 1 || fin[0].Data["status"] != "failed" || !strings.Contains(fin[0].Data["reason"].(string), "killed") {
		t.Fatalf("FINISH %+v", fin)
	}
	if got.Attempts != 1 {
		t.Fatalf("a killed agent under a live scheduler is not retried: %d attempts", got.Attempts)
	}
}

// A scheduler dies mid-run: another reclaims the entry, re-attaches to the still running
// agent (not starting a second one) and records the end.
func TestSchedulerDiesAgentSurvives(t *testing.T) {
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	rt.agent = finishAfter(h.ev, 1500*time.Millisecond)
	stopA := h.start(h.fastConfig(rt))
	r := h.enqueue("s1", "x")
	h.wait(r.ID, 10*time.Second, func(r *scheduler.Run) bool { return r.Handle != nil })
	stopA() // killed: no ack, lease kept until it expires
	h.start(h.fastConfig(rt))
	got := h.wait(r.ID, 10*time.Second, final)
	if got.State != scheduler.StateSucceeded || got.Attempts != 1 || rt.starts.Load() != 1 {
		t.Fatalf("run %s attempts %d, %d agent starts", got.State, got.Attempts, rt.starts.Load())
	}
	if n := len(h.finishes("s1")); n != 1 {
		t.Fatalf("%d FINISH events", n)
	}
	waitFor(t, func() bool { return h.pending() == 0 }, "entry acked by the new scheduler")
}

// A scheduler dies and its agent dies with it: the run is retried exactly once.
func TestSchedulerAndAgentDieRetriedOnce(t *testing.T) {
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	var concurrent, maxConcurrent atomic.Int32
	rt.agent = func(ctx context.Context, w *work) int {
		n := concurrent.Add(1)
		defer concurrent.Add(-1)
		if n > maxConcurrent.Load() {
			maxConcurrent.Store(n)
		}
		return finishAfter(h.ev, 300*time.Millisecond)(ctx, w)
	}
	first := make(chan *work, 1)
	inner := rt.agent
	rt.agent = func(ctx context.Context, w *work) int {
		if rt.starts.Load() == 1 {
			first <- w
			<-ctx.Done() // hangs until killed
			return 137
		}
		return inner(ctx, w)
	}
	stopA := h.start(h.fastConfig(rt))
	r := h.enqueue("s1", "x")
	w := <-first
	h.wait(r.ID, 10*time.Second, func(r *scheduler.Run) bool { return r.Handle != nil })
	stopA()
	rt.kill(w)
	// Two survivors race for the entry; exactly one runs it.
	h.start(h.fastConfig(rt))
	h.start(h.fastConfig(rt))
	got := h.wait(r.ID, 10*time.Second, final)
	if got.State != scheduler.StateSucceeded || got.Attempts != 2 || rt.starts.Load() != 2 {
		t.Fatalf("run %s (%s), attempts %d, %d agent starts", got.State, got.Reason, got.Attempts, rt.starts.Load())
	}
	if maxConcurrent.Load() > 1 {
		t.Fatal("two agents of one run at once")
	}
	if n := len(h.finishes("s1")); n != 1 {
		t.Fatalf("%d FINISH events", n)
	}
}

// The agent is lost twice: the run fails instead of being retried again.
func TestLostTwiceFails(t *testing.T) {
	rt := newFakeRuntime(nil)
	h := newHarness(t, rt, redistest.Options{})
	started := make(chan *work, 4)
	rt.agent = func(ctx context.Context, w *work) int { started <- w; <-ctx.Done(); return 137 }
	r := h.enqueue("s1", "x")
	for attempt := 1; attempt <= 2; attempt++ {
		stop := h.start(h.fastConfig(rt))
		w := <-started
		h.wait(r.ID, 10*time.Second, func(r *scheduler.Run) bool { return r.Handle != nil && r.Attempts == attempt })
		stop()
		rt.kill(w)
	}
	h.start(h.fastConfig(rt))
	got := h.wait(r.ID, 10*time.Second, final)
	if got.State != scheduler.StateFailed || !strings.Contains(got.Reason, "2 attempts") || rt.starts.Load() != 2 {
		t.Fatalf("run %s %q, %d starts", got.State, got.Reason, rt.starts.Load())
	}
}

// Redis restarts without its data (an embedded Redis): runs enqueued while it was down
// and runs whose entries it forgot still run.
func TestRedisRestartQueueResumes(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		name := map[bool]string{false: "data lost", true: "append-only file"}[persistent]
		t.Run(name, func(t *testing.T) {
			rt := newFakeRuntime(nil)
			h := newHarness(t, rt, redistest.Options{Persistent: persistent})
			if !h.redis.Real {
				// An in-process Redis dies with its process; restarting one in place is not a
				// case that happens, and miniredis's blocked reads do not survive it.
				t.Skip("needs redis-server: miniredis cannot be restarted like a server")
			}
			rt.agent = finishAfter(h.ev, 50*time.Millisecond)
			h.start(h.fastConfig(rt))
			r1 := h.enqueue("s1", "before")
			h.wait(r1.ID, 10*time.Second, final)

			h.redis.Stop()
			r2 := h.enqueue("s2", "while Redis is down") // recorded, not announced
			h.redis.StartAgain()
			r3 := h.enqueue("s3", "after the restart")
			for _, r := range []*scheduler.Run{r2, r3} {
				if got := h.wait(r.ID, 15*time.Second, final); got.State != scheduler.StateSucceeded {
					t.Fatalf("run of %s: %s %s", got.SessionID, got.State, got.Reason)
				}
			}
			if rt.starts.Load() != 3 {
				t.Fatalf("%d agent starts, want 3", rt.starts.Load())
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
