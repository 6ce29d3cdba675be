package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/agent/appgen"
	"github.com/mgx-dev/mgx/agent/llm/offline"
	"github.com/mgx-dev/mgx/agent/tools"
	"github.com/mgx-dev/mgx/templates"
)

// recordingRunner answers every command with success and remembers them.
type recordingRunner struct {
	mu    sync.Mutex
	lines []string
	fail  map[string]string // command → output of a failure
}

func (r *recordingRunner) Run(ctx context.Context, c tools.Command) (tools.CommandResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.TrimSpace(c.Dir+" "+c.Line))
	if out, ok := r.fail[c.Line]; ok {
		return tools.CommandResult{ExitCode: 1, Output: out}, nil
	}
	return tools.CommandResult{Output: "ok\n"}, nil
}

func renderTemplate(t *testing.T, framework string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ws")
	if err := templates.Render(framework, dir, templates.Vars{AppName: "Test App", Slug: "test-app"}); err != nil {
		t.Fatalf("render %s: %v", framework, err)
	}
	return dir
}

func frameworksReady(t *testing.T) []string {
	var out []string
	for _, fw := range templates.Frameworks() {
		ops, err := appgen.Plan(fw, appgen.Extract("notes with a title"))
		if err != nil || len(ops) == 0 {
			t.Logf("%s: generator not available yet: %v", fw, err)
			continue
		}
		out = append(out, fw)
	}
	return out
}

// The offline team on a real template, with commands answered by a fake: every generated
// file lands in the workspace, events tell the story, and QA ran the framework's checks.
func TestOfflineTeamOnTemplate(t *testing.T) {
	for _, fw := range frameworksReady(t) {
		t.Run(fw, func(t *testing.T) {
			dir := renderTemplate(t, fw)
			sink := &memSink{}
			runner := &recordingRunner{}
			prompt := "a recipe book: recipes with a name, ingredients and minutes to cook"
			preview := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("<html>Test App</html>"))
			}))
			defer preview.Close()
			cfg := Config{SessionID: "s-" + fw, Framework: fw, Prompt: prompt, WorkspaceDir: dir, Events: sink,
				Runner: runner, LLM: LLMConfig{Provider: "offline"}, PreviewURL: preview.URL + "/dev/test-app/"}
			if err := Run(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			spec := appgen.Extract(prompt)
			ops, _ := appgen.Plan(fw, spec)
			for _, op := range ops {
				b, err := os.ReadFile(filepath.Join(dir, op.Path))
				if err != nil {
					t.Errorf("%s not written: %v", op.Path, err)
					continue
				}
				if op.Patch == nil && string(b) != op.Content {
					t.Errorf("%s differs from the generator's content", op.Path)
				}
			}
			changed := map[string]bool{}
			for _, e := range sink.ofType(EventFileChanged) {
				changed[e.Data["path"].(string)] = true
				if e.Data["by"] == "" || e.Role != e.Data["by"] {
					t.Errorf("FILE_CHANGED by %v from role %s", e.Data["by"], e.Role)
				}
			}
			for _, p := range []string{"docs/requirements.md", "docs/design.md"} {
				if !changed[p] {
					t.Errorf("no FILE_CHANGED for %s", p)
				}
			}
			roles := map[string]bool{}
			for _, e := range sink.all() {
				roles[e.Role] = true
			}
			for _, r := range []string{RoleTeamLeader, RoleProductManager, RoleArchitect, RoleEngineer, RoleQAEngineer} {
				if !roles[r] {
					t.Errorf("no events from %s", r)
				}
			}
			var want []string
			for _, c := range appgen.Checks(fw) {
				want = append(want, strings.TrimSpace(c.Dir+" "+c.Line))
			}
			if strings.Join(runner.lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("QA ran\n%s\nwant\n%s", strings.Join(runner.lines, "\n"), strings.Join(want, "\n"))
			}
			if pr := sink.ofType(EventPreviewReady); len(pr) != 1 || pr[0].Data["url"] != cfg.PreviewURL || pr[0].Role != RoleQAEngineer {
				t.Errorf("PREVIEW_READY events = %+v", pr)
			}
			fin := sink.last()
			if fin.Data["status"] != StatusSucceeded {
				t.Fatalf("FINISH = %+v", fin.Data)
			}
			t.Logf("%s: %d events, %d files changed, %v steps, usage %v", fw, len(sink.all()), len(changed), fin.Data["steps"], fin.Data["usage"])
		})
	}
}

// When QA fails, the leader sends the failure to the engineer, QA runs again, and after the
// offline leader's rounds the run ends FINISH failed with the failing command in the reason.
func TestOfflineTeamQAFailureLoop(t *testing.T) {
	fws := frameworksReady(t)
	if len(fws) == 0 {
		t.Skip("no generator ready")
	}
	fw := fws[0]
	dir := renderTemplate(t, fw)
	sink := &memSink{}
	failing := appgen.Checks(fw)[1].Line
	runner := &recordingRunner{fail: map[string]string{failing: "FAIL test/recipes.test.ts > expected 201, got 400"}}
	cfg := Config{SessionID: "s", Framework: fw, Prompt: "recipes with a name", WorkspaceDir: dir, Events: sink,
		Runner: runner, LLM: LLMConfig{Provider: "offline"}}
	err := Run(t.Context(), cfg)
	if err == nil {
		t.Fatal("run succeeded with failing tests")
	}
	fin := sink.last()
	reason := fin.Data["reason"].(string)
	if fin.Data["status"] != StatusFailed || !strings.Contains(reason, "expected 201, got 400") {
		t.Fatalf("FINISH = %+v", fin.Data)
	}
	engineerTasks := 0
	for _, e := range sink.ofType(EventToolStart) {
		if args, _ := e.Data["args"].(map[string]any); e.Data["tool"] == "delegate" && args["role"] == RoleEngineer {
			engineerTasks++
		}
	}
	if engineerTasks != 3 {
		t.Errorf("engineer got %d tasks, want 3 (build + 2 fix rounds)", engineerTasks)
	}
}

// TestGenerateApps is the real thing, gated by MGX_TEST_GENERATE=1: render each template,
// run the offline team with commands really executed in the workspace (install, tests,
// lint, build), and report success rate and timing. MGX_TEST_GENERATE_N prompts per
// framework (default 3); MGX_TEST_GENERATE_FRAMEWORKS limits the frameworks.
func TestGenerateApps(t *testing.T) {
	if os.Getenv("MGX_TEST_GENERATE") != "1" {
		t.Skip("set MGX_TEST_GENERATE=1 to generate, install, test and build real apps (minutes per app)")
	}
	// The first two cover every field type (string, text, int, float, date, bool) and an
	// app with two entities: CI runs MGX_TEST_GENERATE_N=2 (make test-generate).
	prompts := []string{
		"A library system with books (title, author, isbn, copies) and loans with borrower name, due date and returned",
		"Expense tracker: expenses with a description, an amount, a category and a date",
		"a recipe book: recipes with a name, ingredients and minutes to cook",
		"An inventory app for products (name, sku, price, quantity in stock) and suppliers (name, email, phone)",
		"A todo app with tasks that have a title, a due date and a done flag",
		"Job application tracker with applications (company, position, salary, applied date, status)",
		"A dog walking business with clients (name, phone, address) and walks (date, duration in minutes, price, paid)",
		"Track my books: title, author, pages, and whether I've read it",
		"habit tracker",
		"Bird watching: sightings with species, count, location, date and notes",
	}
	n := 3
	if v, err := strconv.Atoi(os.Getenv("MGX_TEST_GENERATE_N")); err == nil && v > 0 {
		n = min(v, len(prompts))
	}
	fws := frameworksReady(t)
	if only := os.Getenv("MGX_TEST_GENERATE_FRAMEWORKS"); only != "" {
		fws = strings.Split(only, ",")
	}
	base := t.TempDir() // outlives the subtests, so the first app's dependencies can seed the next
	for _, fw := range fws {
		var seed string // node_modules of the first app, hard-linked into the next ones
		ok, total := 0, 0
		var durations []time.Duration
		for i, prompt := range prompts[:n] {
			t.Run(fmt.Sprintf("%s/%d", fw, i), func(t *testing.T) {
				total++
				dir := filepath.Join(base, fmt.Sprintf("%s-%d", fw, i))
				if err := templates.Render(fw, dir, templates.Vars{AppName: "Generated App", Slug: fmt.Sprintf("gen-%d", i)}); err != nil {
					t.Fatal(err)
				}
				if seed != "" {
					seedDeps(t, seed, dir)
				}
				sink := &memSink{}
				cfg := Config{SessionID: fmt.Sprintf("gen-%d", i), Framework: fw, Prompt: prompt, WorkspaceDir: dir, Events: sink,
					LLM: LLMConfig{Provider: "offline"}, Provider: offline.New(offline.Config{}), Timeout: 25 * time.Minute,
					Runner: &tools.LocalRunner{Dir: dir, Env: []string{"MGX_LLM_API_KEY="}}}
				start := time.Now()
				err := Run(t.Context(), cfg)
				d := time.Since(start)
				durations = append(durations, d)
				fin := sink.last()
				t.Logf("%s %q: %s in %s (%v)", fw, prompt, fin.Data["status"], d.Round(time.Second), appgen.Extract(prompt))
				for _, e := range sink.ofType(EventToolEnd) {
					if e.Data["tool"] == tools.RunCommand {
						t.Logf("  %s: %v", e.Role, e.Data["summary"])
					}
				}
				if err != nil {
					t.Errorf("run failed: %v", fin.Data["reason"])
					return
				}
				ok++
				if seed == "" {
					seed = dir
				}
			})
		}
		t.Logf("%s: %d/%d apps generated, tested and built; times %v", fw, ok, total, durations)
	}
}

// seedDeps hard-links installed dependencies from an earlier app so that install is quick.
func seedDeps(t *testing.T, from, to string) {
	// Only node_modules: a virtualenv's scripts point at their original location.
	for _, d := range []string{"node_modules", "frontend/node_modules"} {
		src := filepath.Join(from, d)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if out, err := exec.Command("cp", "-al", src, filepath.Join(to, d)).CombinedOutput(); err != nil {
			t.Logf("seed %s: %v %s", d, err, out)
		}
	}
}

// TestGenerateAllPrompts (gated by MGX_TEST_GENERATE=1) puts every entity derived from the
// extraction suite's prompts (appgen/testdata/prompts.txt) into one app per framework and
// runs the framework's checks (install, tests, lint, build) on it: each prompt's field
// combinations compile, validate and pass their generated tests, at the cost of one build.
func TestGenerateAllPrompts(t *testing.T) {
	if os.Getenv("MGX_TEST_GENERATE") != "1" {
		t.Skip("set MGX_TEST_GENERATE=1 to generate and check one app holding every prompt's entities")
	}
	b, err := os.ReadFile("appgen/testdata/prompts.txt")
	if err != nil {
		t.Fatal(err)
	}
	var spec appgen.Spec
	seen := map[string]bool{}
	prompts := 0
	for _, line := range strings.Split(string(b), "\n") {
		prompt, _, ok := strings.Cut(line, " => ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		prompts++
		for _, e := range appgen.Extract(prompt).Entities {
			if !seen[e.Name] {
				seen[e.Name] = true
				spec.Entities = append(spec.Entities, e)
			}
		}
	}
	t.Logf("%d prompts → %d distinct entities", prompts, len(spec.Entities))
	fws := frameworksReady(t)
	if only := os.Getenv("MGX_TEST_GENERATE_FRAMEWORKS"); only != "" {
		fws = strings.Split(only, ",")
	}
	for _, fw := range fws {
		t.Run(fw, func(t *testing.T) {
			dir := renderTemplate(t, fw)
			ws, err := tools.OpenWorkspace(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ops, err := appgen.Plan(fw, spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range ops {
				content := op.Content
				if op.Patch != nil {
					old, err := ws.Read(op.Path)
					if err != nil {
						t.Fatal(err)
					}
					if content, err = op.Patch(string(old)); err != nil {
						t.Fatalf("patch %s: %v", op.Path, err)
					}
				}
				if _, err := ws.Write(op.Path, []byte(content)); err != nil {
					t.Fatal(err)
				}
			}
			runner := &tools.LocalRunner{Dir: dir}
			for _, c := range appgen.Checks(fw) {
				start := time.Now()
				res, err := runner.Run(t.Context(), tools.Command{Line: c.Line, Dir: c.Dir, Timeout: 30 * time.Minute})
				if err != nil || res.ExitCode != 0 || res.TimedOut {
					t.Fatalf("%s (in %q) failed after %s: %v\n%s", c.Line, c.Dir, time.Since(start).Round(time.Second), err, res.Output)
				}
				t.Logf("%s %q: ok in %s", fw, c.Line, time.Since(start).Round(time.Second))
			}
		})
	}
}

// A follow-up run on the same workspace adds its entities and keeps the earlier ones.
func TestOfflineFollowUpRun(t *testing.T) {
	for _, fw := range frameworksReady(t) {
		t.Run(fw, func(t *testing.T) {
			dir := renderTemplate(t, fw)
			for i, prompt := range []string{"recipes with a name and minutes to cook", "also suppliers with a name and an email"} {
				sink := &memSink{}
				cfg := Config{SessionID: "s", Framework: fw, Prompt: prompt, WorkspaceDir: dir, Events: sink,
					Runner: &recordingRunner{}, LLM: LLMConfig{Provider: "offline"}}
				if err := Run(t.Context(), cfg); err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
			home, nav := "app/page.tsx", "app/layout.tsx"
			if fw == "fastapi-react" {
				home, nav = "frontend/src/pages/HomePage.tsx", "frontend/src/App.tsx"
			}
			for _, p := range []string{home, nav} {
				b, _ := os.ReadFile(filepath.Join(dir, p))
				if !strings.Contains(string(b), `"/recipes"`) || !strings.Contains(string(b), `"/suppliers"`) {
					t.Errorf("%s lacks a link to both entities:\n%s", p, b)
				}
			}
		})
	}
}
