// Package runtime is the container runtime interface of MGX, in the shape of nomad's task
// drivers: Start returns a serialisable Handle that callers persist, so a restarted MGX can
// Recover it and go on waiting for, inspecting, exec'ing into and stopping the workload.
//
// Two drivers implement it: runtime/docker (Docker Engine API) and runtime/process (local
// child processes, for a single trusted user on a machine without Docker). Both pass the
// conformance suite in runtime/runtimetest.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sentinel errors every driver translates its own errors into.
var (
	// ErrNotFound: the workload (or its image) does not exist, or no longer does.
	ErrNotFound = errors.New("runtime: not found")
	// ErrConflict: a workload with that name already exists.
	ErrConflict = errors.New("runtime: conflict")
	// ErrNotRunning: the operation needs a running workload (Exec).
	ErrNotRunning = errors.New("runtime: not running")
	// ErrInvalidSpec: the Spec is incomplete or contradictory.
	ErrInvalidSpec = errors.New("runtime: invalid spec")
	// ErrImageNotFound: the image is not present and could not be pulled. It wraps ErrNotFound.
	ErrImageNotFound = fmt.Errorf("%w: image", ErrNotFound)
)

// Driver runs workloads: containers (docker) or process groups (process).
// Every method takes ctx first; ctx bounds the call, not the workload's life.
type Driver interface {
	// Name is the driver's name as stored in Handle.Driver ("docker", "process").
	Name() string
	// Start creates and starts a workload. The returned Handle is a plain value the
	// caller persists; the workload outlives ctx.
	Start(ctx context.Context, spec Spec) (*Handle, error)
	// Recover re-attaches to a workload started by an earlier instance of the driver
	// (typically before an MGX restart). It fails with ErrNotFound when the workload is
	// gone; a workload that has exited but is still known recovers fine.
	Recover(ctx context.Context, h *Handle) error
	// Wait blocks until the workload exits or ctx ends.
	Wait(ctx context.Context, h *Handle) (ExitResult, error)
	// Stop asks the workload to stop (SIGTERM), then kills it (SIGKILL) after timeout.
	// Stopping a workload that has already exited is not an error.
	Stop(ctx context.Context, h *Handle, timeout time.Duration) error
	// Remove releases everything the workload holds (container, log files), stopping it
	// first if it runs. Removing an unknown workload is not an error.
	Remove(ctx context.Context, h *Handle) error
	// Inspect reports the workload's state.
	Inspect(ctx context.Context, h *Handle) (Status, error)
	// Logs returns the workload's combined stdout and stderr.
	Logs(ctx context.Context, h *Handle, opts LogOptions) (io.ReadCloser, error)
	// Exec runs a command inside the running workload (same filesystem view, env and
	// working directory), optionally on a pty, and returns its exit code.
	Exec(ctx context.Context, h *Handle, opts ExecOptions) (int, error)
}

// Lister is an optional ability: list the workloads that carry all the given labels,
// e.g. to find orphans after a crash.
type Lister interface {
	List(ctx context.Context, labels map[string]string) ([]*Handle, error)
}

// Spec describes a workload.
type Spec struct {
	// Name is unique among the driver's workloads (a container name). Required.
	Name string
	// Image is the container image (docker); ignored by the process driver.
	Image string
	// Command is the argv; empty means the image's default command (docker only).
	Command []string
	// Dir is the working directory inside the workload, e.g. /workspace/frontend. The
	// process driver maps it onto the host through Mounts.
	Dir string
	// Env is added to the image's (docker) or MGX's (process) environment.
	Env map[string]string
	// Mounts are host directories or files bound into the workload.
	Mounts []Mount
	// Ports are container ports to publish on 127.0.0.1; Handle.Ports tells where.
	// The process driver picks a free loopback port for each and sets PORT to the first.
	Ports []int
	// Labels name the workload (app slug, role). Docker labels; kept in the handle by
	// the process driver.
	Labels map[string]string
	// Resources are limits; zero means unlimited. The process driver ignores them.
	Resources Resources
	// User runs the workload as "uid[:gid]" or a name known to the image (docker).
	User string
	// ExtraHosts are "host:ip" entries; the docker driver always adds
	// host.docker.internal:host-gateway.
	ExtraHosts []string
	// CapAdd lists Linux capabilities to keep; all others are dropped (docker).
	CapAdd []string
}

// Mount binds Source on the host at Target inside the workload.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Resources are limits for a workload; zero means no limit.
type Resources struct {
	MemoryBytes int64   // hard memory limit, swap included
	CPUs        float64 // e.g. 1.5
	Pids        int64   // maximum number of processes
}

// Handle identifies a started workload. It is a plain JSON-serialisable value: callers
// persist it (MongoDB, a file) and give it back to Recover after a restart.
type Handle struct {
	Driver    string            `json:"driver" bson:"driver"`
	ID        string            `json:"id" bson:"id"`
	Name      string            `json:"name" bson:"name"`
	Ports     []PortBinding     `json:"ports,omitempty" bson:"ports,omitempty"`
	Labels    map[string]string `json:"labels,omitempty" bson:"labels,omitempty"`
	StartedAt time.Time         `json:"started_at" bson:"started_at"`
	// State is the driver's own data (pid and start time, log path, …).
	State json.RawMessage `json:"state,omitempty" bson:"state,omitempty"`
}

// PortBinding says where a container port is reachable from MGX.
type PortBinding struct {
	ContainerPort int    `json:"container_port" bson:"container_port"`
	HostAddr      string `json:"host_addr" bson:"host_addr"` // "127.0.0.1:H"
}

// Addr returns the host address of a container port, or "" when it is not published.
func (h *Handle) Addr(containerPort int) string {
	for _, p := range h.Ports {
		if p.ContainerPort == containerPort {
			return p.HostAddr
		}
	}
	return ""
}

// State is a workload's lifecycle state.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
)

// Status is what Inspect reports.
type Status struct {
	State      State
	ExitCode   int // valid when State is StateExited; -1 when unknown (killed while MGX was down)
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// ExitResult is how a workload ended.
type ExitResult struct {
	ExitCode  int
	OOMKilled bool
}

// LogOptions select log output.
type LogOptions struct {
	Follow bool      // keep streaming until the workload exits or ctx ends
	Since  time.Time // only output after this time (process driver: all or nothing, by the log's mtime)
	Tail   int       // only the last Tail lines of existing output; 0 means all
}

// ExecOptions describe a command run inside a workload.
type ExecOptions struct {
	Command []string
	Env     map[string]string
	Dir     string // default: the workload's Dir
	User    string // default: the workload's User
	TTY     bool   // run on a pty; Stderr is unused then (merged into Stdout)
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Size is the initial terminal size (TTY only); zero means 24x80.
	Size TermSize
	// Resize delivers terminal size changes (TTY only); may be nil.
	Resize <-chan TermSize
}

// TermSize is a terminal size in character cells.
type TermSize struct {
	Rows, Cols uint16
}
