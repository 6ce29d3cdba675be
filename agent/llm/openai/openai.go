// Package openai drives any OpenAI-compatible chat completions API (OpenAI, DeepSeek, Qwen,
// vLLM, Ollama, ...) over plain HTTP with streaming and tool calls.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API root; "/chat/completions" is appended. Default https://api.openai.com/v1.
	BaseURL string
	// APIKey is sent as a bearer token when set (local servers often need none).
	APIKey string
	// Model is used when a Request names none. Default gpt-4o-mini.
	Model string
	// HTTPClient defaults to a client without overall timeout (streams can be long; ctx bounds them).
	HTTPClient *http.Client
	// Retry policy for 429/5xx/connection failures.
	Retry llm.RetryPolicy
}

// Client is an llm.Provider.
type Client struct{ cfg Config }

var _ llm.Provider = (*Client)(nil)

// New returns a client with defaults filled in.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.openai.com/v1"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Model == "" {
		cfg.Model = "gpt-4o-mini"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	return &Client{cfg: cfg}
}

// Wire types (only the fields used).
type wireMessage struct {
	Role       string         `json:"role"`
	Content    *string        `json:"content"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type wireToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type wireTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string         `json:"name"`
		Description string         `json:"description,omitempty"`
		Parameters  map[string]any `json:"parameters"`
	} `json:"function"`
}

type wireRequest struct {
	Model         string         `json:"model"`
	Messages      []wireMessage  `json:"messages"`
	Tools         []wireTool     `json:"tools,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions map[string]any `json:"stream_options,omitempty"`
}

type wireChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   string         `json:"content"`
			ToolCalls []wireToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *wireError `json:"error"`
}

type wireError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

// EncodeRequest turns a Request into the chat completions wire body (exported for llmtest).
func EncodeRequest(req llm.Request, model string) ([]byte, error) {
	w := wireRequest{Model: model, MaxTokens: req.MaxTokens, Temperature: req.Temperature, Stream: true,
		StreamOptions: map[string]any{"include_usage": true}}
	if req.Model != "" {
		w.Model = req.Model
	}
	if req.System != "" {
		s := req.System
		w.Messages = append(w.Messages, wireMessage{Role: "system", Content: &s})
	}
	for _, m := range req.Messages {
		content := m.Content
		wm := wireMessage{Role: m.Role, Content: &content, ToolCallID: m.ToolCallID}
		if m.Role == llm.RoleAssistant && len(m.ToolCalls) > 0 && content == "" {
			wm.Content = nil
		}
		for _, c := range m.ToolCalls {
			var tc wireToolCall
			tc.ID, tc.Type = c.ID, "function"
			tc.Function.Name, tc.Function.Arguments = c.Name, c.Arguments
			wm.ToolCalls = append(wm.ToolCalls, tc)
		}
		w.Messages = append(w.Messages, wm)
	}
	for _, t := range req.Tools {
		var wt wireTool
		wt.Type = "function"
		wt.Function.Name, wt.Function.Description, wt.Function.Parameters = t.Name, t.Description, t.Parameters
		if wt.Function.Parameters == nil {
			wt.Function.Parameters = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		w.Tools = append(w.Tools, wt)
	}
	return json.Marshal(w)
}

// DecodeRequest is the inverse of EncodeRequest, used by the scripted test server.
func DecodeRequest(body []byte) (llm.Request, bool, error) {
	var w wireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return llm.Request{}, false, err
	}
	req := llm.Request{Model: w.Model, MaxTokens: w.MaxTokens, Temperature: w.Temperature}
	for _, m := range w.Messages {
		content := ""
		if m.Content != nil {
			content = *m.Content
		}
		if m.Role == "system" {
			req.System += content
			continue
		}
		lm := llm.Message{Role: m.Role, Content: content, ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			lm.ToolCalls = append(lm.ToolCalls, llm.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
		req.Messages = append(req.Messages, lm)
	}
	for _, t := range w.Tools {
		req.Tools = append(req.Tools, llm.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	return req, w.Stream, nil
}

// Chat implements llm.Provider.
func (c *Client) Chat(ctx context.Context, req llm.Request, onDelta llm.DeltaFunc) (*llm.Response, error) {
	body, err := EncodeRequest(req, c.cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("openai: encode request: %w", err)
	}
	var resp *llm.Response
	err = c.cfg.Retry.Do(ctx, func(ctx context.Context) error {
		r, err := c.once(ctx, body, onDelta)
		var se *llm.StatusError
		if errors.As(err, &se) && se.Status == http.StatusBadRequest && strings.Contains(se.Message, "stream_options") {
			// Some OpenAI-compatible servers reject stream_options; usage is then unknown.
			r, err = c.once(ctx, withoutStreamOptions(body), onDelta)
		}
		resp = r
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	return resp, nil
}

func withoutStreamOptions(body []byte) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	delete(m, "stream_options")
	b, _ := json.Marshal(m)
	return b
}

func (c *Client) once(ctx context.Context, body []byte, onDelta llm.DeltaFunc) (*llm.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if c.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	hresp, err := c.cfg.HTTPClient.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	if hresp.StatusCode/100 != 2 {
		return nil, statusError(hresp)
	}
	a := &llm.Assembler{OnDelta: onDelta}
	out := &llm.Response{}
	finish := ""
	ctype := hresp.Header.Get("Content-Type")
	if strings.HasPrefix(ctype, "application/json") {
		// A server that ignores "stream": true answers with one JSON object.
		return decodeWhole(hresp.Body, a)
	}
	errDone := errors.New("done")
	err = llm.ReadSSE(hresp.Body, func(ev llm.SSEEvent) error {
		if strings.TrimSpace(ev.Data) == "[DONE]" {
			return errDone
		}
		var ch wireChunk
		if err := json.Unmarshal([]byte(ev.Data), &ch); err != nil {
			return fmt.Errorf("decode chunk: %w", err)
		}
		if ch.Error != nil {
			return &llm.StatusError{Status: 502, Message: ch.Error.Message}
		}
		if ch.Usage != nil {
			out.Usage = llm.Usage{InputTokens: ch.Usage.PromptTokens, OutputTokens: ch.Usage.CompletionTokens}
		}
		for _, choice := range ch.Choices {
			if choice.Index != 0 {
				continue
			}
			a.Text(choice.Delta.Content)
			for i, tc := range choice.Delta.ToolCalls {
				idx := i
				if tc.Index != nil {
					idx = *tc.Index
				}
				if tc.ID != "" || tc.Function.Name != "" {
					a.ToolStart(idx, tc.ID, tc.Function.Name)
				}
				a.ToolArgs(idx, tc.Function.Arguments)
			}
			if choice.FinishReason != "" {
				finish = choice.FinishReason
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if a.Started() {
			return nil, fmt.Errorf("%w: %w", llm.ErrStreamBroken, err)
		}
		return nil, err
	}
	if err == nil && finish == "" {
		// Neither [DONE] nor a finish_reason: the connection was cut.
		if a.Started() {
			return nil, fmt.Errorf("%w: stream ended early", llm.ErrStreamBroken)
		}
		return nil, fmt.Errorf("stream ended without a reply")
	}
	out.Message = a.Message()
	out.StopReason = stopReason(finish, out.Message)
	return out, nil
}

func decodeWhole(r io.Reader, a *llm.Assembler) (*llm.Response, error) {
	var w struct {
		Choices []struct {
			Message      wireMessage `json:"message"`
			FinishReason string      `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 32<<20)).Decode(&w); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	if len(w.Choices) == 0 {
		return nil, fmt.Errorf("response without choices")
	}
	m := w.Choices[0].Message
	if m.Content != nil {
		a.Text(*m.Content)
	}
	for i, tc := range m.ToolCalls {
		a.ToolStart(i, tc.ID, tc.Function.Name)
		a.ToolArgs(i, tc.Function.Arguments)
	}
	msg := a.Message()
	return &llm.Response{Message: msg, StopReason: stopReason(w.Choices[0].FinishReason, msg),
		Usage: llm.Usage{InputTokens: w.Usage.PromptTokens, OutputTokens: w.Usage.CompletionTokens}}, nil
}

func stopReason(finish string, m llm.Message) string {
	switch {
	case finish == "length":
		return llm.StopMaxTokens
	case len(m.ToolCalls) > 0:
		return llm.StopToolCalls
	default:
		return llm.StopEnd
	}
}

func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(b))
	var w struct {
		Error wireError `json:"error"`
	}
	if json.Unmarshal(b, &w) == nil && w.Error.Message != "" {
		msg = w.Error.Message
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return &llm.StatusError{Status: resp.StatusCode, Message: msg,
		RetryAfter: llm.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}
