// Package execapi is the control plane's command endpoint for agents: an agent runs a
// command (npm install, npm test, pytest, a build) in its app's dev environment — the
// devenv shell workload beside the dev servers, a container with the docker runtime —
// instead of inside its own container. Agents have no Docker socket; each agent start gets
// a token scoped to its run (Tokens, issued through the scheduler's RunEnv hook) and the
// endpoint's URL, and tools.RemoteRunner in the agent speaks the contract:
//
//	POST /api/internal/exec   Authorization: Bearer <run token>
//	{"command": "npm test", "dir": "frontend", "timeout_seconds": 600}
//	→ 200 {"exit_code": 1, "output": "…", "duration_ms": 5123, "timed_out": false}
//
// A non-zero exit is a 200 result. Errors are the one JSON error shape: 400 for a bad
// body, a missing command or a dir leaving the workspace, 401 for a missing, unknown or
// expired token or one whose run is over, 404 when the app is gone, 503 when its dev
// environment cannot start. Only the run token authenticates this endpoint; user OAuth
// tokens are not accepted.
package execapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/agent/tools"
	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/store"
)

// Path is where the endpoint is mounted. It is under /api/ (so the gateway routes it to
// the control plane) but is mounted on the platform's top-level mux with a more specific
// pattern, in front of the OAuth middleware that guards the rest of /api/.
const Path = "/api/internal/exec"

// Shells runs commands in an app's dev environment (devenv.Manager has it). Unknown apps
// are errors wrapping devenv.ErrNotFound or store.ErrNotFound.
type Shells interface {
	Exec(ctx context.Context, slug string, opts runtime.ExecOptions) (int, error)
}

// Runs reads agent runs (scheduler.Runs has it); unknown runs wrap store.ErrNotFound.
type Runs interface {
	Get(ctx context.Context, id string) (*scheduler.Run, error)
}

var (
	_ Shells = (*devenv.Manager)(nil)
	_ Runs   = (*scheduler.Runs)(nil)
)

// Handler serves Path.
type Handler struct {
	// Tokens checks the bearer token. Required.
	Tokens *Tokens
	// Runs tells whether a token's run is still going. Required.
	Runs Runs
	// Shells runs the commands. Required.
	Shells Shells
	// DefaultTimeout applies when a request gives none; default 10m.
	DefaultTimeout time.Duration
	// MaxTimeout caps a request's timeout_seconds; default 30m.
	MaxTimeout time.Duration
	// MaxOutput caps the returned output (its head and tail); default 16 KiB, as
	// tools.LocalRunner keeps.
	MaxOutput int
	// Logger; nil discards.
	Logger *slog.Logger
}

// Mount registers POST Path.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+Path, h.exec)
}

// Request is the body of POST Path.
type Request struct {
	// Command is run by /bin/sh -c. Required.
	Command string `json:"command"`
	// Dir is relative to the workspace (/workspace); "" is its root.
	Dir string `json:"dir"`
	// TimeoutSeconds bounds the command; 0 means the default (10 min), at most 30 min.
	TimeoutSeconds int `json:"timeout_seconds"`
}

// Result is the answer of POST Path.
type Result struct {
	ExitCode   int    `json:"exit_code"`
	Output     string `json:"output"`
	DurationMS int64  `json:"duration_ms"`
	TimedOut   bool   `json:"timed_out"`
}

const (
	maxBody = 64 << 10
	// backstop is how much longer than the command's timeout the call itself may take.
	backstop = 15 * time.Second
)

// wrapper is the shell script every command runs in. It enters the requested folder (a
// missing folder is an ordinary failed command) and drops the dev servers'
// NODE_ENV=development (`next build` breaks under it; npm test and the other tools set
// their own, as in the agent's own environment). It runs the command under GNU timeout,
// which signals the command's whole process group at the deadline: a docker exec
// outlives a cancelled API call, so the deadline must be enforced inside the environment;
// a command that ignores SIGTERM gets SIGKILL 5 s later. Images without timeout run the
// command as it is, bounded only by the call. Arguments: $1 dir, $2 seconds, $3 command.
const wrapper = `cd -- "$1" || exit 1
unset NODE_ENV
if command -v timeout >/dev/null 2>&1; then
  exec timeout -k 5 "$2" /bin/sh -c "$3"
fi
exec /bin/sh -c "$3"`

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) exec(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := h.log()
	grant, run, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	var req Request
	if err := httpjson.Decode(w, r, &req, maxBody); err != nil {
		return
	}
	if strings.TrimSpace(req.Command) == "" {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "command is required")
		return
	}
	if strings.ContainsRune(req.Command, 0) || strings.ContainsRune(req.Dir, 0) {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "command and dir must not contain NUL bytes")
		return
	}
	dir, err := tools.Clean(req.Dir)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("dir %q: must be a folder inside the workspace (relative, no ..)", req.Dir))
		return
	}
	timeout := h.timeout(req.TimeoutSeconds)
	slug := run.AppSlug
	if slug == "" {
		slug = grant.Slug
	}

	out := newCapture(h.maxOutput())
	cctx, cancel := context.WithTimeout(ctx, timeout+backstop)
	defer cancel()
	start := time.Now()
	code, err := h.Shells.Exec(cctx, slug, runtime.ExecOptions{
		Command: []string{"/bin/sh", "-c", wrapper, "mgx-exec", dir, strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64), req.Command},
		Dir:     "/workspace",
		Env:     map[string]string{"CI": "1", "NO_COLOR": "1", "NEXT_TELEMETRY_DISABLED": "1"},
		Stdout:  out, Stderr: out,
	})
	elapsed := time.Since(start)
	res := Result{ExitCode: code, DurationMS: elapsed.Milliseconds()}
	attrs := []any{"run", grant.RunID, "session", grant.SessionID, "app", slug, "dir", dir, "command", tools.Trim(req.Command, 200)}
	switch {
	case err == nil:
		// GNU timeout answers 124 (or 128+KILL) when it had to stop the command.
		res.TimedOut = elapsed >= timeout && (code == 124 || code == 128+9)
	case cctx.Err() != nil && ctx.Err() == nil:
		res.TimedOut, res.ExitCode = true, -1
	case ctx.Err() != nil:
		log.InfoContext(ctx, "exec: the agent went away", append(attrs, "err", err)...)
		return
	case errors.Is(err, devenv.ErrNotFound) || errors.Is(err, store.ErrNotFound):
		log.InfoContext(ctx, "exec: app not found", attrs...)
		httpjson.Error(w, http.StatusNotFound, "not_found", fmt.Sprintf("the app %q no longer exists", slug))
		return
	default:
		log.WarnContext(ctx, "exec: dev environment unavailable", append(attrs, "err", err)...)
		httpjson.Error(w, http.StatusServiceUnavailable, "dev_environment_unavailable",
			"the dev environment cannot run commands: "+err.Error())
		return
	}
	res.Output = out.String()
	log.InfoContext(ctx, "exec", append(attrs, "exit_code", res.ExitCode, "timed_out", res.TimedOut, "duration_ms", res.DurationMS)...)
	httpjson.Write(w, http.StatusOK, res)
}

// authenticate accepts only a valid run token whose run attempt is still going; every
// refusal is the same 401, the reason only logged.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (Grant, *scheduler.Run, bool) {
	ctx := r.Context()
	refuse := func(reason string) (Grant, *scheduler.Run, bool) {
		h.log().InfoContext(ctx, "exec: token refused", "reason", reason)
		w.Header().Set("WWW-Authenticate", `Bearer realm="mgx-exec", error="invalid_token"`)
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "a valid run token is required")
		return Grant{}, nil, false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return refuse("no bearer token")
	}
	g, err := h.Tokens.Lookup(ctx, strings.TrimSpace(tok))
	if errors.Is(err, ErrInvalidToken) {
		return refuse("unknown or expired token")
	}
	if err != nil {
		h.log().ErrorContext(ctx, "exec: token lookup", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "the token could not be checked")
		return Grant{}, nil, false
	}
	run, err := h.Runs.Get(ctx, g.RunID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = h.Tokens.Revoke(ctx, g.RunID)
		return refuse("run " + g.RunID + " is gone")
	case err != nil:
		h.log().ErrorContext(ctx, "exec: run lookup", "run", g.RunID, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "the token could not be checked")
		return Grant{}, nil, false
	case scheduler.Final(run.State):
		_ = h.Tokens.Revoke(ctx, g.RunID)
		return refuse("run " + g.RunID + " is over: " + run.State)
	case run.State != scheduler.StateRunning || run.Attempts != g.Attempt:
		return refuse(fmt.Sprintf("run %s is %s at attempt %d, the token is of attempt %d", g.RunID, run.State, run.Attempts, g.Attempt))
	case run.CancelRequested:
		return refuse("run " + g.RunID + " is being cancelled")
	}
	return g, run, true
}

func (h *Handler) timeout(seconds int) time.Duration {
	def, max := h.DefaultTimeout, h.MaxTimeout
	if def <= 0 {
		def = 10 * time.Minute
	}
	if max <= 0 {
		max = 30 * time.Minute
	}
	d := time.Duration(seconds) * time.Second
	if seconds <= 0 {
		d = def
	}
	return min(d, max)
}

func (h *Handler) maxOutput() int {
	if h.MaxOutput > 0 {
		return h.MaxOutput
	}
	return 16 << 10
}
