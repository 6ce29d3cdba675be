package sshd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/runtime/process"
	"github.com/mgx-dev/mgx/sshd"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

// platform fakes the core: apps, their owners, and users' passwords.
type platform struct {
	apps      map[string]*devenv.App
	passwords map[string]string // user → password
}

func (p *platform) DevApp(ctx context.Context, slug string) (*devenv.App, error) {
	if a, ok := p.apps[slug]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("%s: %w", slug, devenv.ErrNotFound)
}

func (p *platform) AppOwner(ctx context.Context, slug string) (string, error) {
	if a, ok := p.apps[slug]; ok {
		return a.OwnerID, nil
	}
	return "", fmt.Errorf("%s: %w", slug, store.ErrNotFound)
}

func (p *platform) CheckPassword(ctx context.Context, userID, pw string) (bool, error) {
	want, ok := p.passwords[userID]
	return ok && pw == want, nil
}

var (
	_ sshd.AppOwners       = (*platform)(nil)
	_ sshd.PasswordChecker = (*platform)(nil)
	_ sshd.Shells          = (*devenv.Manager)(nil)
)

type env struct {
	addr    string
	keys    *sshd.Keys
	api     *httptest.Server
	hostKey gossh.PublicKey
	dataDir string
}

func newEnv(t *testing.T, maxFailures int) *env {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs node on PATH for the process driver")
	}
	data, ws := t.TempDir(), t.TempDir()
	manifest := `{"framework":"nextjs","services":[{"name":"web","dir":".","route":"/","dev":["node","-e","require('http').createServer((q,s)=>s.end('ok')).listen(+process.env.PORT)"],"start":["true"]}]}`
	if err := os.WriteFile(filepath.Join(ws, "mgx.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "hello.txt"), []byte("hello from the workspace\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &platform{
		apps:      map[string]*devenv.App{"demo": {Slug: "demo", OwnerID: "alice", Dir: ws}},
		passwords: map[string]string{"alice": "alice-pw", "bob": "bob-pw"},
	}
	drv, err := process.New(process.Config{StateDir: filepath.Join(data, "process")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := devenv.New(devenv.Config{Driver: drv, Apps: p, DataDir: data, PublicURL: "http://mgx.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background(), "demo") })

	st := storetest.New(t)
	if err := sshd.EnsureKeyIndexes(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	keys := sshd.NewKeys(st.DB())
	srv, err := sshd.New(sshd.Config{DataDir: data, Apps: p, Passwords: p, Keys: keys, Shells: m, MaxFailures: maxFailures})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	mux := http.NewServeMux()
	(&sshd.KeysHandler{Keys: keys}).Mount(mux)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			r = r.WithContext(identity.With(r.Context(), identity.Principal{UserID: u}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	return &env{addr: l.Addr().String(), keys: keys, api: api, hostKey: srv.HostKey(), dataDir: data}
}

func (e *env) dial(user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", e.addr, &gossh.ClientConfig{
		User: user, Auth: auth, HostKeyCallback: gossh.FixedHostKey(e.hostKey), Timeout: 10 * time.Second,
	})
}

func run(t *testing.T, c *gossh.Client, cmd string) (string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// One writer for both streams, without ReadFrom: two io.Copy calls into one
	// bytes.Buffer race (each ReadFrom truncates to the length it started from).
	var out syncBuf
	s.Stdout, s.Stderr = &out, &out
	err = s.Run(cmd)
	var ee *gossh.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitStatus()
	}
	if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return out.String(), 0
}

func TestPasswordLoginAndExec(t *testing.T) {
	e := newEnv(t, 5)
	c, err := e.dial("demo", gossh.Password("alice-pw"))
	if err != nil {
		t.Fatalf("owner's password: %v", err)
	}
	defer c.Close()
	out, code := run(t, c, `cat hello.txt; echo "$BASE_PATH"; exit 3`)
	if out, code := run(t, c, "echo again"); out != "again\n" || code != 0 { // a second session on the connection
		t.Errorf("second exec: %q, exit %d", out, code)
	}
	if out != "hello from the workspace\n/dev/demo\n" || code != 3 {
		t.Errorf("exec: %q, exit %d", out, code)
	}
}

func TestRefusedLogins(t *testing.T) {
	e := newEnv(t, 100)
	tests := []struct {
		name, user, password string
	}{
		{"wrong password", "demo", "nope"},
		{"another user's own password", "demo", "bob-pw"},
		{"unknown app", "nosuchapp", "alice-pw"},
		{"empty password", "demo", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := e.dial(tc.user, gossh.Password(tc.password)); err == nil {
				c.Close()
				t.Error("login accepted")
			}
		})
	}
}

func TestPasswordThrottle(t *testing.T) {
	e := newEnv(t, 3)
	for i := 0; i < 3; i++ {
		if c, err := e.dial("demo", gossh.Password("wrong")); err == nil {
			c.Close()
			t.Fatal("a wrong password was accepted")
		}
	}
	if c, err := e.dial("demo", gossh.Password("alice-pw")); err == nil {
		c.Close()
		t.Error("the right password got through after 3 failures: no throttling")
	}
}

func newKey(t *testing.T) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
}

func (e *env) addKey(t *testing.T, user, pub string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"public_key": pub + " laptop"})
	req, _ := http.NewRequest("POST", e.api.URL+"/api/me/ssh-keys", bytes.NewReader(body))
	req.Header.Set("X-Test-User", user)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestKeyLogin(t *testing.T) {
	e := newEnv(t, 5)
	alice, alicePub := newKey(t)
	bob, bobPub := newKey(t)
	if code := e.addKey(t, "alice", alicePub); code != http.StatusCreated {
		t.Fatalf("POST /api/me/ssh-keys: %d", code)
	}
	if code := e.addKey(t, "bob", bobPub); code != http.StatusCreated {
		t.Fatalf("POST /api/me/ssh-keys: %d", code)
	}
	keyTests := []struct {
		name string
		body string
		want int
	}{
		{"the same key twice", alicePub, http.StatusConflict},
		{"not a key", "ssh-ed25519 garbage", http.StatusBadRequest},
		{"a private key", "-----BEGIN OPENSSH PRIVATE KEY-----", http.StatusBadRequest},
	}
	for _, tc := range keyTests {
		t.Run(tc.name, func(t *testing.T) {
			if code := e.addKey(t, "alice", tc.body); code != tc.want {
				t.Errorf("%d, want %d", code, tc.want)
			}
		})
	}
	c, err := e.dial("demo", gossh.PublicKeys(alice))
	if err != nil {
		t.Fatalf("owner's key: %v", err)
	}
	defer c.Close()
	if out, code := run(t, c, "cat hello.txt"); out != "hello from the workspace\n" || code != 0 {
		t.Errorf("exec: %q %d", out, code)
	}
	if c, err := e.dial("demo", gossh.PublicKeys(bob)); err == nil {
		c.Close()
		t.Error("bob's key opened alice's app")
	}
	unknown, _ := newKey(t)
	if c, err := e.dial("demo", gossh.PublicKeys(unknown)); err == nil {
		c.Close()
		t.Error("an unregistered key got in")
	}
	keys, err := e.keys.List(t.Context(), "alice")
	if err != nil || len(keys) != 1 || keys[0].Name != "laptop" || !strings.HasPrefix(keys[0].Fingerprint, "SHA256:") {
		t.Errorf("List: %+v %v", keys, err)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInteractiveShellWithPty(t *testing.T) {
	e := newEnv(t, 5)
	c, err := e.dial("demo", gossh.Password("alice-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 30, 100, gossh.TerminalModes{gossh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := s.StdinPipe()
	var out syncBuf
	s.Stdout = &out
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	waitOut := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("shell output lacks %q: %q", want, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	io.WriteString(stdin, "stty size; tty >/dev/null && echo on-a-tty; echo $TERM\n")
	waitOut("30 100")
	waitOut("on-a-tty")
	waitOut("xterm")
	if err := s.WindowChange(40, 120); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	io.WriteString(stdin, "stty size\n")
	waitOut("40 120")
	io.WriteString(stdin, "exit 5\n")
	err = s.Wait()
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 5 {
		t.Errorf("shell exit: %v", err)
	}
}

func TestHostKeyPersists(t *testing.T) {
	dir := t.TempDir()
	p := &platform{}
	newServer := func() *sshd.Server {
		s, err := sshd.New(sshd.Config{DataDir: dir, Apps: p, Passwords: p, Shells: (*devenv.Manager)(nil)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := newServer(), newServer()
	if !bytes.Equal(a.HostKey().Marshal(), b.HostKey().Marshal()) {
		t.Error("the host key changed across restarts")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ssh_host_ed25519_key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key file: %v %v", fi, err)
	}
}
