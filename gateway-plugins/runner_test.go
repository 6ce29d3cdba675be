package gatewayplugins

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	A6 "github.com/api7/ext-plugin-proto/go/A6"
	hrc "github.com/api7/ext-plugin-proto/go/A6/HTTPReqCall"
	pc "github.com/api7/ext-plugin-proto/go/A6/PrepareConf"
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/mgx-dev/mgx/apisix"
	"github.com/mgx-dev/mgx/apisix/apisixtest"
	"github.com/mgx-dev/mgx/gateway"
)

// RPC types of the ext-plugin protocol.
const (
	rpcError       = 0
	rpcPrepareConf = 1
	rpcHTTPReqCall = 2
)

// fakeAPISIX speaks to the runner the way APISIX's ext-plugin does: 1 byte of type, 3 bytes
// of big-endian length, then a flatbuffer.
type fakeAPISIX struct {
	t    *testing.T
	conn net.Conn
	id   uint32
}

func (a *fakeAPISIX) call(ty byte, body []byte) (byte, []byte) {
	a.t.Helper()
	_ = a.conn.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 4)
	binary.BigEndian.PutUint32(hdr, uint32(len(body)))
	hdr[0] = ty
	if _, err := a.conn.Write(append(hdr, body...)); err != nil {
		a.t.Fatalf("write: %v", err)
	}
	if _, err := io.ReadFull(a.conn, hdr); err != nil {
		a.t.Fatalf("read header: %v", err)
	}
	rty := hdr[0]
	hdr[0] = 0
	out := make([]byte, binary.BigEndian.Uint32(hdr))
	if _, err := io.ReadFull(a.conn, out); err != nil {
		a.t.Fatalf("read body: %v", err)
	}
	return rty, out
}

func textEntries(b *flatbuffers.Builder, kv [][2]string, start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	offs := make([]flatbuffers.UOffsetT, len(kv))
	for i, e := range kv {
		name, value := b.CreateString(e[0]), b.CreateString(e[1])
		A6.TextEntryStart(b)
		A6.TextEntryAddName(b, name)
		A6.TextEntryAddValue(b, value)
		offs[i] = A6.TextEntryEnd(b)
	}
	start(b, len(offs))
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	return b.EndVector(len(offs))
}

// prepareConf sends the route's ext-plugin-pre-req conf and returns the token.
func (a *fakeAPISIX) prepareConf(key string, conf [][2]string) uint32 {
	a.t.Helper()
	b := flatbuffers.NewBuilder(256)
	k := b.CreateString(key)
	vec := textEntries(b, conf, pc.ReqStartConfVector)
	pc.ReqStart(b)
	pc.ReqAddKey(b, k)
	pc.ReqAddConf(b, vec)
	b.Finish(pc.ReqEnd(b))
	ty, out := a.call(rpcPrepareConf, b.FinishedBytes())
	if ty != rpcPrepareConf {
		a.t.Fatalf("PrepareConf answered type %d", ty)
	}
	return pc.GetRootAsResp(out, 0).ConfToken()
}

type callResult struct {
	rpcType  byte
	action   hrc.Action
	path     string
	headers  map[string]string
	status   int
	body     string
	location string
}

func (a *fakeAPISIX) httpReqCall(token uint32, path string, args [][2]string) callResult {
	a.t.Helper()
	a.id++
	b := flatbuffers.NewBuilder(256)
	p := b.CreateString(path)
	argVec := textEntries(b, args, hrc.ReqStartArgsVector)
	hdrVec := textEntries(b, [][2]string{{"Host", "mgx.example"}}, hrc.ReqStartHeadersVector)
	src := b.CreateByteVector(net.IPv4(127, 0, 0, 1).To4())
	hrc.ReqStart(b)
	hrc.ReqAddId(b, a.id)
	hrc.ReqAddConfToken(b, token)
	hrc.ReqAddSrcIp(b, src)
	hrc.ReqAddPath(b, p)
	hrc.ReqAddArgs(b, argVec)
	hrc.ReqAddHeaders(b, hdrVec)
	hrc.ReqAddMethod(b, A6.MethodGET)
	b.Finish(hrc.ReqEnd(b))
	ty, out := a.call(rpcHTTPReqCall, b.FinishedBytes())
	res := callResult{rpcType: ty, headers: map[string]string{}}
	if ty != rpcHTTPReqCall {
		return res
	}
	resp := hrc.GetRootAsResp(out, 0)
	if resp.Id() != a.id {
		a.t.Fatalf("response id %d, want %d", resp.Id(), a.id)
	}
	res.action = resp.ActionType()
	tbl := new(flatbuffers.Table)
	te := new(A6.TextEntry)
	switch res.action {
	case hrc.ActionRewrite:
		resp.Action(tbl)
		rw := new(hrc.Rewrite)
		rw.Init(tbl.Bytes, tbl.Pos)
		res.path = string(rw.Path())
		for i := range rw.HeadersLength() {
			rw.Headers(te, i)
			res.headers[string(te.Name())] = string(te.Value())
		}
	case hrc.ActionStop:
		resp.Action(tbl)
		st := new(hrc.Stop)
		st.Init(tbl.Bytes, tbl.Pos)
		res.status = int(st.Status())
		res.body = string(st.BodyBytes())
		for i := range st.HeadersLength() {
			st.Headers(te, i)
			res.headers[string(te.Name())] = string(te.Value())
		}
		res.location = res.headers["Location"]
	}
	return res
}

// TestRunnerSocketProtocol starts `mgx plugin-runner` on a unix socket and plays APISIX.
func TestRunnerSocketProtocol(t *testing.T) {
	dir, err := os.MkdirTemp("", "mgxr") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "runner.sock")
	var logs syncBuffer
	errc := make(chan error, 1)
	rctx, stop := context.WithCancel(t.Context())
	go func() { errc <- RunPluginRunner(rctx, RunnerConfig{ListenAddress: "unix:" + sock, LogOutput: &logs}) }()

	var conn net.Conn
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("runner socket never answered: %v", err)
		}
	}
	defer conn.Close()
	a := &fakeAPISIX{t: t, conn: conn}

	api := a.prepareConf("route-api", [][2]string{{"mgx-app-router", `{"route":"prod-a-api","kind":"prod","slug":"a","prefix":"/apps/a/api/","strip":true}`}})
	front := a.prepareConf("route-front", [][2]string{{"mgx-app-router", `{"route":"prod-a","kind":"prod","slug":"a","prefix":"/apps/a/"}`}})
	broken := a.prepareConf("route-broken", [][2]string{{"mgx-app-router", `{"kind":"prod","slug":"a","prefix":"/apps/b/"}`}})
	if api == front || api == 0 || front == 0 {
		t.Fatalf("tokens %d %d", api, front)
	}
	if again := a.prepareConf("route-api", nil); again != api {
		t.Fatalf("same key gave token %d, want cached %d", again, api)
	}

	tests := []struct {
		name     string
		token    uint32
		path     string
		args     [][2]string
		rpcType  byte
		action   hrc.Action
		path2    string
		status   int
		location string
	}{
		{name: "strip base path", token: api, path: "/apps/a/api/health", rpcType: rpcHTTPReqCall, action: hrc.ActionRewrite, path2: "/api/health"},
		{name: "frontend unchanged", token: front, path: "/apps/a/index.html", rpcType: rpcHTTPReqCall, action: hrc.ActionNONE},
		{name: "redirect keeps query", token: api, path: "/apps/a/api", args: [][2]string{{"q", "1"}}, rpcType: rpcHTTPReqCall, action: hrc.ActionStop, status: 308, location: "/apps/a/api/?q=1"},
		{name: "leaving the app refused", token: front, path: "/apps/a/../b/x", rpcType: rpcHTTPReqCall, action: hrc.ActionStop, status: 404},
		{name: "climbing refused", token: front, path: "/../../etc/passwd", rpcType: rpcHTTPReqCall, action: hrc.ActionStop, status: 400},
		{name: "too long", token: front, path: "/apps/a/" + string(bytes.Repeat([]byte("x"), 9000)), rpcType: rpcHTTPReqCall, action: hrc.ActionStop, status: 414},
		{name: "invalid conf skipped by runner", token: broken, path: "/apps/b/x", rpcType: rpcHTTPReqCall, action: hrc.ActionNONE},
		{name: "unknown token is an RPC error", token: 9999, path: "/apps/a/", rpcType: rpcError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			got := a.httpReqCall(tt.token, tt.path, tt.args)
			if got.rpcType != tt.rpcType || got.action != tt.action || got.path != tt.path2 || got.status != tt.status || got.location != tt.location {
				t.Fatalf("got %+v", got)
			}
			if tt.action == hrc.ActionRewrite && got.headers["X-Forwarded-Prefix"] != "/apps/a" {
				t.Fatalf("X-Forwarded-Prefix: %+v", got.headers)
			}
			if tt.status >= 400 && !bytes.Contains([]byte(got.body), []byte(`"error"`)) {
				t.Fatalf("error body %q", got.body)
			}
		})
	}
	a.t = t

	// End to end: the conf the APISIX driver writes for a route, as the runner receives it.
	fake := apisixtest.New(t, "k")
	drv, err := apisix.New(apisix.Config{AdminURL: fake.URL, AdminKey: "k", Fallback: []string{"control:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := drv.Put(t.Context(), gateway.AppRoute(gateway.KindDev, "shop", "/api", true, "10.0.0.1:8000")); err != nil {
		t.Fatal(err)
	}
	var ro struct {
		Plugins map[string]apisix.ExtPluginConf `json:"plugins"`
	}
	if err := json.Unmarshal(fake.Object("routes", "mgx-dev-shop-api"), &ro); err != nil {
		t.Fatal(err)
	}
	var entries [][2]string
	for _, e := range ro.Plugins["ext-plugin-pre-req"].Conf {
		entries = append(entries, [2]string{e.Name, e.Value})
	}
	tok := a.prepareConf("mgx-dev-shop-api#1", entries)
	if got := a.httpReqCall(tok, "/dev/shop/api/cart/items", nil); got.action != hrc.ActionRewrite || got.path != "/api/cart/items" || got.headers["X-Forwarded-Prefix"] != "/dev/shop" {
		t.Fatalf("driver conf through the runner: %+v", got)
	}

	if !strings.Contains(logs.String(), "failed to parse configuration") {
		t.Errorf("runner did not log the invalid conf: %s", logs.String())
	}

	stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("RunPluginRunner: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runner did not stop")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// syncBuffer is a bytes.Buffer the runner's logger and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunnerBadAddress(t *testing.T) {
	for _, addr := range []string{"", "/tmp/x.sock", "tcp:127.0.0.1:1", "unix:/does/not/exist/r.sock"} {
		t.Run(fmt.Sprintf("%q", addr), func(t *testing.T) {
			t.Setenv(EnvListenAddress, "")
			if err := RunPluginRunner(t.Context(), RunnerConfig{ListenAddress: addr}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
