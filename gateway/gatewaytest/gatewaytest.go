// Package gatewaytest is the conformance suite every gateway driver passes: the embedded
// proxy and APISIX (against a fake Admin API here, a real one in CI).
package gatewaytest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// RunTests runs the suite; newDriver returns a fresh driver with no MGX routes.
func RunTests(t *testing.T, newDriver func(t *testing.T) gateway.Driver) {
	t.Run("PutRoutesDelete", func(t *testing.T) { testPutRoutesDelete(t, newDriver(t)) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, newDriver(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newDriver(t)) })
	t.Run("Reconcile", func(t *testing.T) { testReconcile(t, newDriver(t)) })
}

func norm(r gateway.Route) gateway.Route { r.Normalize(); r.UpdatedAt = time.Time{}; return r }

func routes(t *testing.T, d gateway.Driver) map[string]gateway.Route {
	t.Helper()
	rs, err := d.Routes(t.Context())
	if err != nil {
		t.Fatalf("Routes: %v", err)
	}
	m := map[string]gateway.Route{}
	for _, r := range rs {
		if _, dup := m[r.ID]; dup {
			t.Fatalf("Routes returned %s twice", r.ID)
		}
		m[r.ID] = r
	}
	return m
}

func requireRoute(t *testing.T, d gateway.Driver, want gateway.Route) {
	t.Helper()
	got, ok := routes(t, d)[want.ID]
	if !ok {
		t.Fatalf("route %s missing from driver", want.ID)
	}
	if want = norm(want); !got.Equal(want) {
		t.Fatalf("route %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

func sampleRoutes() []gateway.Route {
	rs := gateway.PlatformRoutes("127.0.0.1:8080")
	rs = append(rs,
		gateway.AppRoute(gateway.KindProd, "shop", "/", false, "10.0.0.5:3000", "10.0.0.6:3000"),
		gateway.AppRoute(gateway.KindProd, "shop", "/api", true, "10.0.0.5:8000"),
		gateway.AppRoute(gateway.KindDev, "shop", "/", false, "127.0.0.1:41000"),
		gateway.AppRoute(gateway.KindDev, "idle", "/", false), // known, not running
	)
	rs[len(rs)-2].Timeouts = gateway.Timeouts{Connect: 2 * time.Second, Send: 10 * time.Minute, Read: 90 * time.Minute}
	return rs
}

func testPutRoutesDelete(t *testing.T, d gateway.Driver) {
	ctx := t.Context()
	if rs := routes(t, d); len(rs) != 0 {
		t.Fatalf("fresh driver has routes: %v", rs)
	}
	for _, r := range sampleRoutes() {
		if err := d.Put(ctx, r); err != nil {
			t.Fatalf("Put %s: %v", r.ID, err)
		}
	}
	for _, r := range sampleRoutes() {
		requireRoute(t, d, r)
	}
	if err := d.Delete(ctx, "prod-shop-api"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := routes(t, d)["prod-shop-api"]; ok {
		t.Fatal("deleted route still served")
	}
	requireRoute(t, d, sampleRoutes()[4]) // the sibling stays
}

func testIdempotent(t *testing.T, d gateway.Driver) {
	ctx := t.Context()
	r := gateway.AppRoute(gateway.KindProd, "blog", "/", false, "10.0.0.9:3000")
	for range 2 {
		if err := d.Put(ctx, r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if n := len(routes(t, d)); n != 1 {
		t.Fatalf("%d routes after putting one twice", n)
	}
	r.Upstreams = []string{"10.0.0.10:3000"}
	r.Strip = true
	if err := d.Put(ctx, r); err != nil {
		t.Fatalf("Put changed: %v", err)
	}
	requireRoute(t, d, r)
	for range 2 {
		if err := d.Delete(ctx, r.ID); err != nil {
			t.Fatalf("Delete (twice is fine): %v", err)
		}
	}
	if err := d.Delete(ctx, "never-existed"); err != nil {
		t.Fatalf("Delete missing: %v", err)
	}
}

func testRoundTrip(t *testing.T, d gateway.Driver) {
	ctx := t.Context()
	tests := []struct {
		name string
		r    gateway.Route
	}{
		{name: "platform root", r: gateway.PlatformRoutes("mgx-control-1:8080", "mgx-control-2:8080")[0]},
		{name: "strip with long timeouts", r: func() gateway.Route {
			r := gateway.AppRoute(gateway.KindDev, "a-b-c", "/api", true, "[::1]:8000")
			r.Timeouts.Read = 2 * time.Hour
			return r
		}()},
		{name: "no websocket", r: func() gateway.Route {
			r := gateway.AppRoute(gateway.KindProd, "x1", "/", false, "h:1")
			r.WebSocket = false
			return r
		}()},
		{name: "no upstream", r: gateway.AppRoute(gateway.KindProd, "later", "/", false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.Put(ctx, tt.r); err != nil {
				t.Fatalf("Put: %v", err)
			}
			requireRoute(t, d, tt.r)
		})
	}
}

func testReconcile(t *testing.T, d gateway.Driver) {
	ctx := t.Context()
	st := storetest.New(t)
	g, err := gateway.New(ctx, gateway.Config{Store: st, Driver: d})
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRoutes()
	for _, r := range want {
		if err := g.Upsert(ctx, r); err != nil {
			t.Fatalf("Upsert %s: %v", r.ID, err)
		}
	}
	for _, r := range want {
		requireRoute(t, d, r) // Upsert applies before it returns
	}
	if s := g.Status(); s.Error != "" || len(s.Routes) != len(want) || slices.ContainsFunc(s.Routes, func(r gateway.RouteStatus) bool { return !r.Applied }) {
		t.Fatalf("status after upserts: %+v", s)
	}

	// Drift: deleted behind our back, changed behind our back, added behind our back.
	if err := d.Delete(ctx, "prod-shop"); err != nil {
		t.Fatal(err)
	}
	changed := want[5]
	changed.Upstreams = []string{"10.9.9.9:1"}
	if err := d.Put(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, gateway.AppRoute(gateway.KindProd, "stale", "/", false, "10.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	if err := g.Reconcile(ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	got := routes(t, d)
	if len(got) != len(want) {
		t.Fatalf("after reconcile %d routes, want %d: %v", len(got), len(want), got)
	}
	for _, r := range want {
		requireRoute(t, d, r)
	}
	// Reconciling again changes nothing.
	if err := g.Reconcile(ctx); err != nil {
		t.Fatalf("second Reconcile: %v", err)
	}

	// The API: DeleteApp of one kind leaves the other; Delete; conflicts; validation.
	if err := g.DeleteApp(ctx, "shop", gateway.KindProd); err != nil {
		t.Fatal(err)
	}
	got = routes(t, d)
	if _, ok := got["prod-shop"]; ok {
		t.Fatal("prod-shop still served after DeleteApp")
	}
	if _, ok := got["dev-shop"]; !ok {
		t.Fatal("dev-shop removed by DeleteApp(prod)")
	}
	if err := g.Delete(ctx, "dev-idle"); err != nil {
		t.Fatal(err)
	}
	if _, ok := routes(t, d)["dev-idle"]; ok {
		t.Fatal("dev-idle still served after Delete")
	}
	if _, err := g.Get(ctx, "dev-idle"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get deleted: %v, want ErrNotFound", err)
	}
	dup := gateway.AppRoute(gateway.KindDev, "shop", "/", false, "127.0.0.1:1")
	dup.ID = "another-id"
	if err := g.Upsert(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Upsert with a taken prefix: %v, want ErrConflict", err)
	}
	if err := g.Upsert(ctx, gateway.Route{ID: "Bad ID", Prefix: "/apps/x", Kind: "prod", Slug: "y"}); !errors.Is(err, gateway.ErrInvalidRoute) {
		t.Fatalf("Upsert invalid: %v, want ErrInvalidRoute", err)
	}
	list, err := g.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(routes(t, d)) {
		t.Fatalf("store has %d routes, driver %d", len(list), len(routes(t, d)))
	}
}
