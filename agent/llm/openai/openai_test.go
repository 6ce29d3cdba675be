package openai_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/llm/llmtest"
	"github.com/mgx-dev/mgx/agent/llm/openai"
)

const key = "sk-test-not-a-real-key"

func TestConformance(t *testing.T) {
	llmtest.RunTests(t, func(t *testing.T, m llmtest.Model) llm.Provider {
		srv := llmtest.NewOpenAIServer(t, m, key)
		return openai.New(openai.Config{BaseURL: srv.URL + "/v1", APIKey: key, Model: "test-model",
			Retry: llm.RetryPolicy{MaxAttempts: 3, Base: 10 * time.Millisecond}})
	}, llmtest.Wire())
}

func TestWrongKeyIsAuthErrorWithoutKeyInMessage(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.NewScript().Model(), key)
	c := openai.New(openai.Config{BaseURL: srv.URL + "/v1", APIKey: "sk-wrong-secret"})
	_, err := c.Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "Incorrect API key") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "sk-wrong-secret") {
		t.Fatalf("error leaks the key: %v", err)
	}
}
