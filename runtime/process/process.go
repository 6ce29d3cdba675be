// Package process is the runtime driver that runs workloads as local child processes, for
// machines without Docker. It gives no isolation: it is for a single trusted user.
//
// Each workload runs under a small /bin/sh wrapper in its own process group (killed as a
// group) with stdout and stderr appended to a log file, so it survives an MGX restart and
// Recover finds it again by pid and kernel start time. The wrapper records the exit code in
// a file, so a workload that ended while MGX was down still reports how it ended. Log files
// are bounded: past MaxLogBytes the file is copied to "<name>.log.1" and truncated.
package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/mgx-dev/mgx/runtime"
)

// Config configures the process driver.
type Config struct {
	// StateDir holds log and exit-code files (required), e.g. <data-dir>/process.
	StateDir string
	// MaxLogBytes bounds a workload's log file before it is rotated; default 4 MiB.
	MaxLogBytes int64
	// Logger; default discards.
	Logger *slog.Logger
}

// Driver runs workloads as local process groups.
type Driver struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	procs map[string]*proc  // by handle ID
	ports map[int]time.Time // recently handed-out ports
}

var _ runtime.Driver = (*Driver)(nil)

// proc is a workload known to this driver instance.
type proc struct {
	st    state
	done  chan struct{} // closed when the process has exited
	child *exec.Cmd     // nil when recovered (not our child)
	code  int           // exit code once done (child only)
}

// state is what the Handle carries in State.
type state struct {
	PID       int               `json:"pid"`
	StartTick uint64            `json:"start_tick"` // /proc/<pid>/stat field 22
	LogPath   string            `json:"log_path"`
	ExitPath  string            `json:"exit_path"`
	Dir       string            `json:"dir"`
	Env       map[string]string `json:"env,omitempty"`
	Mounts    []runtime.Mount   `json:"mounts,omitempty"`
}

// New returns a process driver.
func New(cfg Config) (*Driver, error) {
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("process: StateDir is required")
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = 4 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("process: state dir: %w", err)
	}
	return &Driver{cfg: cfg, log: cfg.Logger, procs: map[string]*proc{}, ports: map[int]time.Time{}}, nil
}

// Name implements runtime.Driver.
func (d *Driver) Name() string { return "process" }

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// Start implements runtime.Driver.
func (d *Driver) Start(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error) {
	if !nameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("%w: name %q", runtime.ErrInvalidSpec, spec.Name)
	}
	if len(spec.Command) == 0 {
		return nil, fmt.Errorf("%w: the process driver needs a command", runtime.ErrInvalidSpec)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.procs {
		if p.st.LogPath == d.logPath(spec.Name) && !isDone(p.done) {
			return nil, fmt.Errorf("start %s: %w", spec.Name, runtime.ErrConflict)
		}
	}

	dir := hostPath(spec.Dir, spec.Mounts)
	if dir == "" {
		dir = d.cfg.StateDir
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: working directory %s does not exist", runtime.ErrInvalidSpec, dir)
	}
	env := map[string]string{}
	for k, v := range spec.Env {
		env[k] = v
	}
	var ports []runtime.PortBinding
	for i, cp := range spec.Ports {
		hp, err := d.freePort()
		if err != nil {
			return nil, fmt.Errorf("start %s: pick port: %w", spec.Name, err)
		}
		if i == 0 {
			env["PORT"] = strconv.Itoa(hp)
		}
		ports = append(ports, runtime.PortBinding{ContainerPort: cp, HostAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(hp))})
	}

	st := state{LogPath: d.logPath(spec.Name), ExitPath: d.logPath(spec.Name) + ".exit", Dir: dir, Env: env, Mounts: spec.Mounts}
	_ = os.Remove(st.ExitPath)
	logf, err := os.OpenFile(st.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: log file: %w", spec.Name, err)
	}
	defer logf.Close()

	// The wrapper stays the group leader and records the exit code, which so survives our
	// restart. It outlives SIGTERM (sent to the whole group) to record the command's
	// answer to it; a handler, unlike an ignored signal, is not inherited by the command.
	argv := append([]string{"-c", `f=$1; shift; trap : TERM INT; "$@"; c=$?; echo $c >"$f"; exit $c`, "mgx-run", st.ExitPath}, spec.Command...)
	cmd := exec.Command("/bin/sh", argv...)
	cmd.Dir = dir
	cmd.Env = mergeEnv(HostEnv(), env)
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	st.PID = cmd.Process.Pid
	st.StartTick, _ = startTick(st.PID)
	raw, _ := json.Marshal(st)
	h := &runtime.Handle{
		Driver: d.Name(), ID: fmt.Sprintf("%d-%d", st.PID, st.StartTick), Name: spec.Name,
		Ports: ports, Labels: spec.Labels, StartedAt: time.Now().UTC(), State: raw,
	}
	p := &proc{st: st, done: make(chan struct{}), child: cmd}
	d.procs[h.ID] = p
	go func() {
		err := cmd.Wait()
		p.code = exitCode(cmd.ProcessState, err)
		close(p.done)
	}()
	go d.rotate(p)
	d.log.InfoContext(ctx, "process started", "name", spec.Name, "pid", st.PID)
	return h, nil
}

func (d *Driver) logPath(name string) string { return filepath.Join(d.cfg.StateDir, name+".log") }

// Recover implements runtime.Driver.
func (d *Driver) Recover(ctx context.Context, h *runtime.Handle) error {
	_, err := d.get(h)
	return err
}

// get returns the proc for h, re-attaching to it when this driver instance did not start it.
func (d *Driver) get(h *runtime.Handle) (*proc, error) {
	if h == nil || h.Driver != d.Name() {
		return nil, fmt.Errorf("%w: not a process handle", runtime.ErrNotFound)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.procs[h.ID]; ok {
		return p, nil
	}
	var st state
	if err := json.Unmarshal(h.State, &st); err != nil || st.PID <= 0 {
		return nil, fmt.Errorf("%w: handle %s has no process state", runtime.ErrNotFound, h.ID)
	}
	if st.LogPath == "" || filepath.Dir(st.LogPath) != filepath.Clean(d.cfg.StateDir) {
		return nil, fmt.Errorf("%w: handle %s belongs to another state dir", runtime.ErrNotFound, h.ID)
	}
	p := &proc{st: st, done: make(chan struct{})}
	alive := false
	if tick, err := startTick(st.PID); err == nil && tick == st.StartTick {
		alive = true
	}
	if !alive {
		if _, err := os.Stat(st.LogPath); err != nil {
			return nil, fmt.Errorf("%w: process %s is gone", runtime.ErrNotFound, h.ID)
		}
		close(p.done)
	} else {
		go func() {
			for {
				if tick, err := startTick(st.PID); err != nil || tick != st.StartTick {
					close(p.done)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		go d.rotate(p)
	}
	d.procs[h.ID] = p
	return p, nil
}

// Wait implements runtime.Driver.
func (d *Driver) Wait(ctx context.Context, h *runtime.Handle) (runtime.ExitResult, error) {
	p, err := d.get(h)
	if err != nil {
		return runtime.ExitResult{}, err
	}
	select {
	case <-ctx.Done():
		return runtime.ExitResult{}, ctx.Err()
	case <-p.done:
	}
	return runtime.ExitResult{ExitCode: p.exitCode()}, nil
}

func (p *proc) exitCode() int {
	if p.child != nil {
		return p.code
	}
	b, err := os.ReadFile(p.st.ExitPath)
	if err != nil {
		return -1 // killed by a signal while we were not its parent
	}
	c, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return c
}

// Stop implements runtime.Driver.
func (d *Driver) Stop(ctx context.Context, h *runtime.Handle, timeout time.Duration) error {
	p, err := d.get(h)
	if err != nil {
		return err
	}
	if isDone(p.done) {
		return nil
	}
	_ = syscall.Kill(-p.st.PID, syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	// Kill whatever is left of the group, even when the leader exited gracefully.
	_ = syscall.Kill(-p.st.PID, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("stop %s: process group %d did not exit", h.Name, p.st.PID)
	}
}

// Remove implements runtime.Driver.
func (d *Driver) Remove(ctx context.Context, h *runtime.Handle) error {
	p, err := d.get(h)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := d.Stop(ctx, h, 0); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.procs, h.ID)
	d.mu.Unlock()
	for _, f := range []string{p.st.LogPath, p.st.LogPath + ".1", p.st.ExitPath} {
		_ = os.Remove(f)
	}
	return nil
}

// Inspect implements runtime.Driver.
func (d *Driver) Inspect(ctx context.Context, h *runtime.Handle) (runtime.Status, error) {
	p, err := d.get(h)
	if err != nil {
		return runtime.Status{}, err
	}
	s := runtime.Status{State: runtime.StateRunning, StartedAt: h.StartedAt}
	if isDone(p.done) {
		s.State = runtime.StateExited
		s.ExitCode = p.exitCode()
		if fi, err := os.Stat(p.st.ExitPath); err == nil {
			s.FinishedAt = fi.ModTime().UTC()
		}
	}
	return s, nil
}

// Logs implements runtime.Driver. The log file has no timestamps: Since only tells
// whether anything was written after it (by the file's modification time).
func (d *Driver) Logs(ctx context.Context, h *runtime.Handle, opts runtime.LogOptions) (io.ReadCloser, error) {
	p, err := d.get(h)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p.st.LogPath)
	if err != nil {
		return nil, fmt.Errorf("logs %s: %w", h.Name, err)
	}
	if fi, err := f.Stat(); err == nil && !opts.Since.IsZero() && !fi.ModTime().After(opts.Since) {
		// No timestamps per line: nothing was written after Since, so skip what is there.
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, fmt.Errorf("logs %s: %w", h.Name, err)
		}
	} else if opts.Tail > 0 {
		if err := seekTail(f, opts.Tail); err != nil {
			f.Close()
			return nil, fmt.Errorf("logs %s: %w", h.Name, err)
		}
	}
	if !opts.Follow {
		return f, nil
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		pw.CloseWithError(follow(ctx, f, pw, p.done))
	}()
	return pr, nil
}

// follow copies f to w as it grows, until done is closed and f is drained, or ctx ends.
func follow(ctx context.Context, f *os.File, w io.Writer, done <-chan struct{}) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		// At EOF: the file may have been truncated by rotation.
		if off, _ := f.Seek(0, io.SeekCurrent); off > 0 {
			if fi, err := f.Stat(); err == nil && fi.Size() < off {
				_, _ = f.Seek(0, io.SeekStart)
				continue
			}
		}
		if isDone(done) {
			// One last read for output written just before the exit.
			if n, _ := f.Read(buf); n > 0 {
				if _, err := w.Write(buf[:n]); err != nil {
					return err
				}
				continue
			}
			return io.EOF
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	const chunk = 32 << 10
	off := size
	lines := 0
	buf := make([]byte, chunk)
	// A final newline ends the last line rather than starting an empty one.
	trailing := true
	for off > 0 {
		rd := int64(chunk)
		if off < rd {
			rd = off
		}
		off -= rd
		if _, err := f.ReadAt(buf[:rd], off); err != nil && err != io.EOF {
			return err
		}
		for i := rd - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				trailing = false
				continue
			}
			if trailing {
				trailing = false
				continue
			}
			lines++
			if lines == n {
				_, err := f.Seek(off+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

// rotate bounds the log file while the process runs (copy to .1, then truncate; the
// process writes with O_APPEND, so it goes on at the new end).
func (d *Driver) rotate(p *proc) {
	for {
		select {
		case <-p.done:
			return
		case <-time.After(time.Second):
		}
		fi, err := os.Stat(p.st.LogPath)
		if err != nil || fi.Size() <= d.cfg.MaxLogBytes {
			continue
		}
		if err := copyFile(p.st.LogPath, p.st.LogPath+".1"); err != nil {
			d.log.Warn("rotate log", "path", p.st.LogPath, "err", err)
			continue
		}
		_ = os.Truncate(p.st.LogPath, 0)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Exec implements runtime.Driver: the command runs on the host in the workload's
// directory with its environment.
func (d *Driver) Exec(ctx context.Context, h *runtime.Handle, opts runtime.ExecOptions) (int, error) {
	p, err := d.get(h)
	if err != nil {
		return -1, err
	}
	if isDone(p.done) {
		return -1, fmt.Errorf("exec in %s: %w", h.Name, runtime.ErrNotRunning)
	}
	if len(opts.Command) == 0 {
		return -1, fmt.Errorf("%w: exec needs a command", runtime.ErrInvalidSpec)
	}
	cmd := exec.CommandContext(ctx, opts.Command[0], opts.Command[1:]...)
	cmd.Dir = p.st.Dir
	if opts.Dir != "" {
		cmd.Dir = hostPath(opts.Dir, p.st.Mounts)
	}
	env := map[string]string{}
	for k, v := range p.st.Env {
		env[k] = v
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cmd.Env = mergeEnv(HostEnv(), env)
	if !opts.TTY {
		cmd.Stdout, cmd.Stderr = opts.Stdout, opts.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		// Output is drained by Wait; input is not awaited: a client that never closes its
		// stdin (an SSH exec request) must not keep a finished command from returning.
		var stdin io.WriteCloser
		if opts.Stdin != nil {
			if stdin, err = cmd.StdinPipe(); err != nil {
				return -1, fmt.Errorf("exec in %s: %w", h.Name, err)
			}
		}
		if err := cmd.Start(); err != nil {
			return -1, fmt.Errorf("exec in %s: %w", h.Name, err)
		}
		if stdin != nil {
			go func() {
				_, _ = io.Copy(stdin, opts.Stdin)
				stdin.Close()
			}()
		}
		err := cmd.Wait()
		return exitCode(cmd.ProcessState, err), ignoreExit(err)
	}
	size := opts.Size
	if size.Rows == 0 || size.Cols == 0 {
		size = runtime.TermSize{Rows: 24, Cols: 80}
	}
	if env["TERM"] == "" {
		cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	}
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: size.Rows, Cols: size.Cols})
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", h.Name, err)
	}
	defer tty.Close()
	stop := make(chan struct{})
	var resizing sync.WaitGroup
	defer func() {
		close(stop)
		resizing.Wait() // Setsize uses the descriptor: not after Close
	}()
	if opts.Resize != nil {
		resizing.Add(1)
		go func() {
			defer resizing.Done()
			for {
				select {
				case <-stop:
					return
				case s, ok := <-opts.Resize:
					if !ok {
						return
					}
					_ = pty.Setsize(tty, &pty.Winsize{Rows: s.Rows, Cols: s.Cols})
				}
			}
		}()
	}
	if opts.Stdin != nil {
		go func() { _, _ = io.Copy(tty, opts.Stdin) }()
	}
	out := opts.Stdout
	if out == nil {
		out = io.Discard
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, tty) // ends with EIO once the command and its children exit
		close(copied)
	}()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(2 * time.Second): // a background child keeps the pty open
	}
	return exitCode(cmd.ProcessState, err), ignoreExit(err)
}

func ignoreExit(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// hostPath maps a path inside the workload onto the host through the mounts; a path no
// mount covers is taken as a host path.
func hostPath(p string, mounts []runtime.Mount) string {
	if p == "" {
		return ""
	}
	p = filepath.Clean(p)
	best := -1
	for i, m := range mounts {
		t := filepath.Clean(m.Target)
		if (p == t || strings.HasPrefix(p, t+"/")) && (best < 0 || len(t) > len(filepath.Clean(mounts[best].Target))) {
			best = i
		}
	}
	if best < 0 {
		return p
	}
	rel := strings.TrimPrefix(p, filepath.Clean(mounts[best].Target))
	return filepath.Join(mounts[best].Source, rel)
}

func mergeEnv(base []string, add map[string]string) []string {
	out := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := add[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range add {
		out = append(out, k+"="+v)
	}
	return out
}

// freePort asks the kernel for a free loopback port. The port is free only until the
// workload binds it, so ports handed out in the last minute are not handed out again
// (two services starting together would otherwise race for one). Callers hold d.mu.
func (d *Driver) freePort() (int, error) {
	now := time.Now()
	for p, at := range d.ports {
		if now.Sub(at) > time.Minute {
			delete(d.ports, p)
		}
	}
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := d.ports[port]; !taken {
			d.ports[port] = now
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

// startTick reads the process start time (clock ticks since boot) from /proc, which tells a
// live process from a later one that reused its pid. Zombies count as gone.
func startTick(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat for %d", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("bad stat for %d", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// HostEnv is the environment workloads inherit from MGX: the host's, without MGX's own
// settings (MGX_ADMIN_PASSWORD, MGX_LLM_API_KEY, ...), which no app or dev server may
// read from /proc. What a workload needs is given to it in its Spec.
func HostEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "MGX_") {
			out = append(out, kv)
		}
	}
	return out
}
