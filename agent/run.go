// Package agent runs the MGX agent team for one session run: a team leader that plans and
// delegates to a product manager, an architect, an engineer and a QA engineer, all working
// on the workspace through agent/tools and reporting every step as events.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/tools"
)

// ErrRunFailed is returned by Run when the run ended with a FINISH status other than
// succeeded; the FINISH event carries the reason.
var ErrRunFailed = errors.New("agent run did not succeed")

var errTimedOut = errors.New("run timed out")

// giveUp ends the run with FINISH failed and Reason in plain words.
type giveUp struct{ Reason string }

func (g *giveUp) Error() string { return g.Reason }

// Team leader tool names.
const (
	toolPlan     = "plan"
	toolDelegate = "delegate"
	toolFinish   = "finish"
)

var memberTools = map[string][]string{
	RoleTeamLeader:     {tools.ListFiles, tools.ReadFile, tools.SearchFiles},
	RoleProductManager: {tools.ListFiles, tools.ReadFile, tools.SearchFiles, tools.WriteFile, tools.EditFile},
	RoleArchitect:      {tools.ListFiles, tools.ReadFile, tools.SearchFiles, tools.WriteFile, tools.EditFile},
	RoleEngineer:       {tools.ListFiles, tools.ReadFile, tools.SearchFiles, tools.WriteFile, tools.EditFile, tools.DeleteFile, tools.RunCommand},
	RoleQAEngineer:     {tools.ListFiles, tools.ReadFile, tools.SearchFiles, tools.RunCommand, tools.FetchPreview},
}

// repeatLimit is how often the same failing call, with no file changed in between, may
// happen before the run gives up.
const repeatLimit = 3

type run struct {
	cfg      Config
	log      *slog.Logger
	sink     EventSink
	provider llm.Provider
	tools    *tools.Set
	start    time.Time

	steps        int
	usage        llm.Usage
	fileVersion  int
	failures     map[string]int
	fixRounds    int
	lastQA       string
	qaPassed     bool
	previewReady bool
	finished     *finishArgs
}

type finishArgs struct {
	Status  string `json:"status"`
	Summary string `json:"summary"`
}

// Run executes one agent run and records it as events, ending with FINISH. It returns nil
// when the run succeeded, an error wrapping ErrRunFailed when it ended otherwise (cancelled,
// timed out, or given up), and other errors when the configuration is invalid or events
// cannot be written.
func Run(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.validate(true); err != nil {
		return fmt.Errorf("agent config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("session_id", cfg.SessionID)
	r := &run{cfg: cfg, log: log, sink: &redactingSink{next: cfg.Events, secret: cfg.LLM.APIKey},
		provider: cfg.Provider, failures: map[string]int{}, start: time.Now()}

	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, errTimedOut)
	defer cancel()

	if err := r.emit(ctx, EventAgentStart, RoleTeamLeader, map[string]any{
		"framework": cfg.Framework, "prompt": cfg.Prompt, "workspace_id": cfg.WorkspaceID,
		"provider": cfg.LLM.Provider, "model": cfg.LLM.modelName(),
		"max_steps": cfg.MaxSteps, "max_tokens": cfg.MaxTokens, "timeout_s": int(cfg.Timeout.Seconds()),
	}); err != nil {
		return fmt.Errorf("agent: emit AGENT_START: %w", err)
	}
	log.InfoContext(ctx, "agent run started", "framework", cfg.Framework, "provider", cfg.LLM.Provider)

	err := r.setup()
	if err == nil {
		defer r.tools.Workspace.Close()
		err = r.lead(ctx)
	}
	return r.finish(ctx, err)
}

func (r *run) setup() error {
	if r.provider == nil {
		p, err := NewProvider(r.cfg.LLM)
		if err != nil {
			return &giveUp{Reason: err.Error()}
		}
		r.provider = p
	}
	ws, err := tools.OpenWorkspace(r.cfg.WorkspaceDir)
	if err != nil {
		return &giveUp{Reason: fmt.Sprintf("The workspace %s cannot be opened: %v.", r.cfg.WorkspaceDir, err)}
	}
	runner := r.cfg.Runner
	switch {
	case runner != nil:
	case r.cfg.ExecURL != "":
		runner = &tools.RemoteRunner{URL: r.cfg.ExecURL, Token: r.cfg.ExecToken}
	default:
		// The agent's own secrets stay out of the app's commands.
		runner = &tools.LocalRunner{Dir: ws.Dir(), Env: []string{"MGX_LLM_API_KEY=", "MGX_EXEC_TOKEN=", "MONGODB_URL=", "MONGODB_DB="}}
	}
	r.tools = &tools.Set{Workspace: ws, Runner: runner, PreviewURL: r.cfg.PreviewURL}
	return nil
}

// finish turns the run's outcome into the FINISH event.
func (r *run) finish(ctx context.Context, err error) error {
	status, reason := StatusSucceeded, ""
	if r.finished != nil && r.finished.Summary != "" {
		reason = r.finished.Summary
	}
	var g *giveUp
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), errTimedOut):
		status, reason = StatusTimedOut, fmt.Sprintf("The run hit its time limit of %s before the team finished.", r.cfg.Timeout)
	case ctx.Err() != nil:
		status, reason = StatusCancelled, "The run was cancelled."
	case errors.As(err, &g):
		status, reason = StatusFailed, g.Reason
	default:
		status, reason = StatusFailed, plainError(err)
	}
	// The run's ctx may be over; the last events must still be written.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if status == StatusSucceeded && r.cfg.PreviewURL != "" && !r.previewReady {
		r.checkPreview(ectx)
	}
	if status != StatusSucceeded && status != StatusCancelled {
		_ = r.emit(ectx, EventError, RoleTeamLeader, map[string]any{"message": reason})
	}
	data := map[string]any{
		"status": status, "reason": reason, "steps": r.steps,
		"duration_ms": time.Since(r.start).Milliseconds(),
		"usage": map[string]any{"input_tokens": r.usage.InputTokens, "output_tokens": r.usage.OutputTokens,
			"total_tokens": r.usage.Total()},
	}
	if eerr := r.emit(ectx, EventFinish, RoleTeamLeader, data); eerr != nil {
		return fmt.Errorf("agent: emit FINISH: %w", eerr)
	}
	r.log.InfoContext(ectx, "agent run finished", "status", status, "reason", reason, "steps", r.steps, "tokens", r.usage.Total())
	if status != StatusSucceeded {
		return fmt.Errorf("%w: %s: %s", ErrRunFailed, status, reason)
	}
	return nil
}

func plainError(err error) string {
	switch {
	case errors.Is(err, llm.ErrAuth):
		return "The language model service refused the API key: " + err.Error()
	case errors.Is(err, llm.ErrRateLimited):
		return "The language model service kept answering \"too many requests\", even after waiting: " + err.Error()
	case errors.Is(err, llm.ErrUnavailable), errors.Is(err, llm.ErrStreamBroken):
		return "The language model service could not be reached or broke off, even after retries: " + err.Error()
	case errors.Is(err, llm.ErrRequest):
		return "The language model service rejected the request: " + err.Error()
	}
	return "The run failed: " + err.Error()
}

func (r *run) emit(ctx context.Context, typ, role string, data map[string]any) error {
	err := r.sink.Emit(ctx, r.cfg.SessionID, typ, role, data)
	if err != nil {
		r.log.ErrorContext(ctx, "emit event", "type", typ, "err", err)
	}
	return err
}

// lead runs the team leader until it calls finish (or stops calling tools).
func (r *run) lead(ctx context.Context) error {
	m := member{role: RoleTeamLeader, tools: append(tools.Definitions(memberTools[RoleTeamLeader]...), leaderTools()...)}
	task := fmt.Sprintf("The person asked for:\n\n%s\n\nThe workspace holds the %s template. Plan the work and lead the team.", r.cfg.Prompt, r.cfg.Framework)
	last, err := r.loop(ctx, m, task)
	if err != nil {
		return err
	}
	switch {
	case r.finished != nil && r.finished.Status == StatusFailed:
		return &giveUp{Reason: nonEmpty(r.finished.Summary, "The team leader gave up.")}
	case r.finished == nil && r.lastQA != "" && !r.qaPassed:
		// The leader stopped talking without finishing while QA still reported failures.
		return &giveUp{Reason: "The team stopped while QA still reported failures: " + oneLine(tools.Trim(r.lastQA, 600))}
	case r.finished == nil:
		r.finished = &finishArgs{Status: StatusSucceeded, Summary: strings.TrimSpace(last)}
	}
	return nil
}

func nonEmpty(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func leaderTools() []llm.Tool {
	roles := []any{RoleProductManager, RoleArchitect, RoleEngineer, RoleQAEngineer}
	return []llm.Tool{
		{Name: toolPlan, Description: "Record the plan: the ordered steps, each a role and its task. Call once, before delegating.",
			Parameters: map[string]any{"type": "object", "required": []any{"steps"}, "properties": map[string]any{
				"steps": map[string]any{"type": "array", "items": map[string]any{"type": "object", "required": []any{"role", "task"}, "properties": map[string]any{
					"role": map[string]any{"type": "string", "enum": roles}, "task": map[string]any{"type": "string"}}}}}}},
		{Name: toolDelegate, Description: "Hand a task to a team member and get their report back when they are done.",
			Parameters: map[string]any{"type": "object", "required": []any{"role", "task"}, "properties": map[string]any{
				"role": map[string]any{"type": "string", "enum": roles}, "task": map[string]any{"type": "string"}}}},
		{Name: toolFinish, Description: "End the run.",
			Parameters: map[string]any{"type": "object", "required": []any{"status", "summary"}, "properties": map[string]any{
				"status":  map[string]any{"type": "string", "enum": []any{StatusSucceeded, StatusFailed}},
				"summary": map[string]any{"type": "string", "description": "what was built, or why the team gave up, in plain words"}}}},
	}
}

type member struct {
	role  string
	tools []llm.Tool
}

// loop is one member's conversation: call the model, run the tools it asks for, repeat
// until it answers without tool calls. The answer is the member's report.
func (r *run) loop(ctx context.Context, m member, task string) (string, error) {
	req := llm.Request{System: systemPrompt(m.role, &r.cfg), Tools: m.tools,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: task}}}
	for {
		if r.steps >= r.cfg.MaxSteps {
			return "", &giveUp{Reason: fmt.Sprintf("The team used its budget of %d model calls before the app was finished.", r.cfg.MaxSteps)}
		}
		r.steps++
		resp, err := r.chat(ctx, m.role, req)
		if err != nil {
			return "", err
		}
		r.usage = r.usage.Add(resp.Usage)
		if text := strings.TrimSpace(resp.Message.Content); text != "" {
			_ = r.emit(ctx, EventMessage, m.role, map[string]any{"text": text})
		}
		if r.usage.Total() > r.cfg.MaxTokens {
			return "", &giveUp{Reason: fmt.Sprintf("The run used %d tokens, over its budget of %d.", r.usage.Total(), r.cfg.MaxTokens)}
		}
		req.Messages = append(req.Messages, resp.Message)
		if len(resp.Message.ToolCalls) == 0 {
			if resp.StopReason == llm.StopMaxTokens && strings.TrimSpace(resp.Message.Content) == "" {
				return "", &giveUp{Reason: "The model's reply was cut off at its length limit without an answer."}
			}
			return resp.Message.Content, nil
		}
		for _, call := range resp.Message.ToolCalls {
			res, err := r.call(ctx, m.role, call)
			if err != nil {
				return "", err
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Content: res.Output, IsError: res.IsError})
		}
		if r.finished != nil {
			return r.finished.Summary, nil
		}
	}
}

// chat calls the model, streaming text as MESSAGE_DELTA events in small batches.
func (r *run) chat(ctx context.Context, role string, req llm.Request) (*llm.Response, error) {
	var buf strings.Builder
	last := time.Now()
	flush := func() {
		if buf.Len() > 0 {
			_ = r.emit(ctx, EventMessageDelta, role, map[string]any{"text": buf.String()})
			buf.Reset()
			last = time.Now()
		}
	}
	resp, err := r.provider.Chat(ctx, req, func(d llm.Delta) {
		if d.ToolPiece || d.Text == "" {
			return
		}
		buf.WriteString(d.Text)
		if buf.Len() >= 120 || time.Since(last) > 150*time.Millisecond {
			flush()
		}
	})
	flush()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return resp, nil
}

// call runs one tool call with its TOOL_START / FILE_CHANGED / TOOL_END events.
func (r *run) call(ctx context.Context, role string, call llm.ToolCall) (tools.Result, error) {
	_ = r.emit(ctx, EventToolStart, role, map[string]any{"call_id": call.ID, "tool": call.Name, "args": summarizeArgs(call.Arguments)})
	var res tools.Result
	var err error
	switch {
	case role == RoleTeamLeader && call.Name == toolPlan:
		res = r.plan(ctx, call.Arguments)
	case role == RoleTeamLeader && call.Name == toolDelegate:
		res, err = r.delegate(ctx, call.Arguments)
	case role == RoleTeamLeader && call.Name == toolFinish:
		res = r.finishCall(call.Arguments)
	case allowed(role, call.Name):
		res, err = r.tools.Execute(ctx, call.Name, call.Arguments)
	default:
		res = tools.Result{IsError: true, Output: fmt.Sprintf("error: the %s cannot use %q; use one of your tools", role, call.Name), Summary: "tool not allowed"}
	}
	if err != nil {
		return res, err
	}
	for _, ch := range res.Changes {
		r.fileVersion++
		_ = r.emit(ctx, EventFileChanged, role, map[string]any{"path": ch.Path, "op": ch.Op, "by": role})
	}
	end := map[string]any{"call_id": call.ID, "tool": call.Name, "ok": !res.IsError, "summary": res.Summary,
		"output": tools.Trim(res.Output, 2000)}
	if res.ExitCode != nil {
		end["exit_code"] = *res.ExitCode
	}
	_ = r.emit(ctx, EventToolEnd, role, end)
	if call.Name == tools.FetchPreview && !res.IsError && res.PreviewStatus > 0 && !r.previewReady {
		r.previewReady = true
		_ = r.emit(ctx, EventPreviewReady, role, map[string]any{"url": r.cfg.PreviewURL, "status": res.PreviewStatus})
	}
	if res.IsError {
		key := fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", role, call.Name, canonicalJSON(call.Arguments), r.fileVersion, res.Output)
		r.failures[key]++
		if r.failures[key] >= repeatLimit {
			return res, &giveUp{Reason: fmt.Sprintf("The %s repeated the same failing action %d times with nothing changed in between (%s %s). Last error: %s",
				strings.ReplaceAll(role, "_", " "), repeatLimit, call.Name, oneLine(summarizeArgs(call.Arguments)), oneLine(tools.Trim(res.Output, 400)))}
		}
	}
	return res, nil
}

func allowed(role, tool string) bool {
	for _, t := range memberTools[role] {
		if t == tool {
			return true
		}
	}
	return false
}

func (r *run) plan(ctx context.Context, raw string) tools.Result {
	var a struct {
		Steps []struct {
			Role string `json:"role"`
			Task string `json:"task"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(raw), &a); err != nil || len(a.Steps) == 0 {
		return tools.Result{IsError: true, Output: "error: plan needs steps: [{role, task}, ...]", Summary: "invalid plan"}
	}
	steps := make([]any, 0, len(a.Steps))
	for _, s := range a.Steps {
		steps = append(steps, map[string]any{"role": s.Role, "task": s.Task})
	}
	_ = r.emit(ctx, EventPlan, RoleTeamLeader, map[string]any{"steps": steps})
	return tools.Result{Output: fmt.Sprintf("Plan recorded (%d steps). Now delegate the first step.", len(steps)), Summary: fmt.Sprintf("%d steps", len(steps))}
}

func (r *run) delegate(ctx context.Context, raw string) (tools.Result, error) {
	var a struct {
		Role string `json:"role"`
		Task string `json:"task"`
	}
	if err := json.Unmarshal([]byte(raw), &a); err != nil || a.Role == RoleTeamLeader || memberTools[a.Role] == nil || strings.TrimSpace(a.Task) == "" {
		return tools.Result{IsError: true, Output: "error: delegate needs a role (product_manager, architect, engineer, qa_engineer) and a task", Summary: "invalid delegation"}, nil
	}
	if a.Role == RoleEngineer && r.lastQA != "" && !r.qaPassed {
		r.fixRounds++
		if r.fixRounds > r.cfg.MaxFixRounds {
			return tools.Result{}, &giveUp{Reason: fmt.Sprintf("The app still fails QA after %d rounds of fixes. Last QA report: %s", r.cfg.MaxFixRounds, oneLine(tools.Trim(r.lastQA, 600)))}
		}
	}
	var names []string
	for _, n := range memberTools[a.Role] {
		if n == tools.FetchPreview && r.cfg.PreviewURL == "" {
			continue // no preview attached to this run
		}
		names = append(names, n)
	}
	m := member{role: a.Role, tools: tools.Definitions(names...)}
	report, err := r.loop(ctx, m, a.Task)
	if err != nil {
		return tools.Result{}, err
	}
	if a.Role == RoleQAEngineer {
		r.lastQA = report
		r.qaPassed = strings.HasPrefix(strings.TrimSpace(strings.ToUpper(report)), "PASSED")
	}
	return tools.Result{Output: fmt.Sprintf("Report from the %s:\n%s", a.Role, nonEmpty(report, "(no report)")), Summary: "report from " + a.Role}, nil
}

func (r *run) finishCall(raw string) tools.Result {
	var a finishArgs
	if err := json.Unmarshal([]byte(raw), &a); err != nil || (a.Status != StatusSucceeded && a.Status != StatusFailed) {
		return tools.Result{IsError: true, Output: `error: finish needs status "succeeded" or "failed" and a summary`, Summary: "invalid finish"}
	}
	r.finished = &a
	return tools.Result{Output: "finished", Summary: a.Status}
}

func (r *run) checkPreview(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.PreviewURL, nil)
	if err != nil {
		return
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		r.previewReady = true
		_ = r.emit(ctx, EventPreviewReady, RoleQAEngineer, map[string]any{"url": r.cfg.PreviewURL, "status": resp.StatusCode})
	}
}

// summarizeArgs keeps event payloads small: long strings (file contents) become their size.
func summarizeArgs(raw string) map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return map[string]any{"raw": tools.Trim(raw, 200)}
	}
	for k, v := range m {
		if s, ok := v.(string); ok && len(s) > 200 {
			m[k] = fmt.Sprintf("(%d bytes)", len(s))
		}
	}
	return m
}

func canonicalJSON(raw string) string {
	var v any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return raw
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func oneLine(v any) string {
	s := fmt.Sprint(v)
	if m, ok := v.(map[string]any); ok {
		b, _ := json.Marshal(m)
		s = string(b)
	}
	return strings.Join(strings.Fields(s), " ")
}

// redactingSink removes the API key from any string in event data, whatever put it there.
type redactingSink struct {
	next   EventSink
	secret string
}

var _ EventSink = (*redactingSink)(nil)

func (s *redactingSink) Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error {
	if len(s.secret) >= 8 {
		data = redact(data, s.secret).(map[string]any)
	}
	return s.next.Emit(ctx, sessionID, typ, role, data)
}

func redact(v any, secret string) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, secret, "[redacted]")
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redact(e, secret)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redact(e, secret)
		}
		return out
	}
	return v
}
