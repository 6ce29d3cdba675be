package offline_test

import (
	"context"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/llm/llmtest"
	"github.com/mgx-dev/mgx/agent/llm/offline"
)

// The conformance suite drives the offline provider's plumbing (streaming, tool calls,
// usage, cancellation) with the scripted model as its brain.
func TestConformance(t *testing.T) {
	llmtest.RunTests(t, func(t *testing.T, m llmtest.Model) llm.Provider {
		return offline.New(offline.Config{Brain: offline.BrainFunc(func(ctx context.Context, req llm.Request) (llm.Message, error) {
			turn := m(req)
			if turn.Delay > 0 {
				tm := time.NewTimer(turn.Delay)
				defer tm.Stop()
				select {
				case <-ctx.Done():
					return llm.Message{}, ctx.Err()
				case <-tm.C:
				}
			}
			return llm.Message{Role: llm.RoleAssistant, Content: turn.Text, ToolCalls: turn.ToolCalls}, nil
		})})
	})
}
