package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as mgx: with MGX_TEST_MAIN=1 it runs main, so the tests
// below can start, signal and kill a real `mgx up` without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("MGX_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestHelpTellsTheTruth(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb, os.Getenv); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for name := range commands() {
		if !strings.Contains(out.String(), "  "+name) {
			t.Errorf("help does not list %q", name)
		}
	}
	out.Reset()
	if code := run([]string{"up", "--help"}, &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("up --help exit %d", code)
	}
	for _, want := range []string{"-http-addr", "MGX_HTTP_ADDR", "-data-dir", "MGX_LLM_PROVIDER", "MGX_SSH_ADDR"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("up --help lacks %s", want)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	none := func(string) string { return "" }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"no command", nil, nil, 2, ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"up", "--bogus"}, nil, 2, "flag provided but not defined: -bogus"},
		{"stray argument", []string{"up", "extra"}, nil, 2, `unexpected argument "extra"`},
		{"bad env values all listed", []string{"up"}, map[string]string{"MGX_RUNTIME": "k8s", "MGX_GATEWAY": "nginx"}, 2, "MGX_RUNTIME \"k8s\": want one of auto, docker, process\n  MGX_GATEWAY"},
		{"version takes no args", []string{"version", "x"}, nil, 2, "takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := none
			if tc.env != nil {
				getenv = func(k string) string { return tc.env[k] }
			}
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb, getenv)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.want)
			}
		})
	}
}

// startUp runs `mgx up` as a child on dir and waits until /readyz answers.
func startUp(t *testing.T, dir, addr string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "up")
	cmd.Env = append(os.Environ(), "MGX_TEST_MAIN=1", "MGX_DATA_DIR="+dir, "MGX_HTTP_ADDR="+addr, "MGX_SSH_ADDR=off", "MGX_LOG_LEVEL=warn")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, &out
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("mgx up did not become ready:\n%s", out.String())
	return nil, nil
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestUpSurvivesSIGKILLAndStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mgx up three times")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd, out := startUp(t, dir, addr)
	pw, err := os.ReadFile(filepath.Join(dir, "admin-password"))
	if err != nil || len(bytes.TrimSpace(pw)) < 16 {
		t.Fatalf("admin-password: %q %v", pw, err)
	}
	if !strings.Contains(out.String(), strings.TrimSpace(string(pw))) {
		t.Fatalf("generated password not printed:\n%s", out)
	}
	if !strings.Contains(out.String(), "per-app users off: the apps server is FerretDB") {
		t.Fatalf("banner does not say apps share the embedded FerretDB:\n%s", out)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "embedded.env"))
	if !strings.Contains(string(env), "MGX_MONGODB_URI=mongodb://") || !strings.Contains(string(env), "MGX_REDIS_URL=redis://") {
		t.Fatalf("embedded.env: %s", env)
	}

	// A second instance on the same data dir is refused with one clear line.
	second := exec.Command(os.Args[0], "up")
	second.Env = append(os.Environ(), "MGX_TEST_MAIN=1", "MGX_DATA_DIR="+dir, "MGX_HTTP_ADDR="+freeAddr(t), "MGX_SSH_ADDR=off")
	b, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "in use by another MGX") {
		t.Fatalf("second instance: %v %s", err, b)
	}

	// SIGKILL, then a restart on the same data dir comes up with the same password,
	// which is no longer printed.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	cmd, out = startUp(t, dir, addr)
	if strings.Contains(out.String(), strings.TrimSpace(string(pw))) {
		t.Fatal("password printed again after restart")
	}
	pw2, _ := os.ReadFile(filepath.Join(dir, "admin-password"))
	if !bytes.Equal(pw, pw2) {
		t.Fatal("admin password changed across restart")
	}

	// SIGTERM stops MGX and its redis-server child.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("mgx up did not stop within 20s of SIGTERM")
	}
	if redisAlive(dir) {
		t.Fatal("redis-server of the data dir still running after SIGTERM")
	}
}

// redisAlive looks for a redis-server whose working dir is in the data dir.
func redisAlive(dir string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("redis-server")) && bytes.Contains(b, []byte(dir)) {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			// A zombie is dead, just not reaped by its new parent.
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] != "Z" {
				return true
			}
		}
	}
	return false
}

func TestUpRefusesBusyPortLeavingNothing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(os.Args[0], "up")
	cmd.Env = append(os.Environ(), "MGX_TEST_MAIN=1", "MGX_DATA_DIR="+dir, "MGX_HTTP_ADDR="+l.Addr().String())
	b, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if err == nil || len(lines) != 1 || !strings.Contains(lines[0], "address already in use") {
		t.Fatalf("busy port: err %v, output %q", err, b)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir created despite the failure: %v", err)
	}
}

// Per-app database users demanded on the embedded FerretDB (no roles): one line saying why.
func TestUpRefusesPerAppDBUsersOnFerretDB(t *testing.T) {
	cmd := exec.Command(os.Args[0], "up")
	cmd.Env = append(os.Environ(), "MGX_TEST_MAIN=1", "MGX_DATA_DIR="+t.TempDir(), "MGX_HTTP_ADDR="+freeAddr(t),
		"MGX_SSH_ADDR=off", "MGX_APPS_DB_USERS=on", "MGX_LOG_LEVEL=warn", "MGX_RUNTIME=process")
	b, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	if err == nil || !strings.Contains(last, "MGX_APPS_DB_USERS=on") || !strings.Contains(last, "FerretDB") {
		t.Fatalf("MGX_APPS_DB_USERS=on on FerretDB: err %v, output:\n%s", err, b)
	}
}

func TestUpRefusesUnwritableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "up")
	cmd.Env = append(os.Environ(), "MGX_TEST_MAIN=1", "MGX_DATA_DIR="+filepath.Join(file, "sub"), "MGX_HTTP_ADDR="+freeAddr(t))
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "is not usable") {
		t.Fatalf("unwritable data dir: %v %s", err, b)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
	}
	if n != 1 {
		t.Fatalf("want one line, got %d: %s", n, b)
	}
}

func TestNew(t *testing.T) {
	none := func(string) string { return "" }
	dir := filepath.Join(t.TempDir(), "recipes")
	var out, errb bytes.Buffer
	if code := run([]string{"new", "nextjs", dir, "--name", "Recipe Box"}, &out, &errb, none); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "slug recipe-box") {
		t.Fatalf("output %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "mgx.json")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"again into a non-empty dir", []string{"new", "nextjs", dir, "--name", "X"}, "mgx new:"},
		{"unknown framework", []string{"new", "rails", filepath.Join(t.TempDir(), "a")}, "rails"},
		{"missing dir", []string{"new", "nextjs"}, "want a framework"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errb.Reset()
			if code := run(tc.args, &out, &errb, none); code == 0 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
		})
	}
}
