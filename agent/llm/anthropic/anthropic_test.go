package anthropic_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/llm/anthropic"
	"github.com/mgx-dev/mgx/agent/llm/llmtest"
)

const key = "sk-ant-test-not-a-real-key"

func TestConformance(t *testing.T) {
	llmtest.RunTests(t, func(t *testing.T, m llmtest.Model) llm.Provider {
		srv := llmtest.NewAnthropicServer(t, m, key)
		return anthropic.New(anthropic.Config{BaseURL: srv.URL, APIKey: key, Model: "test-model",
			Retry: llm.RetryPolicy{MaxAttempts: 3, Base: 10 * time.Millisecond}})
	}, llmtest.Wire())
}

func TestWrongKey(t *testing.T) {
	srv := llmtest.NewAnthropicServer(t, llmtest.NewScript().Model(), key)
	c := anthropic.New(anthropic.Config{BaseURL: srv.URL, APIKey: "nope"})
	_, err := c.Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}, nil)
	if !errors.Is(err, llm.ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
}
