package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/gateway/gatewaytest"
)

func TestEmbeddedConformance(t *testing.T) {
	gatewaytest.RunTests(t, func(t *testing.T) gateway.Driver {
		return gateway.NewEmbedded(gateway.EmbeddedConfig{})
	})
}

// countingDriver counts reads; the first one blocks until release is closed.
type countingDriver struct {
	gateway.Driver
	mu      sync.Mutex
	reads   int
	blocked chan struct{}
	release chan struct{}
}

func (c *countingDriver) Routes(ctx context.Context) ([]gateway.Route, error) {
	c.mu.Lock()
	c.reads++
	first := c.reads == 1
	c.mu.Unlock()
	if first {
		close(c.blocked)
		<-c.release
	}
	return c.Driver.Routes(ctx)
}

func TestConcurrentUpsertsCoalesce(t *testing.T) {
	d := &countingDriver{Driver: gateway.NewEmbedded(gateway.EmbeddedConfig{}), blocked: make(chan struct{}), release: make(chan struct{})}
	g := newStoreGateway(t, d)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	upsert := func(i int) {
		wg.Go(func() {
			errs <- g.Upsert(t.Context(), gateway.AppRoute(gateway.KindProd, fmt.Sprintf("app%d", i), "/", false, "h:1"))
		})
	}
	upsert(0)
	<-d.blocked // the first reconcile is under way (a slow Admin API)
	for i := 1; i < n; i++ {
		upsert(i)
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if rs, err := g.List(t.Context()); err == nil && len(rs) == n {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("upserts never stored")
		}
	}
	close(d.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := d.Driver.Routes(t.Context())
	if len(rs) != n {
		t.Fatalf("%d routes served after %d concurrent upserts", len(rs), n)
	}
	// The blocked reconcile, then one for the 19 that waited behind it (maybe one more for
	// a straggler between its store write and its turn).
	if d.reads > 4 {
		t.Fatalf("%d reconciles for %d concurrent upserts; they should coalesce to about 2", d.reads, n)
	}
}
