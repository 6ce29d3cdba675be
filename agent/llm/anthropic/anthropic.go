// Package anthropic drives Anthropic's messages API over plain HTTP with streaming and
// tool_use.
package anthropic

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

// Version is the anthropic-version header sent with every request.
const Version = "2023-06-01"

// Config configures a Client.
type Config struct {
	// BaseURL is the API root; "/v1/messages" is appended. Default https://api.anthropic.com.
	BaseURL string
	// APIKey is sent as x-api-key.
	APIKey string
	// Model is used when a Request names none. Default claude-sonnet-4-5.
	Model string
	// HTTPClient defaults to a client without overall timeout; ctx bounds each call.
	HTTPClient *http.Client
	// Retry policy for 429/5xx/529/connection failures.
	Retry llm.RetryPolicy
}

// Client is an llm.Provider.
type Client struct{ cfg Config }

var _ llm.Provider = (*Client)(nil)

// New returns a client with defaults filled in.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.anthropic.com"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Model == "" {
		cfg.Model = "claude-sonnet-4-5"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	return &Client{cfg: cfg}
}

type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   string          `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

type wireMessage struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

type wireTool struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	InputSchema map[string]any `json:"input_schema"`
}

type wireRequest struct {
	Model       string        `json:"model"`
	System      string        `json:"system,omitempty"`
	Messages    []wireMessage `json:"messages"`
	Tools       []wireTool    `json:"tools,omitempty"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature *float64      `json:"temperature,omitempty"`
	Stream      bool          `json:"stream"`
}

// EncodeRequest turns a Request into the messages API wire body (exported for llmtest).
func EncodeRequest(req llm.Request, model string) ([]byte, error) {
	w := wireRequest{Model: model, System: req.System, MaxTokens: req.MaxTokens, Temperature: req.Temperature, Stream: true}
	if req.Model != "" {
		w.Model = req.Model
	}
	if w.MaxTokens <= 0 {
		w.MaxTokens = 4096
	}
	for _, m := range req.Messages {
		switch m.Role {
		case llm.RoleTool:
			b := block{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Content, IsError: m.IsError}
			// Results of parallel calls go together in one user message, as the API requires.
			if n := len(w.Messages); n > 0 && w.Messages[n-1].Role == "user" && len(w.Messages[n-1].Content) > 0 && w.Messages[n-1].Content[0].Type == "tool_result" {
				w.Messages[n-1].Content = append(w.Messages[n-1].Content, b)
			} else {
				w.Messages = append(w.Messages, wireMessage{Role: "user", Content: []block{b}})
			}
		case llm.RoleAssistant:
			wm := wireMessage{Role: "assistant"}
			if m.Content != "" {
				wm.Content = append(wm.Content, block{Type: "text", Text: m.Content})
			}
			for _, c := range m.ToolCalls {
				in := json.RawMessage(c.Arguments)
				if !json.Valid(in) || len(bytes.TrimSpace(in)) == 0 {
					in = json.RawMessage("{}")
				}
				wm.Content = append(wm.Content, block{Type: "tool_use", ID: c.ID, Name: c.Name, Input: in})
			}
			if len(wm.Content) == 0 {
				wm.Content = []block{{Type: "text", Text: "(no reply)"}}
			}
			w.Messages = append(w.Messages, wm)
		default:
			text := m.Content
			if text == "" {
				text = "(empty)"
			}
			w.Messages = append(w.Messages, wireMessage{Role: "user", Content: []block{{Type: "text", Text: text}}})
		}
	}
	for _, t := range req.Tools {
		schema := t.Parameters
		if schema == nil {
			schema = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		w.Tools = append(w.Tools, wireTool{Name: t.Name, Description: t.Description, InputSchema: schema})
	}
	return json.Marshal(w)
}

// DecodeRequest is the inverse of EncodeRequest, used by the scripted test server.
func DecodeRequest(body []byte) (llm.Request, bool, error) {
	var w wireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return llm.Request{}, false, err
	}
	req := llm.Request{Model: w.Model, System: w.System, MaxTokens: w.MaxTokens, Temperature: w.Temperature}
	for _, m := range w.Messages {
		if m.Role == "assistant" {
			lm := llm.Message{Role: llm.RoleAssistant}
			for _, b := range m.Content {
				switch b.Type {
				case "text":
					lm.Content += b.Text
				case "tool_use":
					lm.ToolCalls = append(lm.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
				}
			}
			req.Messages = append(req.Messages, lm)
			continue
		}
		var text strings.Builder
		for _, b := range m.Content {
			switch b.Type {
			case "tool_result":
				req.Messages = append(req.Messages, llm.Message{Role: llm.RoleTool, ToolCallID: b.ToolUseID, Content: b.Content, IsError: b.IsError})
			case "text":
				text.WriteString(b.Text)
			}
		}
		if text.Len() > 0 {
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: text.String()})
		}
	}
	for _, t := range w.Tools {
		req.Tools = append(req.Tools, llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	return req, w.Stream, nil
}

// Chat implements llm.Provider.
func (c *Client) Chat(ctx context.Context, req llm.Request, onDelta llm.DeltaFunc) (*llm.Response, error) {
	body, err := EncodeRequest(req, c.cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("anthropic: encode request: %w", err)
	}
	var resp *llm.Response
	err = c.cfg.Retry.Do(ctx, func(ctx context.Context) error {
		r, err := c.once(ctx, body, onDelta)
		resp = r
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	return resp, nil
}

type streamEvent struct {
	Type    string `json:"type"`
	Index   int    `json:"index"`
	Message *struct {
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	} `json:"message"`
	ContentBlock *block `json:"content_block"`
	Delta        *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *Client) once(ctx context.Context, body []byte, onDelta llm.DeltaFunc) (*llm.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	hreq.Header.Set("anthropic-version", Version)
	if c.cfg.APIKey != "" {
		hreq.Header.Set("x-api-key", c.cfg.APIKey)
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
	stop, stopped := "", false
	errDone := errors.New("done")
	err = llm.ReadSSE(hresp.Body, func(ev llm.SSEEvent) error {
		var se streamEvent
		if err := json.Unmarshal([]byte(ev.Data), &se); err != nil {
			return fmt.Errorf("decode event %q: %w", ev.Event, err)
		}
		switch se.Type {
		case "message_start":
			if se.Message != nil {
				out.Usage.InputTokens = se.Message.Usage.InputTokens
				out.Usage.OutputTokens = se.Message.Usage.OutputTokens
			}
		case "content_block_start":
			if b := se.ContentBlock; b != nil {
				switch b.Type {
				case "text":
					a.Text(b.Text)
				case "tool_use":
					a.ToolStart(se.Index, b.ID, b.Name)
				}
			}
		case "content_block_delta":
			if d := se.Delta; d != nil {
				switch d.Type {
				case "text_delta":
					a.Text(d.Text)
				case "input_json_delta":
					a.ToolArgs(se.Index, d.PartialJSON)
				}
			}
		case "message_delta":
			if se.Delta != nil && se.Delta.StopReason != "" {
				stop = se.Delta.StopReason
			}
			if se.Usage != nil {
				out.Usage.OutputTokens = se.Usage.OutputTokens
				if se.Usage.InputTokens > 0 {
					out.Usage.InputTokens = se.Usage.InputTokens
				}
			}
		case "message_stop":
			stopped = true
			return errDone
		case "error":
			msg, status := "stream error", 502
			if se.Error != nil {
				msg = se.Error.Type + ": " + se.Error.Message
				if se.Error.Type == "overloaded_error" {
					status = 529
				} else if se.Error.Type == "rate_limit_error" {
					status = 429
				}
			}
			return &llm.StatusError{Status: status, Message: msg}
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
	if !stopped {
		if a.Started() {
			return nil, fmt.Errorf("%w: stream ended before message_stop", llm.ErrStreamBroken)
		}
		return nil, fmt.Errorf("stream ended before message_stop")
	}
	out.Message = a.Message()
	// Anthropic indexes blocks across text and tool_use; the assembler sorted by index, so
	// the tool calls keep the model's order.
	switch {
	case stop == "max_tokens":
		out.StopReason = llm.StopMaxTokens
	case len(out.Message.ToolCalls) > 0:
		out.StopReason = llm.StopToolCalls
	default:
		out.StopReason = llm.StopEnd
	}
	return out, nil
}

func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(b))
	var w struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &w) == nil && w.Error.Message != "" {
		msg = w.Error.Type + ": " + w.Error.Message
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return &llm.StatusError{Status: resp.StatusCode, Message: msg,
		RetryAfter: llm.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}
