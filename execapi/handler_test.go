package execapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/agent/tools"
	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/execapi"
	"github.com/mgx-dev/mgx/scheduler"
)

func TestHandler(t *testing.T) {
	needNode(t)
	ws := t.TempDir()
	writeApp(t, ws)
	h := newHarness(t, newProcessDriver(t), ws, execapi.Handler{DefaultTimeout: time.Second, MaxTimeout: 2 * time.Second}, devenv.Config{})

	good := h.issue(t, h.addRun(t, "run-ok", "demo", scheduler.StateRunning, 1))
	done := h.issue(t, h.addRun(t, "run-done", "demo", scheduler.StateSucceeded, 1))
	retried := h.addRun(t, "run-retried", "demo", scheduler.StateRunning, 2)
	first := *retried
	first.Attempts = 1
	stale := h.issue(t, &first) // the lost first attempt's token
	gone := h.issue(t, h.addRun(t, "run-gone-app", "gone", scheduler.StateRunning, 1))
	orphan := h.issue(t, &scheduler.Run{ID: "run-missing", SessionID: "s", AppSlug: "demo", Attempts: 1, Deadline: time.Now().Add(time.Hour)})
	expired, err := h.tokens.Issue(t.Context(), execapi.Grant{RunID: "run-ok-2", Slug: "demo", Attempt: 1, ExpiresAt: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	h.addRun(t, "run-ok-2", "demo", scheduler.StateRunning, 1)

	tests := []struct {
		name    string
		token   string
		body    string
		status  int
		errCode string
		check   func(t *testing.T, res execapi.Result)
	}{
		{name: "non-zero exit is a result", token: good, body: body("echo hi; echo oops >&2; exit 3", "", 10), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				if res.ExitCode != 3 || res.Output != "hi\noops\n" || res.TimedOut {
					t.Errorf("got %+v, want exit 3 with stdout and stderr", res)
				}
			}},
		{name: "runs in the folder with the CI environment and the app's", token: good,
			body: body(`echo "$CI $NO_COLOR $NEXT_TELEMETRY_DISABLED $MONGODB_DB ${NODE_ENV-unset}"; cat hello.txt; pwd`, "sub", 10), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				want := "1 1 1 app_demo unset\nhello from sub\n" + filepath.Join(ws, "sub") + "\n"
				if res.ExitCode != 0 || res.Output != want {
					t.Errorf("got %+v, want output %q", res, want)
				}
			}},
		{name: "dir given as /workspace/...", token: good, body: body("cat hello.txt", "/workspace/sub", 10), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				if res.ExitCode != 0 || res.Output != "hello from sub\n" {
					t.Errorf("got %+v", res)
				}
			}},
		{name: "missing folder is a failed command", token: good, body: body("true", "nope", 10), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				if res.ExitCode == 0 || !strings.Contains(res.Output, "nope") {
					t.Errorf("got %+v, want a failure naming the folder", res)
				}
			}},
		{name: "long output keeps head and tail", token: good,
			body: body(`head -c 100000 /dev/zero | tr '\0' a; echo; echo END`, "", 10), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				want := tools.Trim(strings.Repeat("a", 100000)+"\nEND\n", 16<<10)
				if res.Output != want || !strings.Contains(res.Output, "bytes omitted") {
					t.Errorf("output of %d bytes (%.40q…%.40q), want tools.Trim's %d", len(res.Output), res.Output, res.Output[max(0, len(res.Output)-40):], len(want))
				}
			}},
		{name: "timeout stops the command", token: good, body: body("echo started; sleep 30", "", 1), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				if !res.TimedOut || res.Output != "started\n" || res.DurationMS < 1000 || res.DurationMS > 10000 {
					t.Errorf("got %+v, want timed out after about 1s", res)
				}
			}},
		{name: "no timeout means the default", token: good, body: body("sleep 30", "", 0), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				if !res.TimedOut || res.DurationMS > 10000 {
					t.Errorf("got %+v, want timed out after the 1s default", res)
				}
			}},
		{name: "timeout is capped", token: good, body: body("sleep 30", "", 99999), status: 200,
			check: func(t *testing.T, res execapi.Result) {
				if !res.TimedOut || res.DurationMS < 2000 || res.DurationMS > 12000 {
					t.Errorf("got %+v, want timed out after the 2s cap", res)
				}
			}},

		{name: "parent folder", token: good, body: body("true", "../etc", 10), status: 400, errCode: "bad_request"},
		{name: "absolute folder", token: good, body: body("true", "/etc", 10), status: 400, errCode: "bad_request"},
		{name: "escape after a folder", token: good, body: body("true", "sub/../../x", 10), status: 400, errCode: "bad_request"},
		{name: "escape from /workspace", token: good, body: body("true", "/workspace/../etc", 10), status: 400, errCode: "bad_request"},
		{name: "missing command", token: good, body: `{"dir":"sub"}`, status: 400, errCode: "bad_request"},
		{name: "blank command", token: good, body: body("  ", "", 10), status: 400, errCode: "bad_request"},
		{name: "bad JSON", token: good, body: `{"command":`, status: 400, errCode: "bad_request"},
		{name: "unknown field", token: good, body: `{"command":"true","cwd":"/"}`, status: 400, errCode: "bad_request"},
		{name: "body too large", token: good, body: body(strings.Repeat("x", 70<<10), "", 10), status: 413, errCode: "too_large"},

		{name: "no token", token: "", body: body("true", "", 10), status: 401, errCode: "unauthorized"},
		{name: "no token is refused before the body is read", token: "", body: `{"command":`, status: 401, errCode: "unauthorized"},
		{name: "wrong token", token: "mgxrun_" + strings.Repeat("A", 43), body: body("true", "", 10), status: 401, errCode: "unauthorized"},
		{name: "user access token", token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln", body: body("true", "", 10), status: 401, errCode: "unauthorized"},
		{name: "expired token", token: expired, body: body("true", "", 10), status: 401, errCode: "unauthorized"},
		{name: "run is over", token: done, body: body("true", "", 10), status: 401, errCode: "unauthorized"},
		{name: "earlier attempt", token: stale, body: body("true", "", 10), status: 401, errCode: "unauthorized"},
		{name: "run unknown", token: orphan, body: body("true", "", 10), status: 401, errCode: "unauthorized"},

		{name: "app gone", token: gone, body: body("true", "", 10), status: 404, errCode: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, res, eb, raw := h.post(t, tc.token, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			if tc.errCode != "" && eb.Error.Code != tc.errCode {
				t.Errorf("error code %q, want %q: %s", eb.Error.Code, tc.errCode, raw)
			}
			if status == http.StatusUnauthorized && eb.Error.Message != "a valid run token is required" {
				t.Errorf("401 says more than it should: %q", eb.Error.Message)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}

	// The finished run's token was revoked on first use.
	if n, err := h.st.DB().Collection("exec_tokens").CountDocuments(t.Context(), bson.M{"run_id": "run-done"}); err != nil || n != 0 {
		t.Errorf("tokens of the finished run left: %d %v", n, err)
	}
}

// A timed-out command's whole process group ends, background children included.
func TestHandlerTimeoutKillsBackgroundChildren(t *testing.T) {
	needNode(t)
	ws := t.TempDir()
	writeApp(t, ws)
	h := newHarness(t, newProcessDriver(t), ws, execapi.Handler{}, devenv.Config{})
	tok := h.issue(t, h.addRun(t, "run-1", "demo", scheduler.StateRunning, 1))
	status, res, _, raw := h.post(t, tok, body(`sh -c 'echo $$ > bg.pid; exec sleep 300' & sleep 300`, "", 1))
	if status != 200 || !res.TimedOut {
		t.Fatalf("status %d %s, want a timed-out result", status, raw)
	}
	b, err := os.ReadFile(filepath.Join(ws, "bg.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // not left behind by a failed test
			t.Fatalf("background child %d still runs 10s after the timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
