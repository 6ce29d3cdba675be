package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/llm/anthropic"
	"github.com/mgx-dev/mgx/agent/llm/offline"
	"github.com/mgx-dev/mgx/agent/llm/openai"
	"github.com/mgx-dev/mgx/agent/tools"
)

// EventSink stores the run's events; the core's events package implements it on MongoDB
// `events` with contiguous per-session seq.
type EventSink interface {
	Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error
}

// Event types (DESIGN.md "Events").
const (
	EventAgentStart   = "AGENT_START"
	EventPlan         = "PLAN"
	EventMessageDelta = "MESSAGE_DELTA"
	EventMessage      = "MESSAGE"
	EventToolStart    = "TOOL_START"
	EventToolEnd      = "TOOL_END"
	EventFileChanged  = "FILE_CHANGED"
	EventPreviewReady = "PREVIEW_READY"
	EventError        = "ERROR"
	EventFinish       = "FINISH"
)

// FINISH statuses.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimedOut  = "timed_out"
)

// Roles, as the event `role`.
const (
	RoleTeamLeader     = "team_leader"
	RoleProductManager = "product_manager"
	RoleArchitect      = "architect"
	RoleEngineer       = "engineer"
	RoleQAEngineer     = "qa_engineer"
)

// LLMConfig selects the model. The API key never appears in events or logs.
type LLMConfig struct {
	// Provider is openai, anthropic or offline. Default: offline when APIKey and BaseURL are
	// empty, else openai. (MGX_LLM_PROVIDER)
	Provider string
	// BaseURL of the API; default the provider's public endpoint. (MGX_LLM_BASE_URL)
	BaseURL string
	// APIKey (MGX_LLM_API_KEY).
	APIKey string
	// Model; default gpt-4o-mini / claude-sonnet-4-5. (MGX_LLM_MODEL)
	Model string
}

// Config is one agent run. ConfigFromEnv fills it from the container's environment; the
// caller then sets Events (and optionally Runner, Provider, Logger).
type Config struct {
	SessionID   string // SESSION_ID, required
	WorkspaceID string // WORKSPACE_ID
	Framework   string // FRAMEWORK: nextjs | fastapi-react, required
	Prompt      string // PROMPT, required: what the person asked for
	MongoURL    string // MONGODB_URL: where the caller's EventSink writes
	MongoDB     string // MONGODB_DB
	// WorkspaceDir is the app's source tree. Default /workspace. (MGX_WORKSPACE_DIR)
	WorkspaceDir string
	// PreviewURL is the app's dev preview root, for fetch_preview and PREVIEW_READY; empty
	// disables both. (MGX_PREVIEW_URL)
	PreviewURL string
	// ExecURL and ExecToken reach the control plane's command endpoint for this run
	// (tools.RemoteRunner); when ExecURL is empty, commands run in WorkspaceDir on this
	// host. (MGX_EXEC_URL, MGX_EXEC_TOKEN)
	ExecURL   string
	ExecToken string
	// RedisURL, optional, lets the caller's event store wake SSE readers. (MGX_REDIS_URL)
	RedisURL string
	LLM      LLMConfig
	// MaxSteps bounds model calls in the run. Default 150. (MGX_AGENT_MAX_STEPS)
	MaxSteps int
	// MaxTokens bounds input+output tokens in the run. Default 3,000,000. (MGX_AGENT_MAX_TOKENS)
	MaxTokens int
	// Timeout ends the run with FINISH timed_out. Default 30m. (MGX_AGENT_TIMEOUT)
	Timeout time.Duration
	// MaxFixRounds bounds engineer↔QA rounds the team leader is told about. Default 3.
	MaxFixRounds int

	// Events receives every event. Required.
	Events EventSink
	// Runner runs commands in the dev environment; nil runs them in WorkspaceDir.
	Runner tools.CommandRunner
	// Provider overrides the model built from LLM (tests).
	Provider llm.Provider
	// Logger; nil discards.
	Logger *slog.Logger
}

// ConfigFromEnv reads the variables DESIGN.md gives agent containers.
func ConfigFromEnv() (Config, error) {
	c := Config{
		SessionID:    os.Getenv("SESSION_ID"),
		WorkspaceID:  os.Getenv("WORKSPACE_ID"),
		Framework:    os.Getenv("FRAMEWORK"),
		Prompt:       os.Getenv("PROMPT"),
		MongoURL:     os.Getenv("MONGODB_URL"),
		MongoDB:      os.Getenv("MONGODB_DB"),
		WorkspaceDir: os.Getenv("MGX_WORKSPACE_DIR"),
		PreviewURL:   os.Getenv("MGX_PREVIEW_URL"),
		ExecURL:      os.Getenv("MGX_EXEC_URL"),
		ExecToken:    os.Getenv("MGX_EXEC_TOKEN"),
		RedisURL:     os.Getenv("MGX_REDIS_URL"),
		LLM: LLMConfig{
			Provider: os.Getenv("MGX_LLM_PROVIDER"),
			BaseURL:  os.Getenv("MGX_LLM_BASE_URL"),
			APIKey:   os.Getenv("MGX_LLM_API_KEY"),
			Model:    os.Getenv("MGX_LLM_MODEL"),
		},
	}
	var errs []error
	intVar := func(name string, dst *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q is not a positive integer", name, v))
				return
			}
			*dst = n
		}
	}
	intVar("MGX_AGENT_MAX_STEPS", &c.MaxSteps)
	intVar("MGX_AGENT_MAX_TOKENS", &c.MaxTokens)
	if v := os.Getenv("MGX_AGENT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("MGX_AGENT_TIMEOUT=%q is not a positive duration", v))
		}
		c.Timeout = d
	}
	c.setDefaults()
	if err := errors.Join(append(errs, c.validate(false))...); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.WorkspaceDir == "" {
		c.WorkspaceDir = "/workspace"
	}
	if c.LLM.Provider == "" {
		if c.LLM.APIKey == "" && c.LLM.BaseURL == "" {
			c.LLM.Provider = "offline"
		} else {
			c.LLM.Provider = "openai"
		}
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 150
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = 3_000_000
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Minute
	}
	if c.MaxFixRounds <= 0 {
		c.MaxFixRounds = 3
	}
}

// validate reports every problem at once; needSink is false for ConfigFromEnv, whose caller
// sets Events afterwards.
func (c *Config) validate(needSink bool) error {
	var errs []error
	if c.SessionID == "" {
		errs = append(errs, errors.New("SESSION_ID is required"))
	}
	if c.Framework != "nextjs" && c.Framework != "fastapi-react" {
		errs = append(errs, fmt.Errorf("FRAMEWORK=%q must be nextjs or fastapi-react", c.Framework))
	}
	if strings.TrimSpace(c.Prompt) == "" {
		errs = append(errs, errors.New("PROMPT is required"))
	}
	switch c.LLM.Provider {
	case "offline":
	case "openai":
		if c.LLM.APIKey == "" && c.LLM.BaseURL == "" {
			errs = append(errs, errors.New("MGX_LLM_PROVIDER=openai needs MGX_LLM_API_KEY or MGX_LLM_BASE_URL (a local server)"))
		}
	case "anthropic":
		if c.LLM.APIKey == "" {
			errs = append(errs, errors.New("MGX_LLM_PROVIDER=anthropic needs MGX_LLM_API_KEY"))
		}
	default:
		errs = append(errs, fmt.Errorf("MGX_LLM_PROVIDER=%q must be openai, anthropic or offline", c.LLM.Provider))
	}
	if needSink && c.Events == nil {
		errs = append(errs, errors.New("Config.Events is required"))
	}
	return errors.Join(errs...)
}

// NewProvider builds the provider c selects.
func NewProvider(c LLMConfig) (llm.Provider, error) {
	hc := &http.Client{Transport: http.DefaultTransport}
	switch c.Provider {
	case "openai":
		return openai.New(openai.Config{BaseURL: c.BaseURL, APIKey: c.APIKey, Model: c.Model, HTTPClient: hc}), nil
	case "anthropic":
		return anthropic.New(anthropic.Config{BaseURL: c.BaseURL, APIKey: c.APIKey, Model: c.Model, HTTPClient: hc}), nil
	case "offline", "":
		return offline.New(offline.Config{}), nil
	default:
		return nil, fmt.Errorf("unknown LLM provider %q", c.Provider)
	}
}

// modelName is what AGENT_START reports.
func (c LLMConfig) modelName() string {
	switch {
	case c.Model != "":
		return c.Model
	case c.Provider == "openai":
		return "gpt-4o-mini"
	case c.Provider == "anthropic":
		return "claude-sonnet-4-5"
	default:
		return "offline"
	}
}
