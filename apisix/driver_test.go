package apisix_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/apisix"
	"github.com/mgx-dev/mgx/apisix/apisixtest"
	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
	"github.com/mgx-dev/mgx/gateway/gatewaytest"
	"github.com/mgx-dev/mgx/store/storetest"
)

const key = "test-admin-key"

func newDriver(t *testing.T, fake *apisixtest.Server) *apisix.Driver {
	t.Helper()
	d, err := apisix.New(apisix.Config{AdminURL: fake.URL, AdminKey: key, Fallback: []string{"control:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	gatewaytest.RunTests(t, func(t *testing.T) gateway.Driver { return newDriver(t, apisixtest.New(t, key)) })
}

func TestWhatAPISIXGets(t *testing.T) {
	fake := apisixtest.New(t, key)
	d := newDriver(t, fake)
	ctx := t.Context()
	api := gateway.AppRoute(gateway.KindProd, "shop", "/api", true, "10.0.0.5:8000")
	for _, r := range append(gateway.PlatformRoutes("control-1:8080", "control-2:8080"), api, gateway.AppRoute(gateway.KindDev, "idle", "/", false)) {
		if err := d.Put(ctx, r); err != nil {
			t.Fatalf("Put %s: %v", r.ID, err)
		}
	}

	var ro struct {
		URIs            []string          `json:"uris"`
		Priority        int               `json:"priority"`
		UpstreamID      string            `json:"upstream_id"`
		EnableWebsocket bool              `json:"enable_websocket"`
		Labels          map[string]string `json:"labels"`
		Plugins         map[string]struct {
			Conf []struct{ Name, Value string } `json:"conf"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(fake.Object("routes", "mgx-prod-shop-api"), &ro); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ro.URIs, " ") != "/apps/shop/api/* /apps/shop/api" || ro.Priority != len("/apps/shop/api/") ||
		ro.UpstreamID != "mgx-prod-shop-api" || !ro.EnableWebsocket || ro.Labels["managed-by"] != "mgx" {
		t.Fatalf("route object: %+v", ro)
	}
	ext := ro.Plugins["ext-plugin-pre-req"].Conf
	if len(ext) != 1 || ext[0].Name != "mgx-app-router" {
		t.Fatalf("ext-plugin-pre-req: %+v", ro.Plugins)
	}
	conf, err := approuter.ParseConf([]byte(ext[0].Value))
	if err != nil {
		t.Fatalf("plugin conf does not parse in the runner: %v", err)
	}
	if res := approuter.Rewrite(conf, "/apps/shop/api/health"); res.Path != "/api/health" {
		t.Fatalf("plugin conf rewrites to %+v", res)
	}

	var up struct {
		Nodes   []apisix.Node  `json:"nodes"`
		Timeout apisix.Timeout `json:"timeout"`
	}
	if err := json.Unmarshal(fake.Object("upstreams", "mgx-prod-shop-api"), &up); err != nil {
		t.Fatal(err)
	}
	if len(up.Nodes) != 1 || up.Nodes[0] != (apisix.Node{Host: "10.0.0.5", Port: 8000, Weight: 1}) {
		t.Fatalf("nodes %+v", up.Nodes)
	}
	if up.Timeout.Read < 3600 || up.Timeout.Send < 3600 || up.Timeout.Connect != 5 {
		t.Fatalf("timeouts too short for SSE and build logs: %+v", up.Timeout)
	}

	// Platform routes carry no plugin; "/" is the catch-all at the lowest priority.
	var web struct {
		URIs     []string       `json:"uris"`
		Priority int            `json:"priority"`
		Plugins  map[string]any `json:"plugins"`
	}
	_ = json.Unmarshal(fake.Object("routes", "mgx-platform-web"), &web)
	if strings.Join(web.URIs, " ") != "/*" || web.Priority != 1 || web.Plugins != nil {
		t.Fatalf("platform web route: %+v", web)
	}
	// A known app without upstream goes to MGX's fallback pages, without the plugin (MGX
	// needs the full path).
	var idle struct {
		Plugins map[string]any `json:"plugins"`
	}
	_ = json.Unmarshal(fake.Object("routes", "mgx-dev-idle"), &idle)
	_ = json.Unmarshal(fake.Object("upstreams", "mgx-dev-idle"), &up)
	if idle.Plugins != nil || len(up.Nodes) != 1 || up.Nodes[0].Host != "control" {
		t.Fatalf("idle route: plugins %v nodes %+v", idle.Plugins, up.Nodes)
	}
}

func TestAdminErrorsInStatus(t *testing.T) {
	fake := apisixtest.New(t, key)
	ctx := t.Context()
	g, err := gateway.New(ctx, gateway.Config{Store: storetest.New(t), Driver: newDriver(t, fake)})
	if err != nil {
		t.Fatal(err)
	}
	fake.FailWrites(func(r *http.Request) (int, string) {
		if strings.Contains(r.URL.Path, "prod-broken") {
			return http.StatusServiceUnavailable, "etcd is unreachable"
		}
		return 0, ""
	})
	for _, r := range []gateway.Route{gateway.AppRoute(gateway.KindProd, "fine", "/", false, "h:1"), gateway.AppRoute(gateway.KindProd, "broken", "/", false, "h:2")} {
		if err := g.Upsert(ctx, r); err != nil {
			t.Fatalf("Upsert %s: %v (driver errors go to Status)", r.ID, err)
		}
	}
	st := g.Status()
	if st.Driver != "apisix" || !strings.Contains(st.Error, "etcd is unreachable") {
		t.Fatalf("status error %q", st.Error)
	}
	byID := map[string]gateway.RouteStatus{}
	for _, r := range st.Routes {
		byID[r.ID] = r
	}
	if !byID["prod-fine"].Applied || byID["prod-broken"].Applied || !strings.Contains(byID["prod-broken"].Error, "503 etcd is unreachable") {
		t.Fatalf("route statuses %+v", st.Routes)
	}
	// Once APISIX recovers, the loop repairs it and the status clears.
	fake.FailWrites(nil)
	if err := g.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st := g.Status(); st.Error != "" || len(st.Routes) != 2 || !st.Routes[0].Applied || !st.Routes[1].Applied {
		t.Fatalf("status after recovery %+v", st)
	}
	// Idempotent: nothing to write when nothing changed.
	before := fake.Writes()
	if err := g.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if fake.Writes() != before {
		t.Fatalf("reconcile without changes wrote %d times", fake.Writes()-before)
	}

	// Drift that the Route model cannot see: the plugin removed, an orphan upstream.
	fake.SetObject("routes", "mgx-prod-fine", json.RawMessage(strings.Replace(string(fake.Object("routes", "mgx-prod-fine")), "ext-plugin-pre-req", "ext-plugin-post-req", 1)))
	fake.SetObject("upstreams", "mgx-prod-gone", json.RawMessage(`{"id":"mgx-prod-gone","nodes":[],"labels":{"managed-by":"mgx","mgx_route":"prod-gone"}}`))
	if err := g.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(fake.Object("routes", "mgx-prod-fine")), "ext-plugin-pre-req") {
		t.Fatal("plugin not restored")
	}
	if fake.Object("upstreams", "mgx-prod-gone") != nil {
		t.Fatal("orphan upstream not removed")
	}
}

func TestBadKeyAndConfig(t *testing.T) {
	fake := apisixtest.New(t, key)
	d, err := apisix.New(apisix.Config{AdminURL: fake.URL, AdminKey: "wrong", Fallback: []string{"control:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Ping with a wrong key: %v", err)
	}
	_, err = apisix.New(apisix.Config{AdminURL: fake.URL, AdminKey: key, Fallback: []string{"0.0.0.0:8080"}})
	if err == nil || !strings.Contains(err.Error(), "listen address") {
		t.Fatalf("Fallback on a wildcard address: %v", err)
	}
	if err := newDriver(t, fake).Put(t.Context(), gateway.PlatformRoutes("0.0.0.0:8080")[0]); err == nil {
		t.Fatal("platform route to 0.0.0.0 accepted")
	}
	_, err = apisix.New(apisix.Config{AdminURL: "apisix:9180"})
	for _, want := range []string{"AdminKey", "Fallback", "admin URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("config error %v does not mention %s", err, want)
		}
	}
	if id := apisix.ObjectID(strings.Repeat("a", 100)); len(id) > 64 {
		t.Fatalf("ObjectID too long: %d", len(id))
	}
	// The longest ids MGX accepts still fit APISIX's limits (id 64, name 100).
	long := gateway.AppRoute(gateway.KindProd, strings.Repeat("s", 63), "/api", true, "h:1")
	long.ID = strings.Repeat("x", 128)
	if err := newDriver(t, fake).Put(t.Context(), long); err != nil {
		t.Fatalf("Put with a 128-character id: %v", err)
	}
}

func TestAdminAPIDownInStatus(t *testing.T) {
	fake := apisixtest.New(t, key)
	d := newDriver(t, fake)
	fake.Close() // APISIX is down
	g, err := gateway.New(t.Context(), gateway.Config{Store: storetest.New(t), Driver: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Upsert(t.Context(), gateway.AppRoute(gateway.KindProd, "a", "/", false, "h:1")); err != nil {
		t.Fatalf("Upsert must store the route even when APISIX is down: %v", err)
	}
	if st := g.Status(); !strings.Contains(st.Error, "read apisix routes") {
		t.Fatalf("status error %q", st.Error)
	}
	if rs, err := g.List(t.Context()); err != nil || len(rs) != 1 {
		t.Fatalf("stored routes %v %v", rs, err)
	}
}
