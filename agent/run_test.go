package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/llm/llmtest"
	"github.com/mgx-dev/mgx/agent/llm/offline"
	"github.com/mgx-dev/mgx/agent/tools"
	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/store/storetest"
)

// The core's MongoDB store is the production sink.
var _ EventSink = (*events.Store)(nil)

type recorded struct {
	Seq        int
	Type, Role string
	Data       map[string]any
}

// memSink is an in-memory EventSink for tests that do not need MongoDB.
type memSink struct {
	mu     sync.Mutex
	events []recorded
}

func (s *memSink) Emit(_ context.Context, sessionID, typ, role string, data map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Round-trip through JSON as the real store does through BSON: data must serialise.
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var d map[string]any
	_ = json.Unmarshal(b, &d)
	s.events = append(s.events, recorded{Seq: len(s.events) + 1, Type: typ, Role: role, Data: d})
	return nil
}

func (s *memSink) all() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.events...)
}

func (s *memSink) last() recorded {
	ev := s.all()
	return ev[len(ev)-1]
}

func (s *memSink) ofType(typ string) []recorded {
	var out []recorded
	for _, e := range s.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// script plays, per role, a list of steps; each step sees the request and answers.
type script map[string][]func(req llm.Request) (llm.Message, error)

func (s script) provider() llm.Provider {
	var mu sync.Mutex
	next := map[string]int{}
	return offline.New(offline.Config{Brain: offline.BrainFunc(func(ctx context.Context, req llm.Request) (llm.Message, error) {
		role := ""
		for _, line := range strings.Split(req.System, "\n") {
			if v, ok := strings.CutPrefix(line, "MGX role: "); ok {
				role = v
			}
		}
		mu.Lock()
		steps := s[role]
		i := next[role]
		next[role]++
		mu.Unlock()
		if len(steps) == 0 {
			return msg("nothing to do"), nil
		}
		step := steps[min(i, len(steps)-1)]
		if step == nil { // blocks until the run's ctx ends
			<-ctx.Done()
			return llm.Message{}, ctx.Err()
		}
		return step(req)
	})})
}

func msg(text string, calls ...llm.ToolCall) llm.Message {
	return llm.Message{Role: llm.RoleAssistant, Content: text, ToolCalls: calls}
}

func tc(name string, args map[string]any) llm.ToolCall {
	b, _ := json.Marshal(args)
	return llm.ToolCall{Name: name, Arguments: string(b)}
}

func say(text string, calls ...llm.ToolCall) func(llm.Request) (llm.Message, error) {
	return func(llm.Request) (llm.Message, error) { return msg(text, calls...), nil }
}

type okRunner struct{}

func (okRunner) Run(ctx context.Context, c tools.Command) (tools.CommandResult, error) {
	return tools.CommandResult{Output: "ok\n"}, nil
}

func testConfig(t *testing.T, sink EventSink, p llm.Provider) Config {
	return Config{SessionID: "s1", WorkspaceID: "w1", Framework: "nextjs", Prompt: "a recipe book",
		WorkspaceDir: t.TempDir(), Events: sink, Provider: p, Runner: okRunner{}, LLM: LLMConfig{Provider: "offline"}}
}

func TestRunHappyPath(t *testing.T) {
	sink := &memSink{}
	p := script{
		RoleTeamLeader: {
			say("Planning.", tc("plan", map[string]any{"steps": []any{map[string]any{"role": "engineer", "task": "write hello"}}})),
			say("Engineer, go.", tc("delegate", map[string]any{"role": "engineer", "task": "write hello.txt"})),
			say("", tc("finish", map[string]any{"status": "succeeded", "summary": "hello written"})),
		},
		RoleEngineer: {
			say("Writing the file now, as asked by the team leader.", tc("write_file", map[string]any{"path": "hello.txt", "content": "hi"})),
			say("Wrote hello.txt."),
		},
	}.provider()
	cfg := testConfig(t, sink, p)
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(cfg.WorkspaceDir, "hello.txt")); string(b) != "hi" {
		t.Fatalf("hello.txt = %q", b)
	}
	ev := sink.all()
	var types []string
	for _, e := range ev {
		types = append(types, e.Type)
	}
	want := []string{"AGENT_START", "MESSAGE_DELTA", "MESSAGE", "TOOL_START", "PLAN", "TOOL_END",
		"MESSAGE_DELTA", "MESSAGE", "TOOL_START", // delegate
		"MESSAGE_DELTA", "MESSAGE", "TOOL_START", "FILE_CHANGED", "TOOL_END", // engineer writes
		"MESSAGE_DELTA", "MESSAGE", // engineer report
		"TOOL_END", // delegate ends
		"TOOL_START", "TOOL_END", "FINISH"}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Fatalf("events:\n got %v\nwant %v", types, want)
	}
	fc := sink.ofType(EventFileChanged)[0]
	if fc.Role != RoleEngineer || fc.Data["path"] != "hello.txt" || fc.Data["op"] != "created" || fc.Data["by"] != RoleEngineer {
		t.Errorf("FILE_CHANGED = %+v", fc)
	}
	fin := sink.last()
	usage, _ := fin.Data["usage"].(map[string]any)
	if fin.Data["status"] != StatusSucceeded || fin.Data["reason"] != "hello written" || usage["total_tokens"].(float64) <= 0 {
		t.Errorf("FINISH = %+v", fin.Data)
	}
	var deltas strings.Builder
	for _, e := range sink.ofType(EventMessageDelta) {
		if e.Role == RoleEngineer {
			deltas.WriteString(e.Data["text"].(string))
		}
	}
	if !strings.HasPrefix(deltas.String(), "Writing the file now") {
		t.Errorf("engineer deltas = %q", deltas.String())
	}
	if plan := sink.ofType(EventPlan)[0]; len(plan.Data["steps"].([]any)) != 1 {
		t.Errorf("PLAN = %+v", plan.Data)
	}
}

func TestGuardrails(t *testing.T) {
	forever := func(req llm.Request) (llm.Message, error) {
		return msg("", tc("list_files", map[string]any{})), nil
	}
	var block func(llm.Request) (llm.Message, error) // nil: wait for ctx
	tests := []struct {
		name       string
		script     script
		provider   llm.Provider
		adjust     func(*Config)
		ctxTimeout time.Duration
		wantStatus string
		wantReason string
	}{
		{name: "step budget", script: script{RoleTeamLeader: {forever}}, adjust: func(c *Config) { c.MaxSteps = 5 },
			wantStatus: StatusFailed, wantReason: "budget of 5 model calls"},
		{name: "token budget", script: script{RoleTeamLeader: {forever}}, adjust: func(c *Config) { c.MaxTokens = 300 },
			wantStatus: StatusFailed, wantReason: "over its budget of 300"},
		{name: "same failing action repeated", script: script{RoleTeamLeader: {say("", tc("read_file", map[string]any{"path": "missing.txt"}))}},
			wantStatus: StatusFailed, wantReason: "repeated the same failing action 3 times"},
		{name: "QA keeps failing", script: script{
			RoleTeamLeader: {
				say("", tc("delegate", map[string]any{"role": "qa_engineer", "task": "test"})),
				say("", tc("delegate", map[string]any{"role": "engineer", "task": "fix"})),
				say("", tc("delegate", map[string]any{"role": "qa_engineer", "task": "test"})),
				say("", tc("delegate", map[string]any{"role": "engineer", "task": "fix"})),
			},
			RoleQAEngineer: {say("FAILED: npm test exited 1: expected 2, got 3")},
			RoleEngineer:   {say("fixed")},
		}, adjust: func(c *Config) { c.MaxFixRounds = 1 },
			wantStatus: StatusFailed, wantReason: "still fails QA after 1 rounds of fixes. Last QA report: FAILED: npm test exited 1"},
		{name: "leader stops while QA fails", script: script{
			RoleTeamLeader: {
				say("", tc("delegate", map[string]any{"role": "qa_engineer", "task": "test"})),
				say("I think we are done."),
			},
			RoleQAEngineer: {say("FAILED: npm run build exited 1: Type error in app/page.tsx")},
		}, wantStatus: StatusFailed, wantReason: "stopped while QA still reported failures: FAILED: npm run build"},
		{name: "leader gives up", script: script{RoleTeamLeader: {say("", tc("finish", map[string]any{"status": "failed", "summary": "The request asks for a native iOS app, which MGX cannot build."}))}},
			wantStatus: StatusFailed, wantReason: "native iOS app"},
		{name: "model service down", provider: offline.New(offline.Config{Brain: offline.BrainFunc(func(context.Context, llm.Request) (llm.Message, error) {
			return llm.Message{}, fmt.Errorf("%w: connection refused", llm.ErrUnavailable)
		})}), wantStatus: StatusFailed, wantReason: "could not be reached"},
		{name: "cancelled", script: script{RoleTeamLeader: {block}}, ctxTimeout: 100 * time.Millisecond, wantStatus: StatusCancelled, wantReason: "cancelled"},
		{name: "timed out", script: script{RoleTeamLeader: {block}}, adjust: func(c *Config) { c.Timeout = 100 * time.Millisecond },
			wantStatus: StatusTimedOut, wantReason: "time limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{}
			p := tt.provider
			if p == nil {
				p = tt.script.provider()
			}
			cfg := testConfig(t, sink, p)
			if tt.adjust != nil {
				tt.adjust(&cfg)
			}
			ctx := t.Context()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tt.ctxTimeout, cancel)
			}
			start := time.Now()
			err := Run(ctx, cfg)
			if !errors.Is(err, ErrRunFailed) {
				t.Fatalf("err = %v, want ErrRunFailed", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			fin := sink.last()
			if fin.Type != EventFinish || fin.Data["status"] != tt.wantStatus || !strings.Contains(fin.Data["reason"].(string), tt.wantReason) {
				t.Fatalf("last event = %+v, want FINISH %s with %q", fin, tt.wantStatus, tt.wantReason)
			}
			if tt.wantStatus == StatusFailed && len(sink.ofType(EventError)) != 1 {
				t.Errorf("want one ERROR event before FINISH")
			}
		})
	}
}

// A person edits a file between the engineer's read and write: the write fails with a
// conflict, the engineer reads again and redoes the change on the new content.
func TestConflictThenReread(t *testing.T) {
	sink := &memSink{}
	var dir string
	p := script{
		RoleTeamLeader: {
			say("", tc("delegate", map[string]any{"role": "engineer", "task": "edit"})),
			say("", tc("finish", map[string]any{"status": "succeeded", "summary": "ok"})),
		},
		RoleEngineer: {
			say("", tc("read_file", map[string]any{"path": "page.txt"})),
			func(llm.Request) (llm.Message, error) {
				os.WriteFile(filepath.Join(dir, "page.txt"), []byte("title: Person's title\n"), 0o644)
				return msg("", tc("edit_file", map[string]any{"path": "page.txt", "old_string": "title: Old", "new_string": "title: Agent"})), nil
			},
			func(req llm.Request) (llm.Message, error) {
				last := req.Messages[len(req.Messages)-1]
				if !last.IsError || !strings.Contains(last.Content, "changed by someone else") {
					return msg("unexpected: " + last.Content), nil
				}
				return msg("", tc("read_file", map[string]any{"path": "page.txt"})), nil
			},
			say("", tc("edit_file", map[string]any{"path": "page.txt", "old_string": "Person's title", "new_string": "Person's title (reviewed)"})),
			say("done"),
		},
	}.provider()
	cfg := testConfig(t, sink, p)
	dir = cfg.WorkspaceDir
	os.WriteFile(filepath.Join(dir, "page.txt"), []byte("title: Old\n"), 0o644)
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "page.txt"))
	if string(b) != "title: Person's title (reviewed)\n" {
		t.Fatalf("page.txt = %q", b)
	}
	var oks []any
	for _, e := range sink.ofType(EventToolEnd) {
		if e.Role == RoleEngineer {
			oks = append(oks, e.Data["ok"])
		}
	}
	if fmt.Sprint(oks) != "[true false true true]" {
		t.Fatalf("engineer tool results = %v", oks)
	}
}

func TestAPIKeyNeverInEvents(t *testing.T) {
	const key = "sk-live-0123456789abcdef"
	sink := &memSink{}
	p := script{RoleTeamLeader: {
		say("My key is "+key+", oops.", tc("finish", map[string]any{"status": "succeeded", "summary": "done " + key})),
	}}.provider()
	cfg := testConfig(t, sink, p)
	cfg.LLM = LLMConfig{Provider: "openai", APIKey: key, Model: "m"}
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sink.all())
	if strings.Contains(string(b), key) || !strings.Contains(string(b), "[redacted]") {
		t.Fatalf("events leak or do not redact the key: %s", b)
	}
}

// The whole team loop over the OpenAI-compatible driver and a scripted server: usage in
// FINISH is the server's.
func TestRunOverOpenAIWire(t *testing.T) {
	s := llmtest.NewScript(
		llmtest.Turn{Text: "Nothing to build.", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "finish", Arguments: `{"status":"succeeded","summary":"nothing to do"}`}},
			Usage: llm.Usage{InputTokens: 1200, OutputTokens: 34}},
	)
	srv := llmtest.NewOpenAIServer(t, s.Model(), "k-123456789")
	sink := &memSink{}
	cfg := testConfig(t, sink, nil)
	cfg.LLM = LLMConfig{Provider: "openai", BaseURL: srv.URL + "/v1", APIKey: "k-123456789", Model: "test"}
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	fin := sink.last()
	usage := fin.Data["usage"].(map[string]any)
	if usage["input_tokens"].(float64) != 1200 || usage["output_tokens"].(float64) != 34 {
		t.Fatalf("usage = %+v", usage)
	}
	req := s.Requests()[0]
	if !strings.Contains(req.System, "MGX role: team_leader") || len(req.Tools) != 6 {
		t.Fatalf("leader request: system %q, %d tools", req.System[:60], len(req.Tools))
	}
	start := sink.all()[0]
	if start.Data["provider"] != "openai" || start.Data["model"] != "test" {
		t.Fatalf("AGENT_START = %+v", start.Data)
	}
}

// Against the core's real events store: seq is contiguous and FINISH is last.
func TestRunWritesEventsToMongo(t *testing.T) {
	st := storetest.New(t)
	if err := events.EnsureIndexes(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	es := events.NewStore(st.DB(), nil)
	p := script{RoleTeamLeader: {say("All good.", tc("finish", map[string]any{"status": "succeeded", "summary": "ok"}))}}.provider()
	cfg := testConfig(t, es, p)
	cfg.SessionID = "sess-mongo"
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	evs, err := es.List(t.Context(), "sess-mongo", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
	if evs[0].Type != EventAgentStart || evs[len(evs)-1].Type != EventFinish || evs[len(evs)-1].Data["status"] != StatusSucceeded {
		t.Fatalf("events = %+v", evs)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults to offline", env: map[string]string{"SESSION_ID": "s", "FRAMEWORK": "nextjs", "PROMPT": "a todo app"},
			check: func(t *testing.T, c Config) {
				if c.LLM.Provider != "offline" || c.WorkspaceDir != "/workspace" || c.MaxSteps != 150 || c.Timeout != 30*time.Minute {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "api key means openai", env: map[string]string{"SESSION_ID": "s", "FRAMEWORK": "fastapi-react", "PROMPT": "x", "MGX_LLM_API_KEY": "k", "MGX_AGENT_TIMEOUT": "5m", "MGX_AGENT_MAX_STEPS": "40"},
			check: func(t *testing.T, c Config) {
				if c.LLM.Provider != "openai" || c.Timeout != 5*time.Minute || c.MaxSteps != 40 {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "every problem at once", env: map[string]string{"FRAMEWORK": "rails", "MGX_LLM_PROVIDER": "anthropic", "MGX_AGENT_MAX_STEPS": "lots"},
			wantErr: []string{"SESSION_ID is required", "FRAMEWORK=\"rails\"", "PROMPT is required", "needs MGX_LLM_API_KEY", "MGX_AGENT_MAX_STEPS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SESSION_ID", "WORKSPACE_ID", "FRAMEWORK", "PROMPT", "MONGODB_URL", "MONGODB_DB", "MGX_WORKSPACE_DIR", "MGX_PREVIEW_URL",
				"MGX_LLM_PROVIDER", "MGX_LLM_BASE_URL", "MGX_LLM_API_KEY", "MGX_LLM_MODEL", "MGX_AGENT_MAX_STEPS", "MGX_AGENT_MAX_TOKENS", "MGX_AGENT_TIMEOUT"} {
				t.Setenv(k, tt.env[k])
			}
			c, err := ConfigFromEnv()
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to mention %q", err, w)
				}
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
			}
		})
	}
}

func TestRunRejectsConfigWithoutSink(t *testing.T) {
	err := Run(t.Context(), Config{SessionID: "s", Framework: "nextjs", Prompt: "x"})
	if err == nil || !strings.Contains(err.Error(), "Config.Events is required") {
		t.Fatalf("err = %v", err)
	}
}

// RunFromEnv with the container's environment against the embedded MongoDB.
func TestRunFromEnv(t *testing.T) {
	st := storetest.New(t)
	dir := renderTemplate(t, "nextjs")
	t.Setenv("SESSION_ID", "env-session")
	t.Setenv("WORKSPACE_ID", "w")
	t.Setenv("FRAMEWORK", "nextjs")
	t.Setenv("PROMPT", "recipes with a name and minutes to cook")
	t.Setenv("MONGODB_URL", storetest.URI(t))
	t.Setenv("MONGODB_DB", st.DB().Name())
	t.Setenv("MGX_WORKSPACE_DIR", dir)
	t.Setenv("MGX_LLM_PROVIDER", "")
	t.Setenv("MGX_LLM_API_KEY", "")
	t.Setenv("MGX_LLM_BASE_URL", "")
	// Commands go to a fake control plane that answers every command with success.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"exit_code":0,"output":"ok","duration_ms":5}`))
	}))
	defer srv.Close()
	t.Setenv("MGX_EXEC_URL", srv.URL)
	t.Setenv("MGX_EXEC_TOKEN", "tok")
	if err := RunFromEnv(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	evs, err := events.NewStore(st.DB(), nil).List(t.Context(), "env-session", 0, 0)
	if err != nil || len(evs) < 20 {
		t.Fatalf("%d events, err %v", len(evs), err)
	}
	if last := evs[len(evs)-1]; last.Type != EventFinish || last.Data["status"] != StatusSucceeded {
		t.Fatalf("last event %+v", last)
	}
}

// The team over the Anthropic wire: tool_use / tool_result pairing holds through plan,
// delegation and a member's tool calls (the scripted server rejects any mismatch).
func TestRunOverAnthropicWire(t *testing.T) {
	var mu sync.Mutex
	count := map[string]int{}
	turns := map[string][]llmtest.Turn{
		RoleTeamLeader: {
			{ToolCalls: []llm.ToolCall{{ID: "p1", Name: "plan", Arguments: `{"steps":[{"role":"engineer","task":"write a.txt"}]}`}}},
			{Text: "Engineer, please.", ToolCalls: []llm.ToolCall{{ID: "d1", Name: "delegate", Arguments: `{"role":"engineer","task":"write a.txt"}`}}},
			{ToolCalls: []llm.ToolCall{{ID: "f1", Name: "finish", Arguments: `{"status":"succeeded","summary":"a.txt written"}`}}},
		},
		RoleEngineer: {
			{ToolCalls: []llm.ToolCall{
				{ID: "w1", Name: "write_file", Arguments: `{"path":"a.txt","content":"A"}`},
				{ID: "r1", Name: "read_file", Arguments: `{"path":"missing.txt"}`},
			}},
			{Text: "Wrote a.txt."},
		},
	}
	model := func(req llm.Request) llmtest.Turn {
		role := ""
		for _, line := range strings.Split(req.System, "\n") {
			if v, ok := strings.CutPrefix(line, "MGX role: "); ok {
				role = v
			}
		}
		mu.Lock()
		defer mu.Unlock()
		i := count[role]
		count[role]++
		ts := turns[role]
		turn := ts[min(i, len(ts)-1)]
		turn.Usage = llm.Usage{InputTokens: 100, OutputTokens: 10}
		return turn
	}
	srv := llmtest.NewAnthropicServer(t, model, "ant-key-123456")
	sink := &memSink{}
	cfg := testConfig(t, sink, nil)
	cfg.LLM = LLMConfig{Provider: "anthropic", BaseURL: srv.URL, APIKey: "ant-key-123456", Model: "claude-test"}
	if err := Run(t.Context(), cfg); err != nil {
		t.Fatalf("%v (last event %+v)", err, sink.last())
	}
	if b, _ := os.ReadFile(filepath.Join(cfg.WorkspaceDir, "a.txt")); string(b) != "A" {
		t.Fatalf("a.txt = %q", b)
	}
	fin := sink.last()
	if usage := fin.Data["usage"].(map[string]any); usage["total_tokens"].(float64) != 5*110 {
		t.Fatalf("usage = %+v", usage)
	}
}
