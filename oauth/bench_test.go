package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mgx-dev/mgx/password"
)

// serve runs one request through the provider's mux (no network) and decodes the JSON.
func serve(tb testing.TB, h http.Handler, path string, form url.Values, user, pass string) (int, map[string]any) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		tb.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Code, m
}

// cpuTime is the process's user+system CPU time so far. The machine these benchmarks run
// on is shared, so wall-clock rates say more about the neighbours than about this code;
// CPU time per op (FerretDB included: it runs in the test process) gives the rate one
// core would sustain.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ms/op and the per-core rate it implies.
func reportCPU(b *testing.B, start time.Duration, unit string) {
	per := float64(cpuTime()-start) / float64(b.N)
	b.ReportMetric(per/1e6, "cpu-ms/op")
	b.ReportMetric(1e9/per, unit+"/core-s")
}

func benchEnv(b *testing.B) (*env, http.Handler) {
	e := newEnv(b, func(c *Config) { c.MaxFailuresPerAddress = 1 << 30 })
	mux := http.NewServeMux()
	e.p.Mount(mux)
	return e, mux
}

// BenchmarkRefreshGrant: one refresh_token grant per op (rotation: each op uses the token
// the previous one returned), storage on embedded FerretDB.
func BenchmarkRefreshGrant(b *testing.B) {
	e, h := benchEnv(b)
	tok, err := e.cliConfig().PasswordCredentialsToken(b.Context(), userEmail, userPass)
	if err != nil {
		b.Fatal(err)
	}
	rt := tok.RefreshToken
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		st, m := serve(b, h, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {CLIClientID}, "refresh_token": {rt}}, "", "")
		if st != 200 {
			b.Fatalf("refresh: %d %v", st, m)
		}
		rt = m["refresh_token"].(string)
	}
	reportCPU(b, c0, "grants")
}

// BenchmarkVerify: the control plane's local JWT check (ES256, claims) per request.
// p99-µs is wall time, which on a shared machine mostly measures waiting for a core;
// p99-cpu-µs is the thread's own CPU time per check (the goroutine is locked to its
// thread), what the check costs when it has a core.
func BenchmarkVerify(b *testing.B) {
	e, _ := benchEnv(b)
	tok, err := e.cliConfig().PasswordCredentialsToken(b.Context(), userEmail, userPass)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() time.Duration {
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
		return time.Duration(ts.Nano())
	}
	wall := make([]time.Duration, 0, 1<<16)
	cpu := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		t0, u0 := time.Now(), threadCPU()
		if _, err := e.verifier.Verify(ctx, tok.AccessToken); err != nil {
			b.Fatal(err)
		}
		cpu = append(cpu, threadCPU()-u0)
		wall = append(wall, time.Since(t0))
	}
	reportCPU(b, c0, "verifies")
	p99 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)*99/100].Nanoseconds()) / 1e3
	}
	b.ReportMetric(p99(wall), "p99-µs")
	b.ReportMetric(p99(cpu), "p99-cpu-µs")
}

// BenchmarkIntrospect: RFC 7662 introspection of an access token by a confidential client.
func BenchmarkIntrospect(b *testing.B) {
	e, h := benchEnv(b)
	ctx := b.Context()
	_, secret, err := e.p.CreateAppClient(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	tok, err := e.cliConfig().PasswordCredentialsToken(ctx, userEmail, userPass)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		st, m := serve(b, h, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "app-bench", secret)
		if st != 200 || m["active"] != true {
			b.Fatalf("introspect: %d %v", st, m)
		}
	}
	reportCPU(b, c0, "introspections")
}

// BenchmarkPasswordSignIn: a full password grant (Argon2id verify, throttle bookkeeping,
// token issue); compare with BenchmarkArgon2idVerify, its floor.
func BenchmarkPasswordSignIn(b *testing.B) {
	_, h := benchEnv(b)
	form := url.Values{"grant_type": {"password"}, "client_id": {CLIClientID}, "username": {userEmail}, "password": {userPass}}
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		if st, m := serve(b, h, "/oauth2/token", form, "", ""); st != 200 {
			b.Fatalf("sign-in: %d %v", st, m)
		}
	}
	reportCPU(b, c0, "sign-ins")
}

func BenchmarkArgon2idVerify(b *testing.B) {
	hash, _ := password.Hash(userPass)
	c0 := cpuTime()
	for b.Loop() {
		if !password.Verify(hash, userPass) {
			b.Fatal("mismatch")
		}
	}
	reportCPU(b, c0, "verifies")
}
