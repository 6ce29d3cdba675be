package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/runtime"
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
	var toStart, toEvent []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sid := fmt.Sprintf("bench%d", i)
		_ = os.MkdirAll(filepath.Join(wsBase, "ws"+sid), 0o755)
		t0 := time.Now()
		r, err := q.Enqueue(ctx, scheduler.RunRequest{SessionID: sid, WorkspaceID: "ws" + sid, Framework: "nextjs", Prompt: "x"})
		if err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-sig.started:
			toStart = append(toStart, t1.Sub(t0))
		case <-time.After(20 * time.Second):
			b.Fatal("agent did not start")
		}
		for {
			evs, _ := ev.List(ctx, sid, 0, 1)
			if len(evs) > 0 {
				toEvent = append(toEvent, evs[0].TS.Sub(t0.UTC().Truncate(time.Millisecond)))
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		b.StopTimer()
		for {
			got, err := q.Runs().Get(ctx, r.ID)
			if err == nil && scheduler.Final(got.State) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
	}
	slices.Sort(toStart)
	slices.Sort(toEvent)
	b.ReportMetric(float64(percentile(toStart, 0.5).Microseconds())/1000, "start-p50-ms")
	b.ReportMetric(float64(percentile(toStart, 0.99).Microseconds())/1000, "start-p99-ms")
	b.ReportMetric(float64(percentile(toEvent, 0.5).Microseconds())/1000, "first-event-p50-ms")
	b.ReportMetric(float64(percentile(toEvent, 0.99).Microseconds())/1000, "first-event-p99-ms")
}
