package sessions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/sessions"
)

// gateAgents is a func-based runtime whose agents emit AGENT_START, wait for a token on
// gate, then FINISH succeeded.
type gateAgents struct {
	ev      *events.Store
	gate    chan struct{}
	running atomic.Int32
	maxRun  atomic.Int32
	mu      sync.Mutex
	done    map[string]chan struct{}
}

var _ scheduler.Driver = (*gateAgents)(nil)

func (g *gateAgents) Name() string { return "gate" }
func (g *gateAgents) Start(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error) {
	id := spec.Env["MGX_RUN_ID"]
	done := make(chan struct{})
	g.mu.Lock()
	g.done[id] = done
	g.mu.Unlock()
	go func() {
		defer close(done)
		n := g.running.Add(1)
		defer g.running.Add(-1)
		if n > g.maxRun.Load() {
			g.maxRun.Store(n)
		}
		sid := spec.Env["SESSION_ID"]
		_ = g.ev.Emit(context.Background(), sid, events.AgentStart, "team_leader", map[string]any{"prompt": spec.Env["PROMPT"]})
		<-g.gate
		_ = g.ev.Emit(context.Background(), sid, events.Finish, "team_leader", map[string]any{"status": "succeeded"})
	}()
	return &runtime.Handle{Driver: "gate", ID: id, Name: spec.Name}, nil
}
func (g *gateAgents) get(h *runtime.Handle) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done[h.ID]
}
func (g *gateAgents) Recover(ctx context.Context, h *runtime.Handle) error { return nil }
func (g *gateAgents) Wait(ctx context.Context, h *runtime.Handle) (runtime.ExitResult, error) {
	select {
	case <-g.get(h):
		return runtime.ExitResult{}, nil
	case <-ctx.Done():
		return runtime.ExitResult{}, ctx.Err()
	}
}
func (g *gateAgents) Stop(ctx context.Context, h *runtime.Handle, _ time.Duration) error { return nil }
func (g *gateAgents) Remove(ctx context.Context, h *runtime.Handle) error                { return nil }
func (g *gateAgents) Inspect(ctx context.Context, h *runtime.Handle) (runtime.Status, error) {
	return runtime.Status{State: runtime.StateRunning}, nil
}
func (g *gateAgents) Logs(ctx context.Context, h *runtime.Handle, _ runtime.LogOptions) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// A session end to end through the API and a running scheduler: the first run starts,
// a message sent meanwhile is queued and runs after it, and the SSE stream shows it all
// in order.
func TestSessionEndToEnd(t *testing.T) {
	var e *env
	e = newEnv(t, func(c *sessions.Config) { c.Poll = 10 * time.Second })
	ga := &gateAgents{ev: e.ev, gate: make(chan struct{}), done: map[string]chan struct{}{}}
	s, err := scheduler.New(scheduler.Config{
		DB: e.st.DB(), Redis: e.redisClient(), Events: e.ev, Driver: ga, WorkspacesDir: e.wsBase,
		MongoURL: "mongodb://x/", PollInterval: 50 * time.Millisecond, ReadBlock: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = s.Run(ctx) }()
	defer func() { cancel(); <-stopped }()

	_, body := e.do("POST", "/api/sessions", "alice", map[string]any{"prompt": "todo list", "framework": "nextjs"})
	id := body["id"].(string)
	ch, stop := openSSE(t, e.srv.URL+"/api/sessions/"+id+"/events", "alice", "")
	defer stop()
	expect := func(typ, role string) {
		t.Helper()
		got := next(t, ch, 10*time.Second)
		var ev events.Event
		if err := json.Unmarshal([]byte(got.data), &ev); err != nil || got.event != typ || ev.Role != role {
			t.Fatalf("got %s %s, want %s by %s", got.event, got.data, typ, role)
		}
	}
	expect(events.Message, "user")
	expect(events.AgentStart, "team_leader")
	if status, body := e.do("POST", "/api/sessions/"+id+"/messages", "alice", map[string]any{"content": "add tags"}); status != 202 ||
		body["run"].(map[string]any)["state"] != "queued" {
		t.Fatalf("message: %d %v", status, body)
	}
	expect(events.Message, "user")
	_, got := e.do("GET", "/api/sessions/"+id, "alice", nil)
	if got["status"] != "queued" || fmt.Sprint(got["run"].(map[string]any)["number"]) != "2" {
		t.Fatalf("while run 1 runs, session shows %v run %v", got["status"], got["run"])
	}
	ga.gate <- struct{}{}
	expect(events.Finish, "team_leader")
	expect(events.AgentStart, "team_leader")
	ga.gate <- struct{}{}
	expect(events.Finish, "team_leader")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, got = e.do("GET", "/api/sessions/"+id, "alice", nil)
		if got["status"] == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session status %v", got["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ga.maxRun.Load() != 1 {
		t.Fatalf("%d runs of one session at once", ga.maxRun.Load())
	}
}
