package events_test

import (
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/store/storetest"
)

func TestAppendContiguousUnderConcurrency(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	if err := events.EnsureIndexes(ctx, st); err != nil {
		t.Fatal(err)
	}
	es := events.NewStore(st.DB(), nil)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := es.Append(ctx, "s1", events.Message, "engineer", map[string]any{"w": w}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// Another session's stream is separate.
	if _, err := es.Append(ctx, "s2", events.AgentStart, "team_leader", nil); err != nil {
		t.Fatal(err)
	}
	got, err := es.List(ctx, "s1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each {
		t.Fatalf("got %d events, want %d", len(got), writers*each)
	}
	for i, ev := range got {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: not contiguous", i, ev.Seq)
		}
	}
	after, _ := es.List(ctx, "s1", 35, 0)
	if len(after) != 5 || after[0].Seq != 36 {
		t.Fatalf("List after 35: %d events, first %v", len(after), after)
	}
	if last, _ := es.LastSeq(ctx, "s2"); last != 1 {
		t.Fatalf("s2 last seq %d", last)
	}
	if _, err := es.Append(ctx, "", events.Message, "", nil); err == nil {
		t.Fatal("empty session id accepted")
	}
}

// Two stores (two processes: the agent and the control plane) appending to one
// session keep seq contiguous although each remembers only its own last write.
func TestAppendFromTwoProcesses(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	if err := events.EnsureIndexes(ctx, st); err != nil {
		t.Fatal(err)
	}
	a, b := events.NewStore(st.DB(), nil), events.NewStore(st.DB(), nil)
	for i := range 10 {
		w := a
		if i%3 == 0 {
			w = b
		}
		if _, err := w.Append(ctx, "s", events.Message, "x", nil); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := a.List(ctx, "s", 0, 0)
	for i, ev := range got {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if len(got) != 10 {
		t.Fatalf("%d events", len(got))
	}
}

func TestWake(t *testing.T) {
	st := storetest.New(t)
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	es := events.NewStore(st.DB(), rdb)
	ch, stop := es.Wake(t.Context(), "s1")
	defer stop()
	time.Sleep(50 * time.Millisecond) // let SUBSCRIBE reach the server
	if _, err := es.Append(t.Context(), "s1", events.Message, "engineer", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		t.Fatal("no wake-up after Append")
	}
}
