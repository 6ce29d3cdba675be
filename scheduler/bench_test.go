package scheduler_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/embedded"
	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/docker/dockertest"
	"github.com/mgx-dev/mgx/scheduler"
)

// startSignal wraps a driver and reports when Start returned.
type startSignal struct {
	scheduler.Driver
	started chan time.Time
}

func (s *startSignal) Start(ctx context.Context, spec runtime.Spec) (*runtime.Handle, error) {
	h, err := s.Driver.Start(ctx, spec)
	if err == nil {
		s.started <- time.Now()
	}
	return h, err
}

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkEnqueueToAgentStart measures Enqueue → the agent process started by the
// process runtime (Start returned), and → its first event (AGENT_START) written.
func BenchmarkEnqueueToAgentStart(b *testing.B) {
	cfg, q, ev, wsBase := processHarness(b, "finish")
	benchEnqueueToStart(b, cfg, q, ev, wsBase, 20*time.Second)
}

// agentImage is the image the docker benchmark starts agents from: the platform's default
// agent image (deploy/images/build.sh builds it), or MGX_TEST_AGENT_IMAGE.
func agentImage() string {
	if img := os.Getenv("MGX_TEST_AGENT_IMAGE"); img != "" {
		return img
	}
	return "mgx/python-node:22"
}

// dockerHarness is processHarness on the docker runtime: the test binary, mounted
// read-only into the platform's agent image, is the agent, and reaches the test's
// FerretDB and Redis through forwarders on the Docker bridge (as host.docker.internal),
// the way `mgx up` serves containers. It skips with the reason when no daemon answers or
// the image is missing, or fails then with MGX_TEST_DOCKER=1.
func dockerHarness(b *testing.B, mode string) (cfg scheduler.Config, q *scheduler.Queue, ev *events.Store, wsBase string) {
	b.Helper()
	drv := dockertest.Driver(b, agentImage())
	bridge := bridgeIP()
	if bridge == "" {
		dockertest.Unavailable(b, "no docker0 bridge address: containers cannot reach this host's services")
	}
	cfg, q, ev, wsBase = processHarness(b, mode)
	// Containers reach loopback services through forwarders on the bridge.
	for _, u := range []*string{&cfg.MongoURL, &cfg.RedisURL} {
		parsed, err := url.Parse(*u)
		if err != nil {
			b.Fatal(err)
		}
		f, err := embedded.Forward(net.JoinHostPort(bridge, "0"), parsed.Host)
		if err != nil {
			b.Fatalf("forward %s to the bridge: %v", parsed.Host, err)
		}
		b.Cleanup(func() { f.Close() })
		_, port, _ := net.SplitHostPort(f.Addr)
		parsed.Host = net.JoinHostPort("host.docker.internal", port)
		*u = parsed.String()
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cfg.Driver = drv
	cfg.Image = agentImage()
	cfg.Command = []string{"/opt/mgx-test/agent"}
	cfg.Mounts = []runtime.Mount{{Source: exe, Target: "/opt/mgx-test/agent", ReadOnly: true}}
	cfg.User = "1000:1000" // as the platform runs agents
	cfg.Resources = runtime.Resources{MemoryBytes: 512 << 20, CPUs: 1, Pids: 256}
	return cfg, q, ev, wsBase
}

// bridgeIP is the host's address on docker0, which containers reach as host.docker.internal.
func bridgeIP() string {
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		return ""
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// BenchmarkEnqueueToAgentStartDocker measures Enqueue → the agent container started by
// the docker runtime (Start returned), and → the first event (AGENT_START) the agent wrote
// from inside its container. scripts/bench.sh runs it with -benchtime 20x for percentiles.
func BenchmarkEnqueueToAgentStartDocker(b *testing.B) {
	cfg, q, ev, wsBase := dockerHarness(b, "finish")
	benchEnqueueToStart(b, cfg, q, ev, wsBase, 60*time.Second)
}

// benchEnqueueToStart runs the scheduler on cfg and, per iteration, enqueues a run and
// times Enqueue → the driver's Start returned and → the agent's first event; then it waits
// (off the clock) for the run to succeed. wait bounds each of those steps.
func benchEnqueueToStart(b *testing.B, cfg scheduler.Config, q *scheduler.Queue, ev *events.Store, wsBase string, wait time.Duration) {
	sig := &startSignal{Driver: cfg.Driver, started: make(chan time.Time, 1)}
	cfg.Driver = sig
	s, err := scheduler.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Session ids unique to this run: agent containers are named after them, and other
	// Docker tests may run on the same daemon.
	prefix := fmt.Sprintf("bench%x-", time.Now().UnixNano()&0xffffff)
	var toStart, toEvent []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sid := fmt.Sprintf("%s%d", prefix, i)
		dir := filepath.Join(wsBase, "ws"+sid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		_ = os.Chmod(dir, 0o777) // a docker agent runs as uid 1000
		t0 := time.Now()
		r, err := q.Enqueue(ctx, scheduler.RunRequest{SessionID: sid, WorkspaceID: "ws" + sid, Framework: "nextjs", Prompt: "x"})
		if err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-sig.started:
			toStart = append(toStart, t1.Sub(t0))
		case <-time.After(wait):
			got, _ := q.Runs().Get(ctx, r.ID)
			b.Fatalf("agent did not start within %s: %+v", wait, got)
		}
		deadline := time.Now().Add(wait)
		for {
			evs, _ := ev.List(ctx, sid, 0, 1)
			if len(evs) > 0 {
				toEvent = append(toEvent, evs[0].TS.Sub(t0.UTC().Truncate(time.Millisecond)))
				break
			}
			if got, _ := q.Runs().Get(ctx, r.ID); got != nil && scheduler.Final(got.State) {
				b.Fatalf("run ended %s without an event from the agent: %s", got.State, got.Reason)
			}
			if time.Now().After(deadline) {
				b.Fatalf("no event from the agent within %s", wait)
			}
			time.Sleep(2 * time.Millisecond)
		}
		b.StopTimer()
		for deadline := time.Now().Add(wait); ; {
			got, err := q.Runs().Get(ctx, r.ID)
			if err == nil && scheduler.Final(got.State) {
				if got.State != scheduler.StateSucceeded {
					b.Fatalf("run %s: %s", got.State, got.Reason)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("run not final %s after its agent started: %+v", wait, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
	}
	slices.Sort(toStart)
	slices.Sort(toEvent)
	b.ReportMetric(float64(len(toStart)), "runs")
	b.ReportMetric(float64(percentile(toStart, 0.5).Microseconds())/1000, "start-p50-ms")
	b.ReportMetric(float64(percentile(toStart, 0.99).Microseconds())/1000, "start-p99-ms")
	b.ReportMetric(float64(percentile(toEvent, 0.5).Microseconds())/1000, "first-event-p50-ms")
	b.ReportMetric(float64(percentile(toEvent, 0.99).Microseconds())/1000, "first-event-p99-ms")
}
