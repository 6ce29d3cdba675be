package sessions_test

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/sessions"
)

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
}

// benchSession creates a session and returns its events URL.
func benchSession(b *testing.B, e *env) (id, url string) {
	status, body := e.do("POST", "/api/sessions", "alice", map[string]any{"prompt": "todo list", "framework": "nextjs"})
	if status != 201 {
		b.Fatalf("%d %v", status, body)
	}
	id = body["id"].(string)
	return id, e.srv.URL + "/api/sessions/" + id + "/events"
}

// BenchmarkSSEDelivery: one event written (events.Store.Append on FerretDB) → received by
// an SSE client, one at a time. The fallback poll is 10s, so delivery rides the wake-up.
func BenchmarkSSEDelivery(b *testing.B) {
	e := newEnv(b, func(c *sessions.Config) { c.Poll = 10 * time.Second })
	id, url := benchSession(b, e)
	ch, stop := openSSE(b, url, "alice", "1")
	defer stop()
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		ev, err := e.ev.Append(b.Context(), id, events.MessageDelta, "engineer", map[string]any{"text": "x"})
		if err != nil {
			b.Fatal(err)
		}
		for got := next(b, ch, 5*time.Second); got.id != strconv.FormatInt(ev.Seq, 10); got = next(b, ch, 5*time.Second) {
		}
		lat = append(lat, time.Since(t0))
	}
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
}

// BenchmarkSSESustained: one writer appends as fast as it can (as an agent streaming
// MESSAGE_DELTAs does); one SSE client must receive all of them.
func BenchmarkSSESustained(b *testing.B) {
	e := newEnv(b, func(c *sessions.Config) { c.Poll = 10 * time.Second })
	id, url := benchSession(b, e)
	ch, stop := openSSE(b, url, "alice", "1")
	defer stop()
	n := b.N
	var wg sync.WaitGroup
	wg.Add(1)
	t0 := time.Now()
	var writeDone time.Duration
	go func() {
		defer wg.Done()
		for range n {
			if _, err := e.ev.Append(b.Context(), id, events.MessageDelta, "engineer", map[string]any{"text": "token"}); err != nil {
				b.Error(err)
				return
			}
		}
		writeDone = time.Since(t0)
	}()
	for i := 0; i < n; i++ {
		next(b, ch, 30*time.Second)
	}
	total := time.Since(t0)
	wg.Wait()
	b.ReportMetric(float64(n)/writeDone.Seconds(), "written-ev/s")
	b.ReportMetric(float64(n)/total.Seconds(), "delivered-ev/s")
}

// BenchmarkSSE200Listeners: 200 SSE clients follow one session; each event written must
// reach all of them. Reports per-client delivery latency and the time until the last one.
func BenchmarkSSE200Listeners(b *testing.B) {
	const listeners = 200
	e := newEnv(b, func(c *sessions.Config) { c.Poll = 10 * time.Second })
	id, url := benchSession(b, e)
	chans := make([]<-chan sseEvent, listeners)
	for i := range chans {
		ch, stop := openSSE(b, url, "alice", "1")
		defer stop()
		chans[i] = ch
	}
	time.Sleep(200 * time.Millisecond) // every client subscribed
	var lat, last []time.Duration
	var mu sync.Mutex
	for b.Loop() {
		t0 := time.Now()
		ev, err := e.ev.Append(b.Context(), id, events.MessageDelta, "engineer", map[string]any{"text": "x"})
		if err != nil {
			b.Fatal(err)
		}
		want := strconv.FormatInt(ev.Seq, 10)
		var wg sync.WaitGroup
		for _, ch := range chans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for got := next(b, ch, 30*time.Second); got.id != want; got = next(b, ch, 30*time.Second) {
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
		last = append(last, time.Since(t0))
	}
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(last, 0.5), "all-200-p50-ms")
}
