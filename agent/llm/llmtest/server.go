// Package llmtest is the conformance suite every llm.Provider passes, plus scripted
// OpenAI-compatible and Anthropic-shaped HTTP servers that stand in for real services.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/llm/anthropic"
	"github.com/mgx-dev/mgx/agent/llm/openai"
)

// Turn is what the scripted model does with one request.
type Turn struct {
	Text      string
	ToolCalls []llm.ToolCall
	Usage     llm.Usage
	// Status, when non-zero, fails the request with that HTTP status and Message.
	Status     int
	RetryAfter string
	Message    string
	// Delay holds the answer back (until the client gives up, if that is sooner).
	Delay time.Duration
	// BreakStream sends the first part of Text, then ends the response without finishing it.
	BreakStream bool
}

// Model answers requests; the servers decode the wire request into an llm.Request first.
type Model func(req llm.Request) Turn

// Script is a Model that plays Turns in order (repeating the last) and records requests.
type Script struct {
	mu       sync.Mutex
	turns    []Turn
	requests []llm.Request
}

// NewScript returns a Script playing turns.
func NewScript(turns ...Turn) *Script { return &Script{turns: turns} }

// Model returns the script as a Model.
func (s *Script) Model() Model {
	return func(req llm.Request) Turn {
		s.mu.Lock()
		defer s.mu.Unlock()
		i := min(len(s.requests), len(s.turns)-1)
		s.requests = append(s.requests, req)
		if i < 0 {
			return Turn{Text: "ok"}
		}
		return s.turns[i]
	}
}

// Requests returns the requests seen so far.
func (s *Script) Requests() []llm.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]llm.Request(nil), s.requests...)
}

func chunks(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > 0 {
		k := min(n, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}

func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

func sse(w http.ResponseWriter, event string, v any) {
	b, _ := json.Marshal(v)
	if event != "" {
		fmt.Fprintf(w, "event: %s\n", event)
	}
	fmt.Fprintf(w, "data: %s\n\n", b)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// NewOpenAIServer serves POST /v1/chat/completions like an OpenAI-compatible service backed by
// model; clients use srv.URL+"/v1" as base URL. When apiKey is non-empty, requests must carry
// it as a bearer token.
func NewOpenAIServer(t testing.TB, model Model, apiKey string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"not found"}}`, 404)
			return
		}
		if apiKey != "" && r.Header.Get("Authorization") != "Bearer "+apiKey {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"message": "Incorrect API key provided", "type": "invalid_request_error"}})
			return
		}
		body, _ := io.ReadAll(r.Body)
		req, stream, err := openai.DecodeRequest(body)
		if err != nil {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"message": err.Error()}})
			return
		}
		turn := model(req)
		if !wait(r, turn.Delay) {
			return
		}
		if turn.Status != 0 {
			if turn.RetryAfter != "" {
				w.Header().Set("Retry-After", turn.RetryAfter)
			}
			writeJSON(w, turn.Status, map[string]any{"error": map[string]any{"message": turn.Message, "type": "scripted"}})
			return
		}
		if !stream {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "llmtest serves streams only"}})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i, c := range chunks(turn.Text, 7) {
			sse(w, "", map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": c}}}})
			if turn.BreakStream && i >= 1 {
				return
			}
		}
		for i, tc := range turn.ToolCalls {
			sse(w, "", map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"tool_calls": []any{
				map[string]any{"index": i, "id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": ""}}}}}}})
			for _, a := range chunks(tc.Arguments, 10) {
				sse(w, "", map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"tool_calls": []any{
					map[string]any{"index": i, "function": map[string]any{"arguments": a}}}}}}})
			}
		}
		finish := "stop"
		if len(turn.ToolCalls) > 0 {
			finish = "tool_calls"
		}
		sse(w, "", map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": finish}}})
		sse(w, "", map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": turn.Usage.InputTokens, "completion_tokens": turn.Usage.OutputTokens}})
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// NewAnthropicServer serves POST /v1/messages like Anthropic's API backed by model; clients
// use srv.URL as base URL. When apiKey is non-empty, requests must carry it as x-api-key.
func NewAnthropicServer(t testing.TB, model Model, apiKey string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			writeJSON(w, 404, map[string]any{"type": "error", "error": map[string]any{"type": "not_found_error", "message": "not found"}})
			return
		}
		if r.Header.Get("anthropic-version") == "" {
			writeJSON(w, 400, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": "anthropic-version header is required"}})
			return
		}
		if apiKey != "" && r.Header.Get("x-api-key") != apiKey {
			writeJSON(w, 401, map[string]any{"type": "error", "error": map[string]any{"type": "authentication_error", "message": "invalid x-api-key"}})
			return
		}
		body, _ := io.ReadAll(r.Body)
		req, stream, err := anthropic.DecodeRequest(body)
		if err != nil || req.MaxTokens <= 0 {
			writeJSON(w, 400, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": fmt.Sprint("bad request: ", err)}})
			return
		}
		if msg := checkAlternation(req); msg != "" {
			writeJSON(w, 400, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": msg}})
			return
		}
		turn := model(req)
		if !wait(r, turn.Delay) {
			return
		}
		if turn.Status != 0 {
			if turn.RetryAfter != "" {
				w.Header().Set("Retry-After", turn.RetryAfter)
			}
			typ := "api_error"
			switch turn.Status {
			case 429:
				typ = "rate_limit_error"
			case 400:
				typ = "invalid_request_error"
			case 401:
				typ = "authentication_error"
			}
			writeJSON(w, turn.Status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": turn.Message}})
			return
		}
		if !stream {
			writeJSON(w, 400, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": "llmtest serves streams only"}})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		sse(w, "message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_1", "role": "assistant", "content": []any{},
			"usage": map[string]any{"input_tokens": turn.Usage.InputTokens, "output_tokens": 1}}})
		idx := 0
		if turn.Text != "" {
			sse(w, "content_block_start", map[string]any{"type": "content_block_start", "index": idx, "content_block": map[string]any{"type": "text", "text": ""}})
			fmt.Fprint(w, "event: ping\ndata: {\"type\": \"ping\"}\n\n")
			for i, c := range chunks(turn.Text, 7) {
				sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "text_delta", "text": c}})
				if turn.BreakStream && i >= 1 {
					return
				}
			}
			sse(w, "content_block_stop", map[string]any{"type": "content_block_stop", "index": idx})
			idx++
		}
		for _, tc := range turn.ToolCalls {
			sse(w, "content_block_start", map[string]any{"type": "content_block_start", "index": idx, "content_block": map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": map[string]any{}}})
			for _, a := range chunks(tc.Arguments, 10) {
				sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "input_json_delta", "partial_json": a}})
			}
			sse(w, "content_block_stop", map[string]any{"type": "content_block_stop", "index": idx})
			idx++
		}
		stop := "end_turn"
		if len(turn.ToolCalls) > 0 {
			stop = "tool_use"
		}
		sse(w, "message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop}, "usage": map[string]any{"output_tokens": turn.Usage.OutputTokens}})
		sse(w, "message_stop", map[string]any{"type": "message_stop"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// checkAlternation enforces the Anthropic rule that tool results answer the tool_use blocks
// of the message right before them.
func checkAlternation(req llm.Request) string {
	pending := map[string]bool{}
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleAssistant:
			pending = map[string]bool{}
			for _, c := range m.ToolCalls {
				pending[c.ID] = true
			}
		case llm.RoleTool:
			if !pending[m.ToolCallID] {
				return fmt.Sprintf("messages.%d: tool_result %q has no matching tool_use in the previous message", i, m.ToolCallID)
			}
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
