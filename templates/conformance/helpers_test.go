package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// browser is a cookie-keeping client that stops at every redirect, as the tests follow
// them by hand.
type browser struct {
	origin string
	c      *http.Client
}

func newBrowser(origin string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{origin: origin, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(t *testing.T, method, target string, body io.Reader, contentType string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// json calls the app's API at path (under MGX's origin) and decodes the answer into out.
func (b *browser) json(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	var body io.Reader
	ct := ""
	if in != nil {
		data, _ := json.Marshal(in)
		body, ct = bytes.NewReader(data), "application/json"
	}
	resp, data := b.do(t, method, b.origin+path, body, ct)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, clip(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, clip(data), err)
		}
	}
}

// text GETs a page under the base path, following one permanent redirect (Next.js drops
// a trailing slash, the static server adds one to the bare base path).
func (b *browser) text(t *testing.T, basePath, path string, want int) string {
	t.Helper()
	resp, data := b.do(t, "GET", b.origin+basePath+path, nil, "")
	if resp.StatusCode == http.StatusPermanentRedirect {
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.Path, basePath) {
			t.Fatalf("GET %s redirects to %q, outside the base path", path, resp.Header.Get("Location"))
		}
		resp, data = b.do(t, "GET", loc.String(), nil, "")
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s%s = %d, want %d", basePath, path, resp.StatusCode, want)
	}
	return string(data)
}

// signIn walks /api/auth/login → MGX's authorize endpoint and sign-in form → the app's
// callback → the app's home.
func (b *browser) signIn(t *testing.T, mgxBase, basePath, clientID string) {
	t.Helper()
	home := b.origin + basePath + "/"
	next := b.origin + basePath + "/api/auth/login"
	sawForm := false
	for range 10 {
		resp, page := b.do(t, "GET", next, nil, "")
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusTemporaryRedirect:
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(loc.String(), mgxBase+"/oauth2/authorize") {
				q := loc.Query()
				if q.Get("client_id") != clientID || q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
					t.Errorf("authorize request lacks PKCE S256 or client %s: %s", clientID, loc)
				}
				if want := b.origin + basePath + "/api/auth/callback"; q.Get("redirect_uri") != want {
					t.Errorf("redirect_uri = %q, want %q", q.Get("redirect_uri"), want)
				}
			}
			if loc.String() == home {
				if !sawForm {
					t.Fatal("signed in without MGX's sign-in form")
				}
				return // the app's callback sent us home: signed in
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK && strings.Contains(string(page), `name="password"`):
			if !strings.HasPrefix(resp.Request.URL.String(), mgxBase+"/oauth2/") {
				t.Fatalf("a password form outside MGX's provider: %s", resp.Request.URL)
			}
			sawForm = true
			action, fields := parseForm(t, resp.Request.URL, page)
			fields.Set("username", email)
			fields.Set("password", password)
			resp, data := b.do(t, "POST", action, strings.NewReader(fields.Encode()), "application/x-www-form-urlencoded")
			if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in form answered %d: %s", resp.StatusCode, clip(data))
			}
			loc, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if !strings.HasPrefix(loc.String(), b.origin+basePath+"/api/auth/callback") {
				t.Fatalf("MGX sends the browser to %s, want the app's callback", loc)
			}
			next = loc.String()
		default:
			t.Fatalf("GET %s = %d: %s", next, resp.StatusCode, clip(page))
		}
	}
	t.Fatal("sign-in did not finish within 10 steps")
}

// parseForm reads the sign-in page's form: its action and every input's value.
func parseForm(t *testing.T, base *url.URL, page []byte) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse sign-in page: %v", err)
	}
	action := ""
	fields := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				action = attrs["action"]
			case "input":
				if attrs["name"] != "" {
					fields.Set(attrs["name"], attrs["value"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	u, err := base.Parse(action)
	if action == "" || err != nil {
		t.Fatalf("no usable form on the sign-in page (action %q, %v):\n%s", action, err, clip(page))
	}
	return u.String(), fields
}

// with returns a copy of env with k set to v ("" removes it).
func with(env map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for key, val := range env {
		out[key] = val
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// appEnvNames are never inherited from the test's environment.
var appEnvNames = []string{"PORT", "BASE_PATH", "PUBLIC_URL", "MGX_OAUTH_ISSUER", "MGX_OAUTH_CLIENT_ID",
	"MGX_OAUTH_CLIENT_SECRET", "MONGODB_URL", "MONGODB_DB", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SERVICE_NAME", "NODE_ENV"}

// command runs argv in dir with the host's environment (without the app's variables and
// MGX's own settings, as MGX's runtime gives its workloads) plus env, in its own process
// group, which cancelling ctx kills.
func command(ctx context.Context, dir string, env map[string]string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(appEnvNames, name) && !strings.HasPrefix(name, "MGX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CI=1", "NEXT_TELEMETRY_DISABLED=1", "NO_COLOR=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// A process group, so stopping npm also stops the node server it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a command to completion, saying every minute that it still runs, and fails
// the test with the tail of its output. It gets 10 minutes at most, and stops early enough
// before go test's -timeout for the failure, its output and the cleanups to be seen (a
// timed-out test binary only dumps its goroutines).
func run(t *testing.T, pr *progress, dir string, env map[string]string, argv ...string) {
	t.Helper()
	limit := 10 * time.Minute
	if d, ok := t.Deadline(); ok {
		limit = min(limit, time.Until(d)-cleanupReserve)
	}
	if limit <= 0 {
		t.Fatalf("no time left before go test's -timeout to run %s", strings.Join(argv, " "))
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	what := strings.Join(argv, " ") + " (in " + filepath.Base(dir) + ")"
	began := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				pr.logf("  still running after %s: %s", time.Since(began).Round(time.Second), what)
			}
		}
	}()
	out, err := command(ctx, dir, env, argv...).CombinedOutput()
	close(stop)
	wg.Wait()
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("stopped at its time limit (%s)", limit.Round(time.Second))
		}
		t.Fatalf("%s: %v after %s; last output:\n%s", what, err, time.Since(began).Round(time.Second), tail(out, 6000))
	}
	pr.logf("  %s: %.1fs", what, time.Since(began).Seconds())
}

// cleanupReserve is kept free before go test's -timeout: stopping servers and MGX and
// removing the workspaces (node_modules) take up to about a minute on a busy machine.
const cleanupReserve = 90 * time.Second

// start runs a server until the test ends; its output is logged when the test fails.
func start(t *testing.T, dir string, env map[string]string, argv ...string) {
	t.Helper()
	cmd := command(context.Background(), dir, env, argv...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Logf("%s did not stop within 5s of SIGTERM: killing its process group", strings.Join(argv, " "))
		}
		// Whatever is left of the group (npm's children) goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("output of %s (in %s):\n%s", strings.Join(argv, " "), filepath.Base(dir), tail(out.Bytes(), 6000))
		}
	})
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitOK(t *testing.T, u string, timeout time.Duration) {
	t.Helper()
	waitFor(t, u, timeout, func(status int) bool { return status == http.StatusOK })
}

// waitFor polls u until ok(status) holds; status 0 means no answer yet.
func waitFor(t *testing.T, u string, timeout time.Duration, ok func(int) bool) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(timeout)
	last := 0
	for time.Now().Before(deadline) {
		status := 0
		if resp, err := client.Get(u); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		if ok(status) {
			return
		}
		last = status
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: no good answer within %s (last status %d)", u, timeout, last)
}
