package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// RemoteRunner runs commands in the app's dev environment through the control plane: the
// agent container has no Docker socket, only a token scoped to its run. The control plane
// serves the contract at /api/internal/exec (package execapi) and runs each command with
// sh -c in the devenv shell workload of the run's app (the dev container with the docker
// runtime); the scheduler gives every agent start MGX_EXEC_URL and a fresh MGX_EXEC_TOKEN.
//
// Contract:
//
//	POST <URL>   Authorization: Bearer <Token>
//	{"command": "npm test", "dir": "frontend", "timeout_seconds": 600}
//	→ 200 {"exit_code": 1, "output": "…", "duration_ms": 5123, "timed_out": false}
//
// Any other status is an error; its JSON error message is passed on. The token is not
// in the command's environment: it stays with the agent.
type RemoteRunner struct {
	URL   string
	Token string
	// HTTPClient defaults to one without overall timeout; the command's timeout (plus a
	// margin) bounds each call.
	HTTPClient *http.Client
}

var _ CommandRunner = (*RemoteRunner)(nil)

// Run implements CommandRunner.
func (r *RemoteRunner) Run(ctx context.Context, c Command) (CommandResult, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"command": c.Line, "dir": c.Dir, "timeout_seconds": int(timeout.Seconds())})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return CommandResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.Token)
	client := r.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return CommandResult{}, fmt.Errorf("run %q in the dev environment: %w", c.Line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return CommandResult{}, fmt.Errorf("run %q in the dev environment: status %d: %s", c.Line, resp.StatusCode, Trim(msg, 500))
	}
	var out struct {
		ExitCode   int    `json:"exit_code"`
		Output     string `json:"output"`
		DurationMS int64  `json:"duration_ms"`
		TimedOut   bool   `json:"timed_out"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return CommandResult{}, fmt.Errorf("run %q in the dev environment: decode answer: %w", c.Line, err)
	}
	return CommandResult{ExitCode: out.ExitCode, Output: Trim(out.Output, 16<<10), TimedOut: out.TimedOut,
		Duration: time.Duration(out.DurationMS) * time.Millisecond}, nil
}
