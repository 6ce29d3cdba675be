package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Command is a shell command line to run in the app's dev environment.
type Command struct {
	// Line is run by /bin/sh -c.
	Line string
	// Dir is workspace-relative; "" is the workspace root.
	Dir string
	// Timeout bounds the command; 0 means the runner's default.
	Timeout time.Duration
}

// CommandResult is what a command did. Output is stdout and stderr interleaved, trimmed to
// its head and tail when long.
type CommandResult struct {
	ExitCode int
	Output   string
	Duration time.Duration
	TimedOut bool
}

// CommandRunner runs commands in the dev environment. The control plane implements it with a
// token scoped to the agent's run (the agent has no Docker socket); LocalRunner runs them in
// the workspace directory itself.
type CommandRunner interface {
	Run(ctx context.Context, cmd Command) (CommandResult, error)
}

// LocalRunner runs commands as child processes in Dir (the workspace on this host).
type LocalRunner struct {
	Dir string
	// Env is added to the process environment (PORT, BASE_PATH, ...).
	Env []string
	// DefaultTimeout applies when a Command has none; default 10 minutes.
	DefaultTimeout time.Duration
	// MaxOutput caps the kept output; default 16 KiB (head and tail).
	MaxOutput int
}

var _ CommandRunner = (*LocalRunner)(nil)

// Run implements CommandRunner. A non-zero exit is a result, not an error.
func (r *LocalRunner) Run(ctx context.Context, c Command) (CommandResult, error) {
	dir := r.Dir
	if c.Dir != "" {
		rel, err := Clean(c.Dir)
		if err != nil {
			return CommandResult{}, err
		}
		dir = filepath.Join(r.Dir, filepath.FromSlash(rel))
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = r.DefaultTimeout
	}
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.Line)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CI=1", "NO_COLOR=1", "NEXT_TELEMETRY_DISABLED=1"), r.Env...)
	// Own process group, so a timeout kills the dev server or test runner with its children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	res := CommandResult{Duration: time.Since(start), Output: Trim(out.String(), r.maxOutput())}
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.TimedOut, res.ExitCode = true, -1
	case ctx.Err() != nil:
		return res, ctx.Err()
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	case err != nil:
		return res, fmt.Errorf("run %q: %w", c.Line, err)
	}
	return res, nil
}

func (r *LocalRunner) maxOutput() int {
	if r.MaxOutput > 0 {
		return r.MaxOutput
	}
	return 16 << 10
}

// Trim keeps the head and the tail of s within max bytes; errors are usually at the end.
func Trim(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head := max / 4
	tail := max - head
	return s[:head] + fmt.Sprintf("\n… (%d bytes omitted) …\n", len(s)-max) + s[len(s)-tail:]
}

// describe formats a result for the model.
func describe(c Command, r CommandResult) string {
	var b strings.Builder
	switch {
	case r.TimedOut:
		fmt.Fprintf(&b, "$ %s\ntimed out after %s\n", c.Line, r.Duration.Round(time.Second))
	default:
		fmt.Fprintf(&b, "$ %s\nexit code %d (%s)\n", c.Line, r.ExitCode, r.Duration.Round(time.Millisecond))
	}
	b.WriteString(r.Output)
	return b.String()
}
