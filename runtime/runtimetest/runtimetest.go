// Package runtimetest is the conformance suite every runtime driver passes:
// each driver's test calls RunTests with a function that builds a fresh driver.
package runtimetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/runtime"
)

// Harness is what a driver's test provides.
type Harness struct {
	// Driver under test.
	Driver runtime.Driver
	// Image has /bin/sh, coreutils and node on PATH (docker: mgx/node:22).
	Image string
	// Restart returns a new driver instance over the same backend, as after an MGX restart.
	Restart func(t *testing.T) runtime.Driver
}

// RunTests runs the conformance suite; newHarness is called once per test.
func RunTests(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"ExitCodeAndLogs", testExitCodeAndLogs},
		{"EnvDirAndMount", testEnvDirAndMount},
		{"Port", testPort},
		{"StopGraceful", testStopGraceful},
		{"StopKillsAfterTimeout", testStopKill},
		{"LogsFollow", testLogsFollow},
		{"LogsTail", testLogsTail},
		{"Exec", testExec},
		{"ExecTTYAndResize", testExecTTY},
		{"ExecNotRunning", testExecNotRunning},
		{"ExecDoesNotWaitForStdin", testExecOpenStdin},
		{"Recover", testRecover},
		{"RecoverExited", testRecoverExited},
		{"UnknownHandle", testUnknown},
		{"NameConflict", testNameConflict},
		{"HandleRoundTripsThroughJSON", testHandleJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newHarness(t))
		})
	}
}

func name(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "mgxtest-" + hex.EncodeToString(b)
}

func start(t *testing.T, h Harness, spec runtime.Spec) *runtime.Handle {
	t.Helper()
	if spec.Name == "" {
		spec.Name = name(t)
	}
	if spec.Image == "" {
		spec.Image = h.Image
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{"mgx.test": "1"}
	}
	if spec.Resources == (runtime.Resources{}) {
		spec.Resources = runtime.Resources{MemoryBytes: 256 << 20, CPUs: 1, Pids: 128}
	}
	hd, err := h.Driver.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Driver.Remove(ctx, hd); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	return hd
}

func wait(t *testing.T, h Harness, hd *runtime.Handle) runtime.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := h.Driver.Wait(ctx, hd)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}

func logs(t *testing.T, h Harness, hd *runtime.Handle, opts runtime.LogOptions) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rc, err := h.Driver.Logs(ctx, hd, opts)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Logs read: %v", err)
	}
	return string(b)
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// loop runs until stopped and reacts to SIGTERM only as the script says.
const loop = `while :; do sleep 0.1; done`

func testExitCodeAndLogs(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`echo to-stdout; echo to-stderr >&2; exit 3`)})
	if res := wait(t, h, hd); res.ExitCode != 3 {
		t.Errorf("exit code = %d, want 3", res.ExitCode)
	}
	st, err := h.Driver.Inspect(t.Context(), hd)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if st.State != runtime.StateExited || st.ExitCode != 3 {
		t.Errorf("Inspect = %+v, want exited with 3", st)
	}
	if st.StartedAt.IsZero() {
		t.Errorf("StartedAt is zero")
	}
	out := logs(t, h, hd, runtime.LogOptions{})
	for _, want := range []string{"to-stdout", "to-stderr"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs %q lack %q", out, want)
		}
	}
}

func testEnvDirAndMount(t *testing.T, h Harness) {
	ws := t.TempDir()
	if err := os.Chmod(ws, 0o777); err != nil { // a non-root container user must write here
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(ws, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	hd := start(t, h, runtime.Spec{
		Command: sh(`echo "$GREETING" > out.txt`),
		Dir:     "/workspace/sub",
		Env:     map[string]string{"GREETING": "hello mgx"},
		Mounts:  []runtime.Mount{{Source: ws, Target: "/workspace"}},
	})
	if res := wait(t, h, hd); res.ExitCode != 0 {
		t.Fatalf("exit code = %d; logs: %s", res.ExitCode, logs(t, h, hd, runtime.LogOptions{}))
	}
	b, err := os.ReadFile(filepath.Join(ws, "sub", "out.txt"))
	if err != nil {
		t.Fatalf("file written in the workload's dir: %v", err)
	}
	if got := strings.TrimSpace(string(b)); got != "hello mgx" {
		t.Errorf("out.txt = %q", got)
	}
}

func testPort(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{
		Command: []string{"node", "-e", `require("http").createServer((q,s)=>s.end("pong "+q.url)).listen(+process.env.PORT, "0.0.0.0")`},
		Env:     map[string]string{"PORT": "3000"},
		Ports:   []int{3000},
	})
	addr := hd.Addr(3000)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Addr(3000) = %q, want 127.0.0.1:H (ports %+v)", addr, hd.Ports)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/x")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) == "pong /x" {
				return
			}
			err = errors.New(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("server on %s never answered: %v; logs: %s", addr, err, logs(t, h, hd, runtime.LogOptions{}))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitForLog(t *testing.T, h Harness, hd *runtime.Handle, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs(t, h, hd, runtime.LogOptions{}), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testStopGraceful(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`trap 'echo got-term; exit 0' TERM; echo ready; ` + loop)})
	waitForLog(t, h, hd, "ready")
	begin := time.Now()
	if err := h.Driver.Stop(t.Context(), hd, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(begin); d > 8*time.Second {
		t.Errorf("graceful stop took %v", d)
	}
	st, err := h.Driver.Inspect(t.Context(), hd)
	if err != nil || st.State != runtime.StateExited {
		t.Fatalf("after Stop: %+v, %v", st, err)
	}
	if !strings.Contains(logs(t, h, hd, runtime.LogOptions{}), "got-term") {
		t.Errorf("the workload did not see SIGTERM")
	}
	if err := h.Driver.Stop(t.Context(), hd, time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func testStopKill(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`trap '' TERM; echo ready; ` + loop)})
	waitForLog(t, h, hd, "ready")
	begin := time.Now()
	if err := h.Driver.Stop(t.Context(), hd, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("kill took %v", d)
	}
	res := wait(t, h, hd)
	if res.ExitCode == 0 {
		t.Errorf("exit code 0 after a kill")
	}
}

func testLogsFollow(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`for i in 1 2 3; do echo line$i; sleep 0.3; done`)})
	out := logs(t, h, hd, runtime.LogOptions{Follow: true}) // returns when the workload exits
	if out != "line1\nline2\nline3\n" {
		t.Errorf("followed logs = %q", out)
	}
}

func testLogsTail(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`for i in 1 2 3 4 5 6; do echo line$i; done`)})
	wait(t, h, hd)
	if out := logs(t, h, hd, runtime.LogOptions{Tail: 2}); out != "line5\nline6\n" {
		t.Errorf("tail 2 = %q", out)
	}
}

func testExec(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(loop), Env: map[string]string{"FROM_SPEC": "spec"}})
	var stdout, stderr bytes.Buffer
	code, err := h.Driver.Exec(t.Context(), hd, runtime.ExecOptions{
		Command: sh(`cat; echo "$FROM_SPEC-$FROM_EXEC"; echo oops >&2; exit 4`),
		Env:     map[string]string{"FROM_EXEC": "exec"},
		Stdin:   strings.NewReader("input|"),
		Stdout:  &stdout, Stderr: &stderr,
	})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if code != 4 {
		t.Errorf("exit code = %d, want 4", code)
	}
	if got := stdout.String(); got != "input|spec-exec\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := stderr.String(); got != "oops\n" {
		t.Errorf("stderr = %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
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

func testExecTTY(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(loop)})
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	resize := make(chan runtime.TermSize, 1)
	var out syncBuffer
	done := make(chan error, 1)
	var code int
	go func() {
		var err error
		code, err = h.Driver.Exec(t.Context(), hd, runtime.ExecOptions{
			Command: sh(`stty size; test -t 0 && echo is-a-tty; read line; stty size; exit 7`),
			TTY:     true, Stdin: stdinR, Stdout: &out,
			Size: runtime.TermSize{Rows: 30, Cols: 100}, Resize: resize,
		})
		done <- err
	}()
	waitFor(t, func() bool { return strings.Contains(out.String(), "is-a-tty") }, "tty output")
	if !strings.Contains(out.String(), "30 100") {
		t.Errorf("initial size: output %q lacks 30 100", out.String())
	}
	resize <- runtime.TermSize{Rows: 40, Cols: 120}
	time.Sleep(300 * time.Millisecond)
	_, _ = io.WriteString(stdinW, "go\r")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("tty exec did not finish; output %q", out.String())
	}
	if code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
	if !strings.Contains(out.String(), "40 120") {
		t.Errorf("after resize: output %q lacks 40 120", out.String())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testExecNotRunning(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`true`)})
	wait(t, h, hd)
	_, err := h.Driver.Exec(t.Context(), hd, runtime.ExecOptions{Command: sh("true")})
	if !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("Exec in an exited workload: %v, want ErrNotRunning", err)
	}
}

func roundTrip(t *testing.T, hd *runtime.Handle) *runtime.Handle {
	t.Helper()
	b, err := json.Marshal(hd)
	if err != nil {
		t.Fatal(err)
	}
	var out runtime.Handle
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func testRecover(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`trap 'exit 0' TERM; echo before; ` + loop), Ports: []int{3000}, Env: map[string]string{"PORT": "3000"}})
	waitForLog(t, h, hd, "before")
	d2 := h.Restart(t)
	h2 := roundTrip(t, hd)
	if err := d2.Recover(t.Context(), h2); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if h2.Addr(3000) != hd.Addr(3000) {
		t.Errorf("recovered port %q, started with %q", h2.Addr(3000), hd.Addr(3000))
	}
	st, err := d2.Inspect(t.Context(), h2)
	if err != nil || st.State != runtime.StateRunning {
		t.Fatalf("recovered Inspect = %+v, %v", st, err)
	}
	var out bytes.Buffer
	if code, err := d2.Exec(t.Context(), h2, runtime.ExecOptions{Command: sh("echo exec-after-recover"), Stdout: &out}); err != nil || code != 0 {
		t.Errorf("Exec after Recover: %d, %v", code, err)
	}
	waited := make(chan runtime.ExitResult, 1)
	go func() {
		res, _ := d2.Wait(t.Context(), h2)
		waited <- res
	}()
	if err := d2.Stop(t.Context(), h2, 5*time.Second); err != nil {
		t.Fatalf("Stop after Recover: %v", err)
	}
	select {
	case res := <-waited:
		if res.ExitCode != 0 {
			t.Errorf("recovered workload exit code = %d, want 0 (graceful)", res.ExitCode)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Wait after Recover did not return")
	}
	if !strings.Contains(logs(t, Harness{Driver: d2}, h2, runtime.LogOptions{}), "before") {
		t.Errorf("logs lost across Recover")
	}
}

func testRecoverExited(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`exit 5`)})
	wait(t, h, hd)
	d2 := h.Restart(t)
	h2 := roundTrip(t, hd)
	if err := d2.Recover(t.Context(), h2); err != nil {
		t.Fatalf("Recover of an exited workload: %v", err)
	}
	st, err := d2.Inspect(t.Context(), h2)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != runtime.StateExited || st.ExitCode != 5 {
		t.Errorf("Inspect = %+v, want exited 5", st)
	}
}

func testUnknown(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`true`)})
	wait(t, h, hd)
	gone := roundTrip(t, hd)
	if err := h.Driver.Remove(t.Context(), hd); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	d2 := h.Restart(t)
	if err := d2.Recover(t.Context(), gone); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Recover of a removed workload: %v, want ErrNotFound", err)
	}
	if _, err := d2.Inspect(t.Context(), gone); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Inspect of a removed workload: %v, want ErrNotFound", err)
	}
	if err := d2.Remove(t.Context(), gone); err != nil {
		t.Errorf("Remove twice: %v", err)
	}
}

func testNameConflict(t *testing.T, h Harness) {
	n := name(t)
	start(t, h, runtime.Spec{Name: n, Command: sh(loop)})
	_, err := h.Driver.Start(t.Context(), runtime.Spec{Name: n, Image: h.Image, Command: sh(loop)})
	if !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("second Start with the same name: %v, want ErrConflict", err)
	}
}

func testHandleJSON(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(`true`), Labels: map[string]string{"mgx.app": "demo", "mgx.role": "dev"}})
	got := roundTrip(t, hd)
	if got.ID != hd.ID || got.Driver != h.Driver.Name() || got.Labels["mgx.app"] != "demo" || !got.StartedAt.Equal(hd.StartedAt) {
		t.Errorf("round-tripped handle %+v differs from %+v", got, hd)
	}
}

// A client that never closes stdin (an SSH exec request) does not keep Exec from returning.
func testExecOpenStdin(t *testing.T, h Harness) {
	hd := start(t, h, runtime.Spec{Command: sh(loop)})
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		code, err := h.Driver.Exec(t.Context(), hd, runtime.ExecOptions{Command: sh("echo finished; exit 2"), Stdin: stdinR, Stdout: &out})
		if err == nil && code != 2 {
			err = fmt.Errorf("exit code %d, want 2", code)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Exec waited for stdin to close")
	}
	if out.String() != "finished\n" {
		t.Errorf("output %q", out.String())
	}
}
