// Package e2e walks the assembled platform end to end: `mgx up` with the process runtime,
// a session through the offline agent team, the dev preview, sign-in to the generated app,
// the files API, deployments, traces and isolation between platform users.
//
// It is slow (npm installs and builds) and runs only with MGX_TEST_E2E=1:
//
//	MGX_TEST_E2E=1 go test -tags ferretdb_no_postgresql -v -timeout 90m ./e2e/
//
// MGX_BIN names the binary (default ../bin/mgx, built when missing); MGX_E2E_FRAMEWORKS
// picks the variants (default "nextjs,fastapi-react", in that order); MGX_E2E_KEEP=1 keeps
// the data dir.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/internal/proctest"
)

const (
	adminEmail    = "admin@mgx.local"
	adminPassword = "e2e-admin-Passw0rd!"
	prompt        = "a recipe book: recipes with a name, ingredients and minutes to cook"

	finishWait  = 25 * time.Minute // prompt → FINISH (the QA engineer installs and tests)
	previewWait = 15 * time.Minute // FINISH → dev state running (npm install)
	deployWait  = 20 * time.Minute // deploy → live (install + build)
	progress    = 30 * time.Second
)

// timing is one measured step, reported at the end.
type timing struct {
	name string
	d    time.Duration
}

var (
	timingsMu sync.Mutex
	timings   []timing
)

func record(name string, d time.Duration) {
	timingsMu.Lock()
	defer timingsMu.Unlock()
	timings = append(timings, timing{name, d.Round(100 * time.Millisecond)})
}

func TestPlatform(t *testing.T) {
	if os.Getenv("MGX_TEST_E2E") != "1" {
		t.Skip("end-to-end test of the assembled platform: set MGX_TEST_E2E=1 to run it (slow: npm installs and builds)")
	}
	bin := mgxBinary(t)
	p := startPlatform(t, bin)
	t.Cleanup(func() {
		timingsMu.Lock()
		defer timingsMu.Unlock()
		var b strings.Builder
		for _, tm := range timings {
			fmt.Fprintf(&b, "  %-45s %s\n", tm.name, tm.d)
		}
		t.Logf("timings:\n%s", b.String())
	})

	start := time.Now()
	admin := p.login(t, adminEmail, adminPassword)
	record("password grant", time.Since(start))
	var me map[string]any
	admin.json(t, "GET", "/api/me", nil, http.StatusOK, &me)
	if me["email"] != adminEmail {
		t.Fatalf("GET /api/me: email = %v, want %s (body %v)", me["email"], adminEmail, me)
	}

	frameworks := strings.Split(envOr("MGX_E2E_FRAMEWORKS", "nextjs,fastapi-react"), ",")
	for _, fw := range frameworks {
		fw = strings.TrimSpace(fw)
		t.Run(fw, func(t *testing.T) {
			runApp(t, p, admin, fw, fw == frameworks[0])
		})
	}
}

// runApp walks one framework through session → preview → sign-in → (files) → deploy →
// (traces, isolation). full adds the steps run once only (files, traces, isolation).
func runApp(t *testing.T, p *platform, owner *client, fw string, full bool) {
	// 2. A session, its events until FINISH.
	t0 := time.Now()
	var sess struct {
		ID          string `json:"id"`
		WorkspaceID string `json:"workspace_id"`
		App         struct {
			Slug string `json:"slug"`
		} `json:"app"`
	}
	owner.json(t, "POST", "/api/sessions", map[string]any{"prompt": prompt, "framework": fw}, http.StatusCreated, &sess)
	if sess.ID == "" || sess.WorkspaceID == "" || sess.App.Slug == "" {
		t.Fatalf("POST /api/sessions: missing id, workspace_id or app.slug: %+v", sess)
	}
	slug := sess.App.Slug
	t.Logf("session %s, workspace %s, app %s", sess.ID, sess.WorkspaceID, slug)

	evs := readUntil(t, owner, sess.ID, "", finishWait, func(e event) bool { return e.Type == "FINISH" })
	record(fw+": prompt → FINISH", time.Since(t0))
	checkContiguous(t, evs)
	fin := evs[len(evs)-1]
	if st, _ := fin.Data["status"].(string); st != "succeeded" {
		t.Errorf("FINISH status = %q, want succeeded; FINISH data: %v; last events:\n%s", st, fin.Data, tail(evs, 15))
	}
	counts := map[string]int{}
	for _, e := range evs {
		counts[e.Type]++
	}
	t.Logf("%d events up to FINISH: %v", len(evs), counts)

	// Resume: Last-Event-ID gives only later events.
	mid := evs[len(evs)/2].Seq
	later := readUntil(t, owner, sess.ID, strconv.FormatInt(mid, 10), time.Minute, func(e event) bool { return e.Seq >= fin.Seq })
	if len(later) == 0 || later[0].Seq != mid+1 {
		t.Errorf("resume with Last-Event-ID %d: first event seq %v, want %d", mid, firstSeq(later), mid+1)
	}
	for _, e := range later {
		if e.Seq <= mid {
			t.Errorf("resume with Last-Event-ID %d delivered seq %d again", mid, e.Seq)
		}
	}
	if want := int(fin.Seq - mid); len(later) != want {
		t.Errorf("resume with Last-Event-ID %d: %d events up to FINISH seq %d, want %d", mid, len(later), fin.Seq, want)
	}

	// 3. The dev preview.
	t1 := time.Now()
	waitDevRunning(t, p, owner, slug)
	record(fw+": FINISH → preview running", time.Since(t1))
	record(fw+": prompt → preview running", time.Since(t0))
	devBase := "/dev/" + slug
	checkHealth(t, p, devBase+"/api/health", time.Minute)
	checkHTML(t, p, devBase+"/")

	// 4. Sign in to the generated app as a browser would.
	appUser := "cook-" + fw + "@example.com"
	appPassword := "app-user-Passw0rd!"
	owner.json(t, "POST", "/api/apps/"+slug+"/users", map[string]any{"email": appUser, "password": appPassword, "name": "Cook " + fw}, http.StatusCreated, nil)
	signIn(t, p, owner, slug, devBase, appUser, appPassword)

	// 5. Files API (once).
	if full {
		filesAPI(t, owner, sess.ID, sess.WorkspaceID, fin.Seq)
	}

	// 6. Deploy, then redeploy under polling.
	t2 := time.Now()
	deploy(t, owner, slug)
	record(fw+": deploy → live", time.Since(t2))
	prodHealth := "/apps/" + slug + "/api/health"
	checkHealth(t, p, prodHealth, 30*time.Second)
	zeroDowntimeRedeploy(t, p, owner, slug, fw)

	if !full {
		return
	}
	// 7. Traces from the app's OpenTelemetry.
	traces(t, p, owner, slug)

	// 8. Another platform user sees none of it.
	isolation(t, p, owner, slug, sess.ID, sess.WorkspaceID)
}

// ---------------------------------------------------------------- the platform process

type platform struct {
	base    string
	dataDir string
	logPath string
	http    *http.Client
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func mgxBinary(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(envOr("MGX_BIN", "../bin/mgx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err == nil {
		t.Logf("using %s", bin)
		return bin
	}
	bin = filepath.Join(t.TempDir(), "mgx")
	t.Logf("%s missing: building %s", envOr("MGX_BIN", "../bin/mgx"), bin)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "ferretdb_no_postgresql", "-o", bin, "../cmd/mgx")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/mgx: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startPlatform(t *testing.T, bin string) *platform {
	t.Helper()
	dataDir, err := os.MkdirTemp("", "mgx-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	httpPort, sshPort := freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	p := &platform{
		base:    "http://" + addr,
		dataDir: dataDir,
		logPath: filepath.Join(dataDir, "mgx-up.log"),
		http:    &http.Client{Timeout: 60 * time.Second, CheckRedirect: noRedirect},
	}
	logf, err := os.Create(p.logPath) // beside the data dir mgx gets (dataDir/data)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up")
	cmd.Env = append(os.Environ(),
		"MGX_DATA_DIR="+filepath.Join(dataDir, "data"),
		"MGX_HTTP_ADDR="+addr,
		"MGX_ADMIN_PASSWORD="+adminPassword,
		"MGX_RUNTIME=process",
		fmt.Sprintf("MGX_SSH_ADDR=127.0.0.1:%d", sshPort),
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s up: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Logf("mgx up: pid %d, %s, data dir %s, log %s", cmd.Process.Pid, p.base, dataDir, p.logPath)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("mgx up did not stop within 30s of SIGTERM: killing its process group")
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		// The process runtime's workloads (dev servers, apps) outlive MGX on purpose (a
		// restart re-attaches to them), each in its own process group: end the ones this
		// run started, found by the data dir in their command line.
		if n := killWorkloads(dataDir); n > 0 {
			t.Logf("ended %d process groups of workloads left running under %s", n, dataDir)
		}
		logf.Close()
		if t.Failed() {
			t.Logf("last lines of the mgx log (%s):\n%s", p.logPath, fileTail(p.logPath, 60))
		}
		if os.Getenv("MGX_E2E_KEEP") != "1" && !t.Failed() {
			os.RemoveAll(dataDir)
		} else {
			t.Logf("data dir kept: %s", dataDir)
		}
	})

	// 1. /readyz 200.
	start := time.Now()
	deadline := start.Add(2 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("mgx up exited before it was ready: %v\n%s", err, fileTail(p.logPath, 60))
		default:
		}
		resp, err := p.http.Get(p.base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %d after 2m: %s", resp.StatusCode, clip(b))
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz not answering after 2m: %v\n%s", err, fileTail(p.logPath, 60))
		}
		time.Sleep(250 * time.Millisecond)
	}
	record("mgx up → /readyz 200", time.Since(start))
	return p
}

// killWorkloads ends what MGX started under dir (proctest.KillUnder).
func killWorkloads(dir string) int { return proctest.KillUnder(dir) }

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (p *platform) get(t *testing.T, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := p.http.Get(p.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// ---------------------------------------------------------------- API client

type client struct {
	p        *platform
	email    string
	password string
	mu       sync.Mutex
	token    string
	expires  time.Time
}

func (p *platform) login(t *testing.T, email, pw string) *client {
	t.Helper()
	c := &client{p: p, email: email, password: pw}
	if err := c.grant(); err != nil {
		t.Fatalf("password grant for %s: %v", email, err)
	}
	return c
}

// grant gets a token with the password grant (access tokens are short-lived: the test
// takes longer than one lives, so it grants again when it nears expiry or gets a 401).
func (c *client) grant() error {
	form := url.Values{"grant_type": {"password"}, "client_id": {"mgx-cli"}, "username": {c.email}, "password": {c.password}, "scope": {"openid"}}
	resp, err := c.p.http.PostForm(c.p.base+"/oauth2/token", form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /oauth2/token: %d %s", resp.StatusCode, clip(b))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("POST /oauth2/token: no access_token in %s (%v)", clip(b), err)
	}
	if tok.ExpiresIn <= 0 {
		tok.ExpiresIn = 300
	}
	c.mu.Lock()
	c.token, c.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	c.mu.Unlock()
	return nil
}

func (c *client) bearer() (string, error) {
	c.mu.Lock()
	tok, exp := c.token, c.expires
	c.mu.Unlock()
	if time.Until(exp) < time.Minute {
		if err := c.grant(); err != nil {
			return "", err
		}
		c.mu.Lock()
		tok = c.token
		c.mu.Unlock()
	}
	return tok, nil
}

// do sends one request (retrying once after a 401 with a fresh token) and returns the
// status, headers and body.
func (c *client) do(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		tok, err := c.bearer()
		if err != nil {
			t.Fatalf("%s %s: token: %v", method, path, err)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, c.p.base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.p.http.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			if err := c.grant(); err != nil {
				t.Fatalf("%s %s: 401, and a new token failed: %v", method, path, err)
			}
			continue
		}
		return resp.StatusCode, resp.Header, b
	}
}

// json sends v as JSON, asserts the status and decodes the answer into out (when non-nil).
func (c *client) json(t *testing.T, method, path string, v any, want int, out any) []byte {
	t.Helper()
	var body []byte
	hdr := map[string]string{}
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		hdr["Content-Type"] = "application/json"
	}
	st, _, b := c.do(t, method, path, body, hdr)
	if st != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, st, want, clip(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, clip(b), err)
		}
	}
	return b
}

// ---------------------------------------------------------------- events (SSE)

type event struct {
	SessionID string         `json:"session_id"`
	Seq       int64          `json:"seq"`
	Type      string         `json:"type"`
	Role      string         `json:"role"`
	Data      map[string]any `json:"data"`
	idField   string
}

// readUntil streams the session's events (after lastID when set) until stop says so,
// within wait, printing progress every 30s.
func readUntil(t *testing.T, c *client, sessionID, lastID string, wait time.Duration, stop func(event) bool) []event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	tok, err := c.bearer()
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/sessions/" + sessionID + "/events"
	req, _ := http.NewRequestWithContext(ctx, "GET", c.p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	stream := &http.Client{CheckRedirect: noRedirect} // no overall timeout: ctx bounds it
	resp, err := stream.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d, content-type %q, want 200 text/event-stream; body %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), clip(b))
	}
	ch := make(chan event)
	errc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var id, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					var e event
					if err := json.Unmarshal([]byte(data), &e); err != nil {
						errc <- fmt.Errorf("event data %q: %w", clip([]byte(data)), err)
						return
					}
					e.idField = id
					select {
					case ch <- e:
					case <-ctx.Done():
						return
					}
				}
				id, data = "", ""
			case strings.HasPrefix(line, "id:"):
				id = strings.TrimSpace(line[3:])
			case strings.HasPrefix(line, "data:"):
				data += strings.TrimPrefix(line[5:], " ")
			}
		}
		errc <- fmt.Errorf("stream ended: %v", sc.Err())
	}()
	start := time.Now()
	tick := time.NewTicker(progress)
	defer tick.Stop()
	var evs []event
	for {
		select {
		case e := <-ch:
			if e.idField != strconv.FormatInt(e.Seq, 10) {
				t.Errorf("SSE id: %q but event seq %d", e.idField, e.Seq)
			}
			evs = append(evs, e)
			if stop(e) {
				return evs
			}
		case err := <-errc:
			t.Fatalf("events of session %s after %s: %v; %d events, last:\n%s", sessionID, time.Since(start).Round(time.Second), err, len(evs), tail(evs, 10))
		case <-tick.C:
			last := "none yet"
			if len(evs) > 0 {
				e := evs[len(evs)-1]
				last = fmt.Sprintf("seq %d %s/%s %s", e.Seq, e.Type, e.Role, summary(e))
			}
			t.Logf("  … %s: %d events; last %s", time.Since(start).Round(time.Second), len(evs), last)
		case <-ctx.Done():
			t.Fatalf("events of session %s: no stop event within %s; %d events, last:\n%s", sessionID, wait, len(evs), tail(evs, 15))
		}
	}
}

func checkContiguous(t *testing.T, evs []event) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Errorf("events not contiguous: seq %d (%s) follows seq %d (%s)", evs[i].Seq, evs[i].Type, evs[i-1].Seq, evs[i-1].Type)
		}
	}
	if len(evs) > 0 && evs[0].Seq > 1 {
		t.Errorf("first event seq %d, want 0 or 1", evs[0].Seq)
	}
}

func summary(e event) string {
	for _, k := range []string{"status", "reason", "path", "tool", "name", "text", "message"} {
		if v, ok := e.Data[k]; ok {
			s := fmt.Sprint(v)
			if len(s) > 120 {
				s = s[:120] + "…"
			}
			return k + "=" + s
		}
	}
	return ""
}

func tail(evs []event, n int) string {
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	var b strings.Builder
	for _, e := range evs {
		d, _ := json.Marshal(e.Data)
		fmt.Fprintf(&b, "  seq %d %s/%s %s\n", e.Seq, e.Type, e.Role, clip(d))
	}
	return b.String()
}

func firstSeq(evs []event) any {
	if len(evs) == 0 {
		return "none"
	}
	return evs[0].Seq
}

// ---------------------------------------------------------------- dev preview

func waitDevRunning(t *testing.T, p *platform, c *client, slug string) {
	t.Helper()
	start := time.Now()
	lastLog, lastWake := time.Now(), time.Time{}
	for {
		var app struct {
			Dev struct {
				State    string `json:"state"`
				Message  string `json:"message"`
				Services []struct {
					Name, State, Message string
					Restarts             int
				} `json:"services"`
			} `json:"dev"`
		}
		c.json(t, "GET", "/api/apps/"+slug, nil, http.StatusOK, &app)
		switch app.Dev.State {
		case "running":
			t.Logf("dev environment running after %s", time.Since(start).Round(time.Second))
			return
		case "stopped", "idle", "":
			// A preview request wakes a sleeping environment; ask like a browser would.
			if time.Since(lastWake) > 20*time.Second {
				lastWake = time.Now()
				go func() {
					resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect}).Get(p.base + "/dev/" + slug + "/")
					if err == nil {
						resp.Body.Close()
					}
				}()
			}
		}
		if time.Since(lastLog) >= progress {
			lastLog = time.Now()
			t.Logf("  … %s: dev state %q %s services %+v", time.Since(start).Round(time.Second), app.Dev.State, app.Dev.Message, app.Dev.Services)
		}
		if time.Since(start) > previewWait {
			t.Fatalf("dev environment of %s not running after %s: state %q, message %q, services %+v", slug, previewWait, app.Dev.State, app.Dev.Message, app.Dev.Services)
		}
		time.Sleep(2 * time.Second)
	}
}

// checkHTML gets path as a browser would (following up to 5 redirects) and wants 200 HTML;
// a redirect loop is reported with its chain.
func checkHTML(t *testing.T, p *platform, path string) {
	t.Helper()
	chain := []string{path}
	u := p.base + path
	for range 6 {
		resp, err := p.http.Get(u)
		if err != nil {
			t.Errorf("GET %s: %v", u, err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 3 {
			next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Errorf("GET %s: bad Location %q", u, resp.Header.Get("Location"))
				return
			}
			u = next.String()
			chain = append(chain, fmt.Sprintf("%d → %s", resp.StatusCode, next.RequestURI()))
			continue
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: status %d, content-type %q, want 200 HTML (redirects: %v); body: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), chain, clip(b))
		}
		return
	}
	t.Errorf("GET %s: redirect loop, a browser shows ERR_TOO_MANY_REDIRECTS: %s", path, strings.Join(chain, " ; "))
}

// checkHealth asks path until it answers 200 with the database ok (within wait).
func checkHealth(t *testing.T, p *platform, path string, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, _, b := p.get(t, path)
		if st == http.StatusOK {
			var h map[string]any
			if err := json.Unmarshal(b, &h); err != nil {
				t.Errorf("GET %s: 200 but not JSON: %s", path, clip(b))
				return
			}
			db := fmt.Sprint(h["database"], h["db"])
			if !strings.Contains(db, "ok") {
				t.Errorf("GET %s: 200 but the database is not reported ok: %s", path, clip(b))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: status %d after %s, want 200; body: %s", path, st, wait, clip(b))
		}
		time.Sleep(time.Second)
	}
}

// ---------------------------------------------------------------- sign-in to the app

var (
	formActionRE = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	csrfRE       = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
)

func signIn(t *testing.T, p *platform, owner *client, slug, base, email, pw string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 60 * time.Second, CheckRedirect: noRedirect}
	abs := func(loc string, from *url.URL) string {
		u, err := from.Parse(loc)
		if err != nil {
			t.Fatalf("bad Location %q: %v", loc, err)
		}
		return u.String()
	}
	step := func(method, u string, form url.Values) (*http.Response, []byte) {
		t.Helper()
		var req *http.Request
		if form != nil {
			req, _ = http.NewRequest(method, u, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, u, nil)
		}
		req.Header.Set("Accept", "text/html,application/json")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatalf("sign-in: %s %s: %v", method, u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}

	// /api/auth/login → 302 to the provider.
	resp, b := step("GET", p.base+base+"/api/auth/login", nil)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("sign-in: GET %s/api/auth/login: status %d, want a redirect to MGX; body %s", base, resp.StatusCode, clip(b))
	}
	authz := abs(resp.Header.Get("Location"), resp.Request.URL)
	au, _ := url.Parse(authz)
	if !strings.HasPrefix(authz, p.base+"/oauth2/authorize") {
		t.Fatalf("sign-in: login redirects to %s, want %s/oauth2/authorize", authz, p.base)
	}
	q := au.Query()
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "app-"+slug {
		t.Errorf("sign-in: authorize request lacks PKCE S256 or client app-%s: %s", slug, authz)
	}
	if want := p.base + base + "/api/auth/callback"; q.Get("redirect_uri") != want {
		t.Errorf("sign-in: redirect_uri = %q, want %q", q.Get("redirect_uri"), want)
	}

	// The provider's HTML form.
	resp, b = step("GET", authz, nil)
	for i := 0; i < 3 && resp.StatusCode/100 == 3; i++ {
		authz = abs(resp.Header.Get("Location"), resp.Request.URL)
		resp, b = step("GET", authz, nil)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: GET %s: status %d, want 200 with the login form; body %s", authz, resp.StatusCode, clip(b))
	}
	page := string(b)
	if !strings.Contains(page, `name="username"`) || !strings.Contains(page, `name="password"`) {
		t.Fatalf("sign-in: the provider's page has no username/password inputs: %s", clip(b))
	}
	action, csrf := authz, ""
	if m := formActionRE.FindStringSubmatch(page); m != nil {
		action = abs(html.UnescapeString(m[1]), resp.Request.URL)
	}
	if m := csrfRE.FindStringSubmatch(page); m != nil {
		csrf = m[1]
	} else {
		t.Errorf("sign-in: no csrf_token input in the login form")
	}

	// Post the form → 302 to the app's callback.
	resp, b = step("POST", action, url.Values{"username": {email}, "password": {pw}, "csrf_token": {csrf}})
	if resp.StatusCode/100 != 3 {
		t.Fatalf("sign-in: POST %s: status %d, want a redirect to the callback; body %s", action, resp.StatusCode, clip(b))
	}
	cb := abs(resp.Header.Get("Location"), resp.Request.URL)
	if !strings.HasPrefix(cb, p.base+base+"/api/auth/callback") {
		t.Fatalf("sign-in: the provider redirects to %s, want %s%s/api/auth/callback", cb, p.base, base)
	}
	resp, b = step("GET", cb, nil)
	if resp.StatusCode/100 != 3 {
		t.Fatalf("sign-in: GET callback: status %d, want a redirect into the app; body %s", resp.StatusCode, clip(b))
	}
	t.Logf("sign-in: callback → %s", resp.Header.Get("Location"))

	// /api/me shows the user.
	resp, b = step("GET", p.base+base+"/api/me", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), email) {
		t.Fatalf("sign-in: GET %s/api/me: status %d, body %s; want 200 naming %s", base, resp.StatusCode, clip(b), email)
	}
	// The app upserted them into its users collection.
	var docs struct {
		Documents []map[string]any `json:"documents"`
	}
	raw := owner.json(t, "GET", "/api/apps/"+slug+"/db/collections/users/documents", nil, http.StatusOK, &docs)
	if !strings.Contains(string(raw), email) {
		t.Errorf("sign-in: %s not in the app's users collection: %s", email, clip(raw))
	}
}

// ---------------------------------------------------------------- files API

func filesAPI(t *testing.T, c *client, sessionID, wid string, afterSeq int64) {
	t.Helper()
	var tree struct {
		Files []struct {
			Path string `json:"path"`
			Type string `json:"type"`
			Size int64  `json:"size"`
		} `json:"files"`
	}
	c.json(t, "GET", "/api/workspaces/"+wid+"/files", nil, http.StatusOK, &tree)
	var path string
	for _, f := range tree.Files {
		for _, bad := range []string{"node_modules", ".next", "dist", ".venv", ".git"} {
			if f.Path == bad || strings.HasPrefix(f.Path, bad+"/") || strings.Contains(f.Path, "/"+bad+"/") || strings.HasSuffix(f.Path, "/"+bad) {
				t.Errorf("files: tree lists %s (dependency/build folders must be left out)", f.Path)
			}
		}
		if f.Path == "README.md" {
			path = f.Path
		}
	}
	if path == "" {
		t.Fatalf("files: no README.md among %d entries", len(tree.Files))
	}
	fp := "/api/workspaces/" + wid + "/files/" + path
	st, hdr, content := c.do(t, "GET", fp, nil, nil)
	etag := hdr.Get("ETag")
	if st != http.StatusOK || etag == "" {
		t.Fatalf("files: GET %s: status %d, ETag %q; want 200 with an ETag", fp, st, etag)
	}
	changed := append(append([]byte{}, content...), []byte("\n<!-- edited by the e2e test -->\n")...)
	st, _, b := c.do(t, "PUT", fp, changed, map[string]string{"If-Match": `"stale-etag"`})
	if st != http.StatusPreconditionFailed {
		t.Errorf("files: PUT with a stale If-Match: status %d, want 412; body %s", st, clip(b))
	}
	st, _, b = c.do(t, "PUT", fp, changed, map[string]string{"If-Match": etag})
	if st != http.StatusOK {
		t.Fatalf("files: PUT with the right If-Match: status %d, want 200; body %s", st, clip(b))
	}
	evs := readUntil(t, c, sessionID, strconv.FormatInt(afterSeq, 10), 30*time.Second, func(e event) bool {
		return e.Type == "FILE_CHANGED" && e.Data["path"] == path
	})
	t.Logf("files: FILE_CHANGED seq %d for %s", evs[len(evs)-1].Seq, path)
}

// ---------------------------------------------------------------- deployments

type deployment struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func deploy(t *testing.T, c *client, slug string) deployment {
	t.Helper()
	var d deployment
	st, _, b := c.do(t, "POST", "/api/apps/"+slug+"/deployments", nil, nil)
	if st != http.StatusCreated && st != http.StatusAccepted {
		t.Fatalf("POST /api/apps/%s/deployments: status %d, want 201/202; body %s", slug, st, clip(b))
	}
	if err := json.Unmarshal(b, &d); err != nil || d.ID == "" {
		t.Fatalf("POST /api/apps/%s/deployments: no id in %s", slug, clip(b))
	}
	start, lastLog, last := time.Now(), time.Now(), ""
	for {
		c.json(t, "GET", "/api/apps/"+slug+"/deployments/"+d.ID, nil, http.StatusOK, &d)
		if d.Status != last {
			t.Logf("  deployment %s: %s at %s", d.ID, d.Status, time.Since(start).Round(time.Second))
			last = d.Status
		}
		switch d.Status {
		case "live":
			return d
		case "failed":
			t.Fatalf("deployment %s failed after %s: %s\nbuild log tail:\n%s", d.ID, time.Since(start).Round(time.Second), d.Reason, buildLog(t, c, slug, d.ID))
		}
		if time.Since(lastLog) >= progress {
			lastLog = time.Now()
			t.Logf("  … %s: deployment %s", time.Since(start).Round(time.Second), d.Status)
		}
		if time.Since(start) > deployWait {
			t.Fatalf("deployment %s not live after %s: status %s\nbuild log tail:\n%s", d.ID, deployWait, d.Status, buildLog(t, c, slug, d.ID))
		}
		time.Sleep(2 * time.Second)
	}
}

// buildLog reads what the build log stream has within a few seconds (its last lines).
func buildLog(t *testing.T, c *client, slug, id string) string {
	tok, err := c.bearer()
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.p.base+"/api/apps/"+slug+"/deployments/"+id+"/logs", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // ends at ctx's deadline for a stream that stays open
	lines := strings.Split(string(b), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func zeroDowntimeRedeploy(t *testing.T, p *platform, c *client, slug, fw string) {
	t.Helper()
	path := p.base + "/apps/" + slug + "/api/health"
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var samples []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirect}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			resp, err := hc.Get(path)
			msg := ""
			if err != nil {
				msg = err.Error()
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					msg = fmt.Sprintf("%d %s", resp.StatusCode, clip(b))
				}
			}
			if msg == "" {
				ok.Add(1)
				continue
			}
			failed.Add(1)
			mu.Lock()
			if len(samples) < 10 {
				samples = append(samples, time.Now().UTC().Format("15:04:05.000")+" "+msg)
			}
			mu.Unlock()
		}
	}()
	start := time.Now()
	d := deploy(t, c, slug)
	record(fw+": redeploy → live (under polling)", time.Since(start))
	time.Sleep(5 * time.Second) // the old version drains and stops meanwhile
	close(stop)
	<-done
	t.Logf("redeploy %s: %d requests ok, %d failed", d.ID, ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("redeploy while polling %s every 100ms: %d of %d requests failed; first: %v", path, failed.Load(), ok.Load()+failed.Load(), samples)
	}
}

// ---------------------------------------------------------------- traces

func traces(t *testing.T, p *platform, c *client, slug string) {
	t.Helper()
	for range 5 { // some traffic to trace
		p.get(t, "/apps/"+slug+"/api/health")
		p.get(t, "/dev/"+slug+"/api/health")
	}
	start := time.Now()
	for {
		var tr struct {
			Traces []struct {
				Name  string `json:"name"`
				Spans []struct {
					Name    string `json:"name"`
					Service string `json:"service"`
				} `json:"spans"`
			} `json:"traces"`
		}
		c.json(t, "GET", "/api/apps/"+slug+"/traces", nil, http.StatusOK, &tr)
		n := 0
		for _, x := range tr.Traces {
			n += len(x.Spans)
		}
		if n > 0 {
			record("traces visible after traffic", time.Since(start))
			t.Logf("traces: %d traces, %d spans; first %q (%d spans)", len(tr.Traces), n, tr.Traces[0].Name, len(tr.Traces[0].Spans))
			return
		}
		if time.Since(start) > 90*time.Second {
			t.Errorf("traces: GET /api/apps/%s/traces still empty 90s after traffic to the dev and live app: no OTLP spans arrived from the app", slug)
			return
		}
		time.Sleep(3 * time.Second)
	}
}

// ---------------------------------------------------------------- isolation

func isolation(t *testing.T, p *platform, owner *client, slug, sessionID, wid string) {
	t.Helper()
	email, pw := "other@example.com", "other-user-Passw0rd!"
	owner.json(t, "POST", "/api/users", map[string]any{"email": email, "password": pw, "name": "Other"}, http.StatusCreated, nil)
	other := p.login(t, email, pw)
	for _, path := range []string{
		"/api/apps/" + slug,
		"/api/workspaces/" + wid + "/files",
		"/api/workspaces/" + wid + "/files/README.md",
		"/api/sessions/" + sessionID,
		"/api/sessions/" + sessionID + "/events",
		"/api/apps/" + slug + "/deployments",
		"/api/apps/" + slug + "/users",
		"/api/apps/" + slug + "/db/collections",
		"/api/apps/" + slug + "/traces",
		"/api/apps/" + slug + "/logs",
	} {
		st, _, b := other.do(t, "GET", path, nil, nil)
		if st != http.StatusNotFound {
			t.Errorf("isolation: another user's GET %s: status %d, want 404; body %s", path, st, clip(b))
		}
	}
	for _, path := range []string{"/api/sessions", "/api/apps"} {
		st, _, b := other.do(t, "GET", path, nil, nil)
		if st != http.StatusOK {
			t.Errorf("isolation: another user's GET %s: status %d, want 200", path, st)
		} else if strings.Contains(string(b), slug) || strings.Contains(string(b), sessionID) {
			t.Errorf("isolation: another user's GET %s lists the first user's app or session: %s", path, clip(b))
		}
	}
	st, _, b := other.do(t, "POST", "/api/apps/"+slug+"/deployments", nil, nil)
	if st != http.StatusNotFound {
		t.Errorf("isolation: another user's POST /api/apps/%s/deployments: status %d, want 404; body %s", slug, st, clip(b))
	}
}

// ---------------------------------------------------------------- helpers

func clip(b []byte) string {
	s := string(b)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
