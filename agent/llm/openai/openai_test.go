package openai_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
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

// A server that rejects stream_options (older vLLM, some proxies) still gets served.
func TestServerWithoutStreamOptions(t *testing.T) {
	inner := llmtest.NewOpenAIServer(t, llmtest.NewScript(llmtest.Turn{Text: "fine"}).Model(), "")
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "stream_options") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"unknown field stream_options"}}`))
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, inner.URL+r.URL.Path, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		io.Copy(w, resp.Body)
	}))
	defer srv.Close()
	c := openai.New(openai.Config{BaseURL: srv.URL + "/v1"})
	resp, err := c.Chat(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}}, nil)
	if err != nil || resp.Message.Content != "fine" || calls != 2 {
		t.Fatalf("resp=%+v err=%v calls=%d", resp, err, calls)
	}
}
