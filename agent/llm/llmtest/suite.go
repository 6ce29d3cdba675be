package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
)

// NewProvider returns a provider whose model is m. Wire drivers start NewOpenAIServer or
// NewAnthropicServer around m; in-process drivers answer with m directly.
type NewProvider func(t *testing.T, m Model) llm.Provider

// Option adjusts the suite.
type Option func(*options)

type options struct{ wire bool }

// Wire marks a driver that talks HTTP to a server built from the Model: the suite then also
// checks exact token counts, status codes, Retry-After, retries and broken streams. The
// driver must retry at least 3 times with short backoff (tests set RetryPolicy.Base ~10ms).
func Wire() Option { return func(o *options) { o.wire = true } }

// RunTests is the conformance suite every llm.Provider passes.
func RunTests(t *testing.T, newProvider NewProvider, opts ...Option) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	writeTool := llm.Tool{Name: "write_file", Description: "Write a file.", Parameters: map[string]any{
		"type": "object", "required": []any{"path", "content"},
		"properties": map[string]any{"path": map[string]any{"type": "string"}, "content": map[string]any{"type": "string"}}}}

	t.Run("text streams and assembles", func(t *testing.T) {
		text := "Hello from the scripted model — this reply arrives in several chunks. ✓"
		s := NewScript(Turn{Text: text, Usage: llm.Usage{InputTokens: 12, OutputTokens: 9}})
		p := newProvider(t, s.Model())
		var got strings.Builder
		resp, err := p.Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, func(d llm.Delta) {
			if !d.ToolPiece {
				got.WriteString(d.Text)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Role != llm.RoleAssistant || resp.Message.Content != text {
			t.Errorf("message = %+v, want assistant %q", resp.Message, text)
		}
		if got.String() != text {
			t.Errorf("deltas = %q, want %q", got.String(), text)
		}
		if resp.StopReason != llm.StopEnd {
			t.Errorf("stop = %q, want %q", resp.StopReason, llm.StopEnd)
		}
		if o.wire && resp.Usage != (llm.Usage{InputTokens: 12, OutputTokens: 9}) {
			t.Errorf("usage = %+v, want 12/9", resp.Usage)
		}
		if resp.Usage.InputTokens <= 0 || resp.Usage.OutputTokens <= 0 {
			t.Errorf("usage = %+v, want positive counts", resp.Usage)
		}
	})

	t.Run("nil delta func", func(t *testing.T) {
		s := NewScript(Turn{Text: "quiet", Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}})
		resp, err := newProvider(t, s.Model()).Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}, nil)
		if err != nil || resp.Message.Content != "quiet" {
			t.Fatalf("resp=%+v err=%v", resp, err)
		}
	})

	t.Run("system prompt and history reach the model", func(t *testing.T) {
		s := NewScript(Turn{Text: "ok", Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}})
		p := newProvider(t, s.Model())
		msgs := []llm.Message{
			{Role: llm.RoleUser, Content: "first question"},
			{Role: llm.RoleAssistant, Content: "first answer"},
			{Role: llm.RoleUser, Content: "second question"},
		}
		if _, err := p.Chat(t.Context(), llm.Request{System: "You are the architect.", Messages: msgs}, nil); err != nil {
			t.Fatal(err)
		}
		reqs := s.Requests()
		if len(reqs) != 1 {
			t.Fatalf("model saw %d requests, want 1", len(reqs))
		}
		if reqs[0].System != "You are the architect." {
			t.Errorf("system = %q", reqs[0].System)
		}
		if !sameMessages(reqs[0].Messages, msgs) {
			t.Errorf("messages = %+v, want %+v", reqs[0].Messages, msgs)
		}
	})

	t.Run("tool call with streamed arguments", func(t *testing.T) {
		args := `{"path":"app/page.tsx","content":"export default function Page() {\n  return <h1>\"Recipes\" — ✓</h1>;\n}\n"}`
		s := NewScript(Turn{ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "write_file", Arguments: args}}, Usage: llm.Usage{InputTokens: 30, OutputTokens: 20}})
		p := newProvider(t, s.Model())
		var argDeltas strings.Builder
		var names []string
		resp, err := p.Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "write it"}}, Tools: []llm.Tool{writeTool}}, func(d llm.Delta) {
			if d.ToolPiece {
				argDeltas.WriteString(d.ToolArgs)
				if d.ToolName != "" {
					names = append(names, d.ToolName)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Message.ToolCalls) != 1 {
			t.Fatalf("tool calls = %+v, want 1", resp.Message.ToolCalls)
		}
		c := resp.Message.ToolCalls[0]
		if c.Name != "write_file" || c.ID == "" || !sameJSON(c.Arguments, args) {
			t.Errorf("call = %+v", c)
		}
		if !sameJSON(argDeltas.String(), args) || len(names) != 1 || names[0] != "write_file" {
			t.Errorf("streamed args %q names %v", argDeltas.String(), names)
		}
		if resp.StopReason != llm.StopToolCalls {
			t.Errorf("stop = %q, want tool_calls", resp.StopReason)
		}
		tools := s.Requests()[0].Tools
		if len(tools) != 1 || tools[0].Name != "write_file" || tools[0].Description == "" {
			t.Fatalf("model saw tools %+v", tools)
		}
		if props, _ := tools[0].Parameters["properties"].(map[string]any); props["path"] == nil {
			t.Errorf("schema lost on the way: %+v", tools[0].Parameters)
		}
	})

	t.Run("parallel tool calls and results round trip", func(t *testing.T) {
		calls := []llm.ToolCall{
			{ID: "call_a", Name: "write_file", Arguments: `{"path":"a.txt","content":"A"}`},
			{ID: "call_b", Name: "write_file", Arguments: `{"path":"b.txt","content":"B"}`},
		}
		s := NewScript(
			Turn{Text: "Writing two files.", ToolCalls: calls, Usage: llm.Usage{InputTokens: 5, OutputTokens: 5}},
			Turn{Text: "Both written.", Usage: llm.Usage{InputTokens: 9, OutputTokens: 3}},
		)
		p := newProvider(t, s.Model())
		req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "write a and b"}}, Tools: []llm.Tool{writeTool}}
		resp, err := p.Chat(t.Context(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Content != "Writing two files." || len(resp.Message.ToolCalls) != 2 {
			t.Fatalf("first reply = %+v", resp.Message)
		}
		req.Messages = append(req.Messages, resp.Message,
			llm.Message{Role: llm.RoleTool, ToolCallID: resp.Message.ToolCalls[0].ID, Content: "wrote a.txt"},
			llm.Message{Role: llm.RoleTool, ToolCallID: resp.Message.ToolCalls[1].ID, Content: "conflict: b.txt changed", IsError: true})
		resp2, err := p.Chat(t.Context(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp2.Message.Content != "Both written." {
			t.Errorf("second reply = %+v", resp2.Message)
		}
		seen := s.Requests()[1].Messages
		if len(seen) != 4 {
			t.Fatalf("model saw %d messages, want 4: %+v", len(seen), seen)
		}
		if got := seen[1]; got.Role != llm.RoleAssistant || len(got.ToolCalls) != 2 || got.ToolCalls[1].ID != calls[1].ID || !sameJSON(got.ToolCalls[0].Arguments, calls[0].Arguments) {
			t.Errorf("assistant turn seen as %+v", got)
		}
		if seen[2].Role != llm.RoleTool || seen[2].ToolCallID != "call_a" || seen[2].Content != "wrote a.txt" {
			t.Errorf("first result seen as %+v", seen[2])
		}
		if seen[3].ToolCallID != "call_b" || seen[3].Content != "conflict: b.txt changed" {
			t.Errorf("second result seen as %+v", seen[3])
		}
	})

	t.Run("context cancellation", func(t *testing.T) {
		s := NewScript(Turn{Text: "too late", Delay: 30 * time.Second})
		p := newProvider(t, s.Model())
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := p.Chat(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}, nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
	})

	if !o.wire {
		return
	}

	faults := []struct {
		name      string
		turns     []Turn
		wantErr   error
		wantCalls int
		minTime   time.Duration
	}{
		{name: "429 honours Retry-After then succeeds", turns: []Turn{{Status: 429, RetryAfter: "1", Message: "slow down"}, {Text: "ok", Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}}}, wantCalls: 2, minTime: 900 * time.Millisecond},
		{name: "5xx retried with backoff", turns: []Turn{{Status: 500, Message: "boom"}, {Status: 503, Message: "busy"}, {Text: "ok", Usage: llm.Usage{InputTokens: 1, OutputTokens: 1}}}, wantCalls: 3},
		{name: "persistent 503 gives up", turns: []Turn{{Status: 503, Message: "down for maintenance"}}, wantErr: llm.ErrUnavailable},
		{name: "persistent 429 gives up", turns: []Turn{{Status: 429, RetryAfter: "0", Message: "quota"}}, wantErr: llm.ErrRateLimited},
		{name: "400 is not retried", turns: []Turn{{Status: 400, Message: "messages: bad role"}}, wantErr: llm.ErrRequest, wantCalls: 1},
		{name: "401 is not retried", turns: []Turn{{Status: 401, Message: "invalid api key"}}, wantErr: llm.ErrAuth, wantCalls: 1},
		{name: "broken stream is not retried", turns: []Turn{{Text: "a long reply that will be cut off in the middle", BreakStream: true}}, wantErr: llm.ErrStreamBroken, wantCalls: 1},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScript(tc.turns...)
			p := newProvider(t, s.Model())
			start := time.Now()
			resp, err := p.Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}, nil)
			calls := len(s.Requests())
			if tc.wantErr == nil {
				if err != nil || resp.Message.Content != "ok" {
					t.Fatalf("resp=%+v err=%v", resp, err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantCalls > 0 && calls != tc.wantCalls {
				t.Errorf("server saw %d calls, want %d", calls, tc.wantCalls)
			}
			if tc.wantErr != nil && tc.wantCalls == 0 && calls < 2 {
				t.Errorf("server saw %d calls, want retries", calls)
			}
			if d := time.Since(start); d < tc.minTime {
				t.Errorf("took %v, want at least %v (Retry-After)", d, tc.minTime)
			}
			if err != nil && tc.turns[0].Message != "" && !strings.Contains(err.Error(), tc.turns[0].Message) {
				t.Errorf("err %q does not carry the service's message %q", err, tc.turns[0].Message)
			}
		})
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func sameMessages(a, b []llm.Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Role != b[i].Role || a[i].Content != b[i].Content {
			return false
		}
	}
	return true
}
