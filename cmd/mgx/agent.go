package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/agent"
	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/store"
)

const agentHelp = `Usage: mgx agent

Runs the agent team for one session, as the scheduler starts it inside an agent
container (or as a child process with the process runtime). It reads its job from the
environment: SESSION_ID, WORKSPACE_ID, FRAMEWORK, PROMPT, MONGODB_URL, MONGODB_DB,
REDIS_URL (optional: wakes event listeners), MGX_WORKSPACE_DIR (default /workspace),
MGX_PREVIEW_URL, MGX_LLM_PROVIDER, MGX_LLM_BASE_URL, MGX_LLM_API_KEY, MGX_LLM_MODEL,
MGX_AGENT_MAX_STEPS, MGX_AGENT_MAX_TOKENS, MGX_AGENT_TIMEOUT. Events go to MongoDB.
`

func runAgent(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, agentHelp)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "mgx agent: takes no arguments; see 'mgx agent --help'\n")
		return 2
	}
	cfg, err := agent.ConfigFromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "mgx agent: %v\n", err)
		return 2
	}
	if cfg.MongoURL == "" {
		fmt.Fprintln(stderr, "mgx agent: MONGODB_URL is required: events are written there")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	db := cfg.MongoDB
	if db == "" {
		db = "mgx"
	}
	st, err := store.Open(ctx, store.Config{URI: cfg.MongoURL, Database: db})
	if err != nil {
		fmt.Fprintf(stderr, "mgx agent: %v\n", err)
		return 1
	}
	defer st.Close(context.Background())
	var rdb *redis.Client
	if u := getenv("REDIS_URL"); u != "" {
		if opt, err := redis.ParseURL(u); err == nil {
			rdb = redis.NewClient(opt)
			defer rdb.Close()
		}
	}
	if rdb != nil {
		cfg.Events = events.NewStore(st.DB(), rdb)
	} else {
		cfg.Events = events.NewStore(st.DB(), nil)
	}
	cfg.Logger = newLogger(stderr, "info")
	start := time.Now()
	if err := agent.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "mgx agent: %v (after %s)\n", err, time.Since(start).Round(time.Millisecond))
		return 1
	}
	return 0
}
