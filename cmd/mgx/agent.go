package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/mgx-dev/mgx/agent"
)

const agentHelp = `Usage: mgx agent

Runs the agent team for one session, as the scheduler starts it inside an agent
container (or as a child process with the process runtime). It reads its job from the
environment: SESSION_ID, WORKSPACE_ID, FRAMEWORK, PROMPT, MONGODB_URL, MONGODB_DB,
MGX_REDIS_URL (optional: wakes event listeners), MGX_WORKSPACE_DIR (default /workspace),
MGX_PREVIEW_URL, MGX_LLM_PROVIDER, MGX_LLM_BASE_URL, MGX_LLM_API_KEY, MGX_LLM_MODEL,
MGX_AGENT_MAX_STEPS, MGX_AGENT_MAX_TOKENS, MGX_AGENT_TIMEOUT. Events go to MongoDB.
`

func runAgent(args []string, stdout, stderr io.Writer, _ func(string) string) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, agentHelp)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "mgx agent: takes no arguments; see 'mgx agent --help'\n")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := agent.RunFromEnv(ctx, newLogger(stderr, "info")); err != nil {
		fmt.Fprintf(stderr, "mgx agent: %v (after %s)\n", err, time.Since(start).Round(time.Millisecond))
		return 1
	}
	return 0
}
