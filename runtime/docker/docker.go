// Package docker is the runtime driver on the Docker Engine API.
//
// Every container is hardened the same way: no Docker socket is ever mounted,
// no-new-privileges, all capabilities dropped (Spec.CapAdd names the few kept), memory (swap
// included), CPU and pids limits, an init process, bounded json-file logs, ports published
// on 127.0.0.1 only, host.docker.internal mapped to the host gateway, and labels naming the
// workload (mgx.managed=1 plus the Spec's).
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/mgx-dev/mgx/runtime"
)

// LabelManaged marks every container MGX creates.
const LabelManaged = "mgx.managed"

// Config configures the docker driver.
type Config struct {
	// Host is the Engine address, e.g. unix:///var/run/docker.sock; default: DOCKER_HOST or
	// the local socket.
	Host string
	// PullMissing pulls an image that is not present (production hosts with public images);
	// default false: a missing image is runtime.ErrImageNotFound.
	PullMissing bool
	// LogMaxSize and LogMaxFiles bound each container's json-file log; default "10m" and 2.
	LogMaxSize  string
	LogMaxFiles int
	// Logger; default discards.
	Logger *slog.Logger
}

// Driver runs workloads as Docker containers.
type Driver struct {
	cfg Config
	cli *client.Client
	log *slog.Logger
}

var (
	_ runtime.Driver = (*Driver)(nil)
	_ runtime.Lister = (*Driver)(nil)
)

// New returns a docker driver; it does not contact the Engine (see Ping).
func New(cfg Config) (*Driver, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	if cfg.LogMaxSize == "" {
		cfg.LogMaxSize = "10m"
	}
	if cfg.LogMaxFiles <= 0 {
		cfg.LogMaxFiles = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg, cli: cli, log: cfg.Logger}, nil
}

// Ping checks that an Engine answers; MGX_RUNTIME=auto uses it to choose a driver.
func (d *Driver) Ping(ctx context.Context) error {
	if _, err := d.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker: ping: %w", err)
	}
	return nil
}

// Close releases the client.
func (d *Driver) Close() error { return d.cli.Close() }

// Name implements runtime.Driver.
func (d *Driver) Name() string { return "docker" }

// translate maps Engine errors onto the runtime sentinels.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w: %v", op, runtime.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %w: %v", op, runtime.ErrConflict, err)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("%s: %w: %v", op, runtime.ErrInvalidSpec, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Start implements runtime.Driver.
func (d *Driver) Start(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error) {
	if spec.Name == "" || spec.Image == "" {
		return nil, fmt.Errorf("%w: name and image are required", runtime.ErrInvalidSpec)
	}
	if err := d.ensureImage(ctx, spec.Image); err != nil {
		return nil, err
	}
	labels := map[string]string{LabelManaged: "1"}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	for _, p := range spec.Ports {
		np := nat.Port(strconv.Itoa(p) + "/tcp")
		exposed[np] = struct{}{}
		bindings[np] = []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: ""}}
	}
	var mounts []mount.Mount
	for _, m := range spec.Mounts {
		if isDockerSocket(m.Source) {
			return nil, fmt.Errorf("%w: the Docker socket is never mounted into a container", runtime.ErrInvalidSpec)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	init := true
	hc := &container.HostConfig{
		Mounts:       mounts,
		PortBindings: bindings,
		SecurityOpt:  []string{"no-new-privileges"},
		CapDrop:      []string{"ALL"},
		CapAdd:       spec.CapAdd,
		ExtraHosts:   append([]string{"host.docker.internal:host-gateway"}, spec.ExtraHosts...),
		Init:         &init,
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{
			"max-size": d.cfg.LogMaxSize, "max-file": strconv.Itoa(d.cfg.LogMaxFiles),
		}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
	}
	if r := spec.Resources; r.MemoryBytes > 0 || r.CPUs > 0 || r.Pids > 0 {
		hc.Resources.Memory = r.MemoryBytes
		hc.Resources.MemorySwap = r.MemoryBytes // no swap beyond the limit
		hc.Resources.NanoCPUs = int64(r.CPUs * 1e9)
		if r.Pids > 0 {
			pids := r.Pids
			hc.Resources.PidsLimit = &pids
		}
	}
	cfg := &container.Config{
		Image:        spec.Image,
		Cmd:          spec.Command,
		Env:          env,
		WorkingDir:   spec.Dir,
		User:         spec.User,
		Labels:       labels,
		ExposedPorts: exposed,
	}
	created, err := d.cli.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name)
	if err != nil {
		return nil, translate("create "+spec.Name, err)
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		_ = d.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
		return nil, translate("start "+spec.Name, err)
	}
	h := &runtime.Handle{Driver: d.Name(), ID: created.ID, Name: spec.Name, Labels: spec.Labels}
	if err := d.refresh(ctx, h); err != nil {
		return nil, err
	}
	d.log.InfoContext(ctx, "container started", "name", spec.Name, "id", created.ID[:12], "image", spec.Image)
	return h, nil
}

func isDockerSocket(p string) bool {
	p = filepath.Clean(p)
	return strings.HasSuffix(p, "docker.sock") || p == "/var/run" || p == "/run" || p == "/run/docker" || p == "/var/run/docker"
}

func (d *Driver) ensureImage(ctx context.Context, ref string) error {
	_, err := d.cli.ImageInspect(ctx, ref)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return translate("image "+ref, err)
	}
	if !d.cfg.PullMissing {
		return fmt.Errorf("image %s: %w (build it with deploy/images/build.sh or set PullMissing)", ref, runtime.ErrImageNotFound)
	}
	d.log.InfoContext(ctx, "pulling image", "image", ref)
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w: %v", ref, runtime.ErrImageNotFound, err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// refresh reads the container's published ports and start time into h.
func (d *Driver) refresh(ctx context.Context, h *runtime.Handle) error {
	ins, err := d.cli.ContainerInspect(ctx, h.ID)
	if err != nil {
		return translate("inspect "+h.Name, err)
	}
	h.Ports = h.Ports[:0]
	if ins.NetworkSettings != nil {
		for p, bs := range ins.NetworkSettings.Ports {
			for _, b := range bs {
				if b.HostIP == "127.0.0.1" && b.HostPort != "" {
					h.Ports = append(h.Ports, runtime.PortBinding{ContainerPort: p.Int(), HostAddr: net.JoinHostPort(b.HostIP, b.HostPort)})
				}
			}
		}
	}
	if ins.State != nil {
		h.StartedAt, _ = time.Parse(time.RFC3339Nano, ins.State.StartedAt)
	}
	h.State, _ = json.Marshal(map[string]string{"image": ins.Config.Image})
	return nil
}

// Recover implements runtime.Driver.
func (d *Driver) Recover(ctx context.Context, h *runtime.Handle) error {
	if h == nil || h.Driver != d.Name() {
		return fmt.Errorf("%w: not a docker handle", runtime.ErrNotFound)
	}
	return d.refresh(ctx, h)
}

// Wait implements runtime.Driver.
func (d *Driver) Wait(ctx context.Context, h *runtime.Handle) (runtime.ExitResult, error) {
	resC, errC := d.cli.ContainerWait(ctx, h.ID, container.WaitConditionNotRunning)
	select {
	case res := <-resC:
		if res.Error != nil && res.Error.Message != "" {
			return runtime.ExitResult{}, fmt.Errorf("wait %s: %s", h.Name, res.Error.Message)
		}
		st, err := d.Inspect(ctx, h)
		if err != nil {
			return runtime.ExitResult{ExitCode: int(res.StatusCode)}, nil
		}
		return runtime.ExitResult{ExitCode: int(res.StatusCode), OOMKilled: st.OOMKilled}, nil
	case err := <-errC:
		return runtime.ExitResult{}, translate("wait "+h.Name, err)
	}
}

// Stop implements runtime.Driver.
func (d *Driver) Stop(ctx context.Context, h *runtime.Handle, timeout time.Duration) error {
	secs := int(timeout.Round(time.Second) / time.Second)
	err := d.cli.ContainerStop(ctx, h.ID, container.StopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotModified(err) {
		return translate("stop "+h.Name, err)
	}
	return nil
}

// Remove implements runtime.Driver.
func (d *Driver) Remove(ctx context.Context, h *runtime.Handle) error {
	err := d.cli.ContainerRemove(ctx, h.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return translate("remove "+h.Name, err)
	}
	return nil
}

// Inspect implements runtime.Driver.
func (d *Driver) Inspect(ctx context.Context, h *runtime.Handle) (runtime.Status, error) {
	ins, err := d.cli.ContainerInspect(ctx, h.ID)
	if err != nil {
		return runtime.Status{}, translate("inspect "+h.Name, err)
	}
	s := runtime.Status{State: runtime.StateCreated}
	if st := ins.State; st != nil {
		switch {
		case st.Running || st.Restarting || st.Paused:
			s.State = runtime.StateRunning
		case st.Status == "exited" || st.Status == "dead":
			s.State = runtime.StateExited
		}
		s.ExitCode = st.ExitCode
		s.OOMKilled = st.OOMKilled
		s.StartedAt, _ = time.Parse(time.RFC3339Nano, st.StartedAt)
		if s.State == runtime.StateExited {
			s.FinishedAt, _ = time.Parse(time.RFC3339Nano, st.FinishedAt)
		}
	}
	return s, nil
}

// List implements runtime.Lister: MGX containers (running or not) carrying all labels.
func (d *Driver) List(ctx context.Context, labels map[string]string) ([]*runtime.Handle, error) {
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=1"))
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	cs, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, translate("list", err)
	}
	out := make([]*runtime.Handle, 0, len(cs))
	for _, c := range cs {
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		lb := map[string]string{}
		for k, v := range c.Labels {
			if k != LabelManaged {
				lb[k] = v
			}
		}
		h := &runtime.Handle{Driver: d.Name(), ID: c.ID, Name: name, Labels: lb, StartedAt: time.Unix(c.Created, 0).UTC()}
		for _, p := range c.Ports {
			if p.IP == "127.0.0.1" && p.PublicPort != 0 {
				h.Ports = append(h.Ports, runtime.PortBinding{ContainerPort: int(p.PrivatePort), HostAddr: net.JoinHostPort(p.IP, strconv.Itoa(int(p.PublicPort)))})
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// Logs implements runtime.Driver; stdout and stderr are merged.
func (d *Driver) Logs(ctx context.Context, h *runtime.Handle, opts runtime.LogOptions) (io.ReadCloser, error) {
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow}
	if !opts.Since.IsZero() {
		lo.Since = strconv.FormatFloat(float64(opts.Since.UnixNano())/1e9, 'f', 9, 64)
	}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	rc, err := d.cli.ContainerLogs(ctx, h.ID, lo)
	if err != nil {
		return nil, translate("logs "+h.Name, err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return &readCloser{Reader: pr, close: func() error { rc.Close(); return pr.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// Exec implements runtime.Driver.
func (d *Driver) Exec(ctx context.Context, h *runtime.Handle, opts runtime.ExecOptions) (int, error) {
	if len(opts.Command) == 0 {
		return -1, fmt.Errorf("%w: exec needs a command", runtime.ErrInvalidSpec)
	}
	env := make([]string, 0, len(opts.Env)+1)
	for k, v := range opts.Env {
		env = append(env, k+"="+v)
	}
	eo := container.ExecOptions{
		User: opts.User, Tty: opts.TTY, AttachStdin: opts.Stdin != nil, AttachStdout: true, AttachStderr: true,
		Env: env, WorkingDir: opts.Dir, Cmd: opts.Command,
	}
	size := opts.Size
	if opts.TTY {
		if size.Rows == 0 || size.Cols == 0 {
			size = runtime.TermSize{Rows: 24, Cols: 80}
		}
		eo.ConsoleSize = &[2]uint{uint(size.Rows), uint(size.Cols)}
		d.cli.NegotiateAPIVersion(ctx)
		if versions.LessThan(d.cli.ClientVersion(), "1.42") {
			// Engines before API 1.42 (Docker 20.10) ignore ConsoleSize and a resize can only
			// follow the start, racing the command: set the size from inside first.
			eo.Cmd = append([]string{"/bin/sh", "-c", fmt.Sprintf(`stty rows %d cols %d 2>/dev/null; exec "$@"`, size.Rows, size.Cols), "sh"}, opts.Command...)
		}
		if _, ok := opts.Env["TERM"]; !ok {
			eo.Env = append(eo.Env, "TERM=xterm-256color")
		}
	}
	created, err := d.cli.ContainerExecCreate(ctx, h.ID, eo)
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return -1, fmt.Errorf("exec in %s: %w", h.Name, runtime.ErrNotRunning)
		}
		return -1, translate("exec in "+h.Name, err)
	}
	att, err := d.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: opts.TTY, ConsoleSize: eo.ConsoleSize})
	if err != nil {
		return -1, translate("exec attach in "+h.Name, err)
	}
	defer att.Close()

	stop := make(chan struct{})
	defer close(stop)
	if opts.TTY && opts.Resize != nil {
		go func() {
			for {
				select {
				case <-stop:
					return
				case s, ok := <-opts.Resize:
					if !ok {
						return
					}
					_ = d.cli.ContainerExecResize(context.WithoutCancel(ctx), created.ID, container.ResizeOptions{Height: uint(s.Rows), Width: uint(s.Cols)})
				}
			}
		}()
	}
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		}()
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	copied := make(chan error, 1)
	go func() {
		if opts.TTY {
			_, err := io.Copy(stdout, att.Reader)
			copied <- err
			return
		}
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, fmt.Errorf("exec in %s: %w", h.Name, err)
		}
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	// The stream ends slightly before the exec is marked finished.
	for i := 0; i < 50; i++ {
		ins, err := d.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return -1, translate("exec inspect in "+h.Name, err)
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1, fmt.Errorf("exec in %s: still running after its output closed", h.Name)
}
