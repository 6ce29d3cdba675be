package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/scheduler/redistest"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// TestMain doubles as a stand-in agent: the scheduler runs this test binary as its
// agent command with MGX_SCHEDULER_TEST_AGENT set, the way it runs `mgx agent`.
func TestMain(m *testing.M) {
	if mode := os.Getenv("MGX_SCHEDULER_TEST_AGENT"); mode != "" {
		os.Exit(fakeAgentMain(mode))
	}
	os.Exit(m.Run())
}

// fakeAgentMain reads the agent environment of DESIGN.md and writes events like an agent.
func fakeAgentMain(mode string) int {
	ctx := context.Background()
	for _, k := range []string{"SESSION_ID", "WORKSPACE_ID", "FRAMEWORK", "PROMPT", "MONGODB_URL", "MONGODB_DB", "REDIS_URL", "MGX_WORKSPACE_DIR"} {
		if os.Getenv(k) == "" {
			fmt.Fprintf(os.Stderr, "fake agent: %s is not set\n", k)
			return 2
		}
	}
	st, err := store.Open(ctx, store.Config{URI: os.Getenv("MONGODB_URL"), Database: os.Getenv("MONGODB_DB")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 2
	}
	defer st.Close(ctx)
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 2
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ev := events.NewStore(st.DB(), rdb)
	sid := os.Getenv("SESSION_ID")
	if err := ev.Emit(ctx, sid, events.AgentStart, "team_leader", map[string]any{"prompt": os.Getenv("PROMPT")}); err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 2
	}
	// Prove the workspace is where the agent was told.
	if err := os.WriteFile(filepath.Join(os.Getenv("MGX_WORKSPACE_DIR"), "AGENT_WAS_HERE"), []byte(sid), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 2
	}
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "fatal error: out of ideas")
		return 3
	case "hang":
		time.Sleep(time.Hour)
	case "slow":
		time.Sleep(2 * time.Second)
	}
	_ = ev.Emit(ctx, sid, events.Finish, "team_leader", map[string]any{"status": "succeeded", "reason": "built"})
	return 0
}

// A scheduler process dies while its agent runs: a new scheduler, with a new process
// driver on the same state dir (as after a restart), re-attaches to the agent process and
// records its FINISH; the agent started once.
func TestProcessRuntimeSchedulerRestart(t *testing.T) {
	cfg, q, ev, wsBase := processHarness(t, "slow")
	cfg.Logger = testLogger(t)
	cfg.LeaseTTL, cfg.ClaimIdle = 600*time.Millisecond, 400*time.Millisecond
	stateDir := t.TempDir()
	newDriver := func() scheduler.Driver {
		d, err := process.New(process.Config{StateDir: stateDir})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	run := func(cfg scheduler.Config) func() {
		s, err := scheduler.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		return func() { cancel(); <-done }
	}
	cfg.Driver = newDriver()
	stopA := run(cfg)
	_ = os.MkdirAll(filepath.Join(wsBase, "ws1"), 0o755)
	r, err := q.Enqueue(t.Context(), scheduler.RunRequest{SessionID: "sess1", WorkspaceID: "ws1", Framework: "nextjs", Prompt: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, _ := q.Runs().Get(t.Context(), r.ID)
		if got != nil && got.Handle != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopA()
	cfg.Driver = newDriver()
	cfg.Consumer = "" // a new instance
	stopB := run(cfg)
	defer stopB()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := q.Runs().Get(t.Context(), r.ID)
		if got != nil && scheduler.Final(got.State) {
			if got.State != scheduler.StateSucceeded || got.Attempts != 1 || got.Reason != "built" {
				t.Fatalf("run %s %q after %d attempts", got.State, got.Reason, got.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not final: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs, _ := ev.List(t.Context(), "sess1", 0, 0)
	starts := 0
	for _, e := range evs {
		if e.Type == events.AgentStart {
			starts++
		}
	}
	if starts != 1 || evs[len(evs)-1].Type != events.Finish {
		t.Fatalf("%d agent starts; events %+v", starts, evs)
	}
}

// The agent process is killed (kill -9): FINISH failed, with the reason.
func TestProcessRuntimeAgentKilled(t *testing.T) {
	cfg, q, ev, wsBase := processHarness(t, "hang")
	cfg.Logger = testLogger(t)
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	_ = os.MkdirAll(filepath.Join(wsBase, "ws1"), 0o755)
	r, err := q.Enqueue(t.Context(), scheduler.RunRequest{SessionID: "sess1", WorkspaceID: "ws1", Framework: "nextjs", Prompt: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for pid == 0 {
		got, _ := q.Runs().Get(t.Context(), r.ID)
		if got != nil && got.Handle != nil {
			var st struct {
				PID int `json:"pid"`
			}
			_ = json.Unmarshal(got.Handle.State, &st)
			pid = st.PID
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Wait for the agent's first event so the kill lands mid-run.
	for {
		if evs, _ := ev.List(t.Context(), "sess1", 0, 1); len(evs) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := q.Runs().Get(t.Context(), r.ID)
		if got != nil && scheduler.Final(got.State) {
			if got.State != scheduler.StateFailed || !strings.Contains(got.Reason, "killed") {
				t.Fatalf("run %s %q", got.State, got.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not final: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs, _ := ev.List(t.Context(), "sess1", 0, 0)
	last := evs[len(evs)-1]
	if last.Type != events.Finish || last.Data["status"] != "failed" || !strings.Contains(last.Data["reason"].(string), "killed") {
		t.Fatalf("last event %+v", last)
	}
	t.Logf("reason: %s", last.Data["reason"])
}

// processHarness runs the scheduler with the real process runtime and this binary as agent.
func processHarness(t testing.TB, mode string) (cfg scheduler.Config, q *scheduler.Queue, ev *events.Store, wsBase string) {
	st := storetest.New(t)
	ctx := context.Background()
	_ = events.EnsureIndexes(ctx, st)
	_ = scheduler.EnsureIndexes(ctx, st)
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client()
	ev = events.NewStore(st.DB(), rdb)
	drv, err := process.New(process.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wsBase = t.TempDir()
	cfg = scheduler.Config{
		DB: st.DB(), Redis: rdb, Events: ev, Driver: drv, WorkspacesDir: wsBase,
		MongoURL: storetest.URI(t), MongoDB: st.DB().Name(), RedisURL: srv.URL(),
		Command: []string{exe}, Env: map[string]string{"MGX_SCHEDULER_TEST_AGENT": mode},
		PollInterval: 50 * time.Millisecond, ReadBlock: 100 * time.Millisecond, StopGrace: time.Second,
	}
	q, err = scheduler.NewQueue(scheduler.QueueConfig{DB: st.DB(), Redis: rdb, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, q, ev, wsBase
}

func TestProcessRuntime(t *testing.T) {
	tests := []struct {
		mode, state, reason string
	}{
		{"finish", scheduler.StateSucceeded, "built"},
		{"crash", scheduler.StateFailed, "exited with code 3 without finishing; its last output: fatal error: out of ideas"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg, q, ev, wsBase := processHarness(t, tt.mode)
			cfg.Logger = testLogger(t)
			s, err := scheduler.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = s.Run(ctx) }()
			defer func() { cancel(); <-done }()
			if err := os.MkdirAll(filepath.Join(wsBase, "ws1"), 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := q.Enqueue(t.Context(), scheduler.RunRequest{SessionID: "sess1", WorkspaceID: "ws1", Framework: "nextjs", Prompt: "a todo app"})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			var got *scheduler.Run
			for {
				got, err = q.Runs().Get(t.Context(), r.ID)
				if err == nil && scheduler.Final(got.State) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("run not final: %+v %v", got, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("run %s %q, want %s %q", got.State, got.Reason, tt.state, tt.reason)
			}
			if b, err := os.ReadFile(filepath.Join(wsBase, "ws1", "AGENT_WAS_HERE")); err != nil || string(b) != "sess1" {
				t.Fatalf("agent did not run in the workspace: %q %v", b, err)
			}
			evs, _ := ev.List(t.Context(), "sess1", 0, 0)
			if len(evs) != 2 || evs[0].Type != events.AgentStart || evs[1].Type != events.Finish {
				t.Fatalf("events %+v", evs)
			}
		})
	}
}
