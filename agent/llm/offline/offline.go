// Package offline is the LLM provider used when no model service is configured: a
// deterministic, network-free generator that plays every member of the agent team. It reads
// the app request, derives the entities and fields, and drives the same team loop through
// tool calls, so its runs look like a real model's.
package offline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
)

// Brain decides the next assistant message from the conversation so far.
type Brain interface {
	Next(ctx context.Context, req llm.Request) (llm.Message, error)
}

// BrainFunc adapts a function to Brain.
type BrainFunc func(ctx context.Context, req llm.Request) (llm.Message, error)

// Next implements Brain.
func (f BrainFunc) Next(ctx context.Context, req llm.Request) (llm.Message, error) {
	return f(ctx, req)
}

// Config configures the provider.
type Config struct {
	// Brain defaults to the team generator (Team).
	Brain Brain
	// ChunkDelay paces streamed text so the UI sees it arrive; default 0.
	ChunkDelay time.Duration
}

// Provider is an llm.Provider without a network.
type Provider struct{ cfg Config }

var _ llm.Provider = (*Provider)(nil)

// New returns the offline provider.
func New(cfg Config) *Provider {
	if cfg.Brain == nil {
		cfg.Brain = Team{}
	}
	return &Provider{cfg: cfg}
}

// Chat implements llm.Provider: the brain's message is streamed in word-sized chunks, and
// usage is estimated at four characters a token.
func (p *Provider) Chat(ctx context.Context, req llm.Request, onDelta llm.DeltaFunc) (*llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	msg, err := p.cfg.Brain.Next(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	a := &llm.Assembler{OnDelta: onDelta}
	for _, w := range splitWords(msg.Content) {
		if p.cfg.ChunkDelay > 0 {
			t := time.NewTimer(p.cfg.ChunkDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("offline: %w", ctx.Err())
			case <-t.C:
			}
		}
		a.Text(w)
	}
	for i, c := range msg.ToolCalls {
		id := c.ID
		if id == "" {
			id = fmt.Sprintf("call_%d_%d", len(req.Messages), i)
		}
		a.ToolStart(i, id, c.Name)
		a.ToolArgs(i, c.Arguments)
	}
	out := a.Message()
	in := len(req.System)
	for _, m := range req.Messages {
		in += len(m.Content)
		for _, c := range m.ToolCalls {
			in += len(c.Arguments)
		}
	}
	outLen := len(out.Content)
	for _, c := range out.ToolCalls {
		outLen += len(c.Arguments) + len(c.Name)
	}
	resp := &llm.Response{Message: out, Usage: llm.Usage{InputTokens: in/4 + 1, OutputTokens: outLen/4 + 1}, StopReason: llm.StopEnd}
	if len(out.ToolCalls) > 0 {
		resp.StopReason = llm.StopToolCalls
	}
	return resp, nil
}

func splitWords(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s[1:], " \n")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
