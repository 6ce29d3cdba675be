// Package llm is the one interface the agent team uses to talk to a language model, whatever
// serves it: an OpenAI-compatible chat completions API, Anthropic's messages API, or the
// deterministic offline generator. Every driver passes llmtest.RunTests.
package llm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one turn of a conversation. The system prompt is not a message: it is
// Request.System, because the two wire protocols carry it differently.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant message asks for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID ties a RoleTool message (the result) to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// IsError marks a tool result that reports a failure (Anthropic's is_error).
	IsError bool `json:"is_error,omitempty"`
}

// ToolCall is one function call requested by the model.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments is the JSON object the model produced, as text.
	Arguments string `json:"arguments"`
}

// Tool describes a function the model may call.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Parameters is a JSON Schema object describing the arguments.
	Parameters map[string]any `json:"parameters"`
}

// Request is one chat completion call.
type Request struct {
	// Model overrides the provider's default model when set.
	Model    string
	System   string
	Messages []Message
	Tools    []Tool
	// MaxTokens caps the reply; 0 means the provider's default (4096).
	MaxTokens int
	// Temperature is left to the server when nil.
	Temperature *float64
}

// Usage counts tokens of one call (or, summed, of a run).
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Add returns the sum of two usages.
func (u Usage) Add(v Usage) Usage {
	return Usage{InputTokens: u.InputTokens + v.InputTokens, OutputTokens: u.OutputTokens + v.OutputTokens}
}

// Total is input plus output tokens.
func (u Usage) Total() int { return u.InputTokens + u.OutputTokens }

// Stop reasons, normalised across providers.
const (
	StopEnd       = "end"        // the model finished its turn
	StopToolCalls = "tool_calls" // the model wants tool results
	StopMaxTokens = "max_tokens" // the reply was cut at MaxTokens
)

// Response is the complete assistant message of one call.
type Response struct {
	Message    Message
	Usage      Usage
	StopReason string
}

// Delta is a piece of a reply as it streams in. Exactly one of Text or a tool call piece is
// set. Tool call pieces carry the call's Index in the reply; ToolName comes with the first
// piece of a call, ToolArgs are consecutive fragments of its JSON arguments.
type Delta struct {
	Text      string
	Index     int
	ToolID    string
	ToolName  string
	ToolArgs  string
	ToolPiece bool
}

// DeltaFunc receives deltas in order. It may be nil.
type DeltaFunc func(Delta)

// Provider is a chat model. Chat streams the reply through onDelta while it arrives and
// returns the whole message at the end. It returns ctx.Err() (wrapped) when ctx ends.
type Provider interface {
	Chat(ctx context.Context, req Request, onDelta DeltaFunc) (*Response, error)
}

// Sentinel errors every driver maps its failures to.
var (
	// ErrRateLimited: the service answered 429 and retries did not help.
	ErrRateLimited = errors.New("llm: rate limited")
	// ErrUnavailable: 5xx or a broken connection, after retries.
	ErrUnavailable = errors.New("llm: service unavailable")
	// ErrAuth: 401/403, the API key is missing or wrong. Never retried.
	ErrAuth = errors.New("llm: not authorised")
	// ErrRequest: any other 4xx; the request itself is wrong. Never retried.
	ErrRequest = errors.New("llm: request rejected")
)

// StatusError is an HTTP failure from a provider. Message is the service's own error text,
// which never contains the API key.
type StatusError struct {
	Status     int
	Message    string
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("llm: status %d", e.Status)
	}
	return fmt.Sprintf("llm: status %d: %s", e.Status, e.Message)
}

// Unwrap maps the status to a sentinel.
func (e *StatusError) Unwrap() error {
	switch {
	case e.Status == 429:
		return ErrRateLimited
	case e.Status == 401 || e.Status == 403:
		return ErrAuth
	case e.Status >= 500:
		return ErrUnavailable
	default:
		return ErrRequest
	}
}

// Retryable reports whether trying the same request again may succeed.
func (e *StatusError) Retryable() bool {
	return e.Status == 429 || e.Status == 408 || e.Status == 409 || e.Status >= 500
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date); 0 when absent.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
