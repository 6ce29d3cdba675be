package execapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/agent/tools"
	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/execapi"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/scheduler/redistest"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// TestMain doubles as an agent: the scheduler runs this test binary as its agent command
// with MGX_EXECAPI_TEST_AGENT set, the way it runs `mgx agent`.
func TestMain(m *testing.M) {
	if os.Getenv("MGX_EXECAPI_TEST_AGENT") != "" {
		os.Exit(fakeAgentMain())
	}
	os.Exit(m.Run())
}

// agentReport is what the stand-in agent leaves in its workspace for the test.
type agentReport struct {
	URL, Token string
	ExitCode   int
	Output     string
	Err        string
}

// fakeAgentMain runs one command through tools.RemoteRunner, as the agent's run_command
// tool does when MGX_EXEC_URL is set, writes what it got, and finishes the run.
func fakeAgentMain() int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "fake agent:", err); return 2 }
	rep := agentReport{URL: os.Getenv("MGX_EXEC_URL"), Token: os.Getenv("MGX_EXEC_TOKEN")}
	runner := &tools.RemoteRunner{URL: rep.URL, Token: rep.Token}
	res, err := runner.Run(ctx, tools.Command{Dir: "sub", Timeout: time.Minute,
		Line: `echo "in $(pwd)"; cat hello.txt; echo "token=[$MGX_EXEC_TOKEN]"; echo made > by-command.txt; exit 4`})
	rep.ExitCode, rep.Output = res.ExitCode, res.Output
	if err != nil {
		rep.Err = err.Error()
	}
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(filepath.Join(os.Getenv("MGX_WORKSPACE_DIR"), "agent-report.json"), b, 0o644); err != nil {
		return fail(err)
	}
	st, err := store.Open(ctx, store.Config{URI: os.Getenv("MONGODB_URL"), Database: os.Getenv("MONGODB_DB")})
	if err != nil {
		return fail(err)
	}
	defer st.Close(ctx)
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		return fail(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := events.NewStore(st.DB(), rdb).Emit(ctx, os.Getenv("SESSION_ID"), events.Finish, "team_leader",
		map[string]any{"status": "succeeded", "reason": "ran a command"}); err != nil {
		return fail(err)
	}
	return 0
}

// The whole path: the scheduler starts an agent with the vars RunEnv gives it, the agent's
// RemoteRunner reaches the endpoint, which runs the command in the app's dev environment
// (process runtime) in the run's workspace; once the run is over its token is refused.
func TestAgentRunsCommandThroughScheduler(t *testing.T) {
	needNode(t)
	wsBase := t.TempDir()
	ws := filepath.Join(wsBase, "ws1")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	writeApp(t, ws)
	h := newHarness(t, newProcessDriver(t), ws, execapi.Handler{}, devenv.Config{})

	ctx := t.Context()
	if err := events.EnsureIndexes(ctx, h.st); err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t, redistest.Options{})
	rdb := rs.Client()
	ev := events.NewStore(h.st.DB(), rdb)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	url := h.srv.URL + execapi.Path
	s, err := scheduler.New(scheduler.Config{
		DB: h.st.DB(), Redis: rdb, Events: ev, Driver: newProcessDriver(t), WorkspacesDir: wsBase,
		MongoURL: storetest.URI(t), MongoDB: h.st.DB().Name(), RedisURL: rs.URL(),
		Command: []string{exe}, Env: map[string]string{"MGX_EXECAPI_TEST_AGENT": "1"},
		RunEnv:       execapi.RunEnv(h.tokens, url),
		PollInterval: 50 * time.Millisecond, ReadBlock: 100 * time.Millisecond, StopGrace: time.Second,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(sctx) }()
	defer func() { cancel(); <-done }()

	r, err := s.Queue().Enqueue(ctx, scheduler.RunRequest{SessionID: "sess1", WorkspaceID: "ws1", Framework: "nextjs", AppSlug: "demo", Prompt: "x"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, _ := s.Queue().Runs().Get(ctx, r.ID)
		if got != nil && scheduler.Final(got.State) {
			if got.State != scheduler.StateSucceeded {
				t.Fatalf("run %s: %s", got.State, got.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not over after 60s: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	b, err := os.ReadFile(filepath.Join(ws, "agent-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep agentReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.URL != url || rep.Token == "" {
		t.Errorf("the agent got MGX_EXEC_URL=%q MGX_EXEC_TOKEN=%q, want the endpoint and a token", rep.URL, rep.Token)
	}
	want := "in " + filepath.Join(ws, "sub") + "\nhello from sub\ntoken=[]\n"
	if rep.Err != "" || rep.ExitCode != 4 || rep.Output != want {
		t.Errorf("RemoteRunner got exit %d output %q err %q; want exit 4, %q (the token stays out of the command)", rep.ExitCode, rep.Output, rep.Err, want)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "sub", "by-command.txt")); err != nil || string(b) != "made\n" {
		t.Errorf("the command's file in the workspace: %q %v", b, err)
	}
	if status, _, _, raw := h.post(t, rep.Token, body("true", "", 10)); status != 401 {
		t.Errorf("the finished run's token: status %d %s, want 401", status, raw)
	}
}
