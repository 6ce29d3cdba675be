package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mgx-dev/mgx/agent/appgen"
	"github.com/mgx-dev/mgx/agent/llm"
	"github.com/mgx-dev/mgx/agent/tools"
)

// Role names and the system prompt header, as the agent package writes them.
const (
	roleLeader    = "team_leader"
	rolePM        = "product_manager"
	roleArchitect = "architect"
	roleEngineer  = "engineer"
	roleQA        = "qa_engineer"
)

// maxFixRounds is how often the offline leader sends QA failures back to the engineer.
const maxFixRounds = 2

// Team is the default Brain: it plays each team member, recognised by the "MGX role:" line
// of the system prompt, and decides its next step from the conversation so far. It is
// deterministic: the same request and workspace give the same run.
type Team struct{}

var _ Brain = Team{}

type header struct{ role, framework, request string }

func parseHeader(system string) header {
	var h header
	for _, line := range strings.Split(system, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "MGX role":
			h.role = v
		case "Framework":
			h.framework = v
		case "App request":
			h.request = v
		}
	}
	return h
}

// step is one tool call of the conversation with its result.
type step struct {
	call   llm.ToolCall
	args   map[string]any
	result string
	isErr  bool
	done   bool // a result arrived
}

func history(req llm.Request) []*step {
	var out []*step
	byID := map[string]*step{}
	for _, m := range req.Messages {
		switch m.Role {
		case llm.RoleAssistant:
			for _, c := range m.ToolCalls {
				s := &step{call: c}
				_ = json.Unmarshal([]byte(c.Arguments), &s.args)
				out = append(out, s)
				byID[c.ID] = s
			}
		case llm.RoleTool:
			if s := byID[m.ToolCallID]; s != nil {
				s.result, s.isErr, s.done = m.Content, m.IsError || strings.HasPrefix(m.Content, "error:"), true
			}
		}
	}
	return out
}

func (s *step) arg(k string) string {
	v, _ := s.args[k].(string)
	return v
}

func call(name string, args map[string]any) llm.ToolCall {
	b, _ := json.Marshal(args)
	return llm.ToolCall{Name: name, Arguments: string(b)}
}

func say(text string, calls ...llm.ToolCall) (llm.Message, error) {
	return llm.Message{Role: llm.RoleAssistant, Content: text, ToolCalls: calls}, nil
}

// Next implements Brain.
func (Team) Next(ctx context.Context, req llm.Request) (llm.Message, error) {
	h := parseHeader(req.System)
	if h.request == "" && len(req.Messages) > 0 {
		h.request = req.Messages[0].Content
	}
	spec := appgen.Extract(h.request)
	hist := history(req)
	switch h.role {
	case roleLeader:
		return lead(h, spec, hist)
	case rolePM:
		return writeDocs(hist, "I'll write down what the app must do.", []appgen.Op{{Path: "docs/requirements.md", Content: appgen.Requirements(h.request, spec)}},
			"Requirements are in docs/requirements.md. The app manages:\n"+spec.Describe())
	case roleArchitect:
		ops, err := appgen.Plan(h.framework, spec)
		if err != nil {
			return say("I cannot design for this framework: " + err.Error())
		}
		return architect(h, spec, ops, hist)
	case roleEngineer:
		ops, err := appgen.Plan(h.framework, spec)
		if err != nil {
			return say("I cannot build for this framework: " + err.Error())
		}
		return engineer(spec, ops, hist)
	case roleQA:
		return qa(h, req, hist)
	}
	return say("I have no part in this team (role " + h.role + ").")
}

func lead(h header, spec appgen.Spec, hist []*step) (llm.Message, error) {
	names := entityNames(spec)
	var delegations []*step
	planned := false
	for _, s := range hist {
		switch s.call.Name {
		case "plan":
			planned = planned || !s.isErr
		case "delegate":
			if s.done {
				delegations = append(delegations, s)
			}
		case "finish":
			return say("Done.")
		}
	}
	tasks := map[string]string{
		rolePM:        fmt.Sprintf("Write the requirements for: %s", h.request),
		roleArchitect: fmt.Sprintf("Design the data model, routes and files for %s, following AGENTS.md.", names),
		roleEngineer:  fmt.Sprintf("Implement docs/design.md: API, pages and tests for %s.", names),
		roleQA:        "Install the dependencies, run the tests and the build, check the preview, and report.",
	}
	if !planned {
		steps := []any{}
		for _, r := range []string{rolePM, roleArchitect, roleEngineer, roleQA} {
			steps = append(steps, map[string]any{"role": r, "task": tasks[r]})
		}
		return say(fmt.Sprintf("The app manages %s. Plan: requirements, design, code, then QA.", names),
			call("plan", map[string]any{"steps": steps}))
	}
	delegate := func(text, role, task string) (llm.Message, error) {
		return say(text, call("delegate", map[string]any{"role": role, "task": task}))
	}
	if len(delegations) == 0 {
		return delegate("Product manager, please start with the requirements.", rolePM, tasks[rolePM])
	}
	last := delegations[len(delegations)-1]
	switch last.arg("role") {
	case rolePM:
		return delegate("Architect, over to you.", roleArchitect, tasks[roleArchitect])
	case roleArchitect:
		return delegate("Engineer, please build it.", roleEngineer, tasks[roleEngineer])
	case roleEngineer:
		return delegate("QA, please check the app.", roleQA, tasks[roleQA])
	case roleQA:
		report := strings.TrimPrefix(last.result, "Report from the qa_engineer:\n")
		if strings.HasPrefix(strings.TrimSpace(report), "PASSED") {
			return say("QA passed. The app is ready.", call("finish", map[string]any{"status": "succeeded",
				"summary": fmt.Sprintf("Built %s with pages, API and tests; tests and build pass.", names)}))
		}
		fixes := 0
		for _, d := range delegations {
			if d.arg("role") == roleEngineer {
				fixes++
			}
		}
		if fixes > maxFixRounds {
			return say("QA still fails; I am stopping here.", call("finish", map[string]any{"status": "failed",
				"summary": "The app still fails its checks after " + fmt.Sprint(maxFixRounds) + " rounds of fixes: " + firstLines(report, 6)}))
		}
		return delegate("QA found problems; engineer, please fix them.", roleEngineer, "Fix these QA failures:\n"+report)
	}
	return delegate("Continuing.", roleQA, tasks[roleQA])
}

func entityNames(spec appgen.Spec) string {
	var n []string
	for _, e := range spec.Entities {
		n = append(n, e.Plural)
	}
	if len(n) == 1 {
		return n[0]
	}
	return strings.Join(n[:len(n)-1], ", ") + " and " + n[len(n)-1]
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " ")
}

// fileState follows each path through reads and writes of the conversation.
type fileState struct {
	content  string
	read     bool
	written  bool
	needRead bool
	missing  bool
}

func fileStates(hist []*step) map[string]*fileState {
	st := map[string]*fileState{}
	get := func(p string) *fileState {
		p, _ = tools.Clean(p)
		if st[p] == nil {
			st[p] = &fileState{}
		}
		return st[p]
	}
	for _, s := range hist {
		if !s.done {
			continue
		}
		switch s.call.Name {
		case tools.ReadFile:
			f := get(s.arg("path"))
			if s.isErr {
				f.missing = strings.Contains(s.result, "not found")
				continue
			}
			f.content, f.read, f.needRead, f.missing = s.result, true, false, false
		case tools.WriteFile, tools.EditFile:
			f := get(s.arg("path"))
			if s.isErr {
				f.written = false
				if strings.Contains(s.result, "conflict") {
					f.needRead = true
				}
				continue
			}
			f.written, f.needRead = true, false
		}
	}
	return st
}

// applyOps issues the next reads and writes for ops, or reports that all are done.
func applyOps(hist []*step, ops []appgen.Op, batch int) (calls []llm.ToolCall, writing []string, failed []string, done bool) {
	st := fileStates(hist)
	var reads []llm.ToolCall
	for _, op := range ops {
		f := st[op.Path]
		if f == nil {
			f = &fileState{}
		}
		if f.written {
			continue
		}
		if f.needRead || (op.Patch != nil && !f.read && !f.missing) {
			reads = append(reads, call(tools.ReadFile, map[string]any{"path": op.Path}))
			continue
		}
		content := op.Content
		if op.Patch != nil {
			if f.missing {
				failed = append(failed, op.Path+" (missing)")
				continue
			}
			next, err := op.Patch(f.content)
			if err != nil {
				failed = append(failed, op.Path+": "+err.Error())
				continue
			}
			if next == f.content {
				continue
			}
			content = next
		}
		if len(calls) < batch {
			calls = append(calls, call(tools.WriteFile, map[string]any{"path": op.Path, "content": content}))
			writing = append(writing, op.Path)
		}
	}
	if len(reads) > 0 {
		return reads, nil, failed, false
	}
	return calls, writing, failed, len(calls) == 0
}

func writeDocs(hist []*step, intro string, ops []appgen.Op, report string) (llm.Message, error) {
	calls, _, _, done := applyOps(hist, ops, 4)
	if done {
		return say(report)
	}
	if len(hist) > 0 {
		intro = ""
	}
	return say(intro, calls...)
}

func architect(h header, spec appgen.Spec, ops []appgen.Op, hist []*step) (llm.Message, error) {
	if !called(hist, tools.ListFiles) {
		return say("Let me look at the template first.",
			call(tools.ListFiles, map[string]any{}), call(tools.ReadFile, map[string]any{"path": "AGENTS.md"}))
	}
	design := appgen.Design(h.framework, spec, ops)
	var files []string
	for _, op := range ops {
		files = append(files, op.Path)
	}
	return writeDocs(hist, "", []appgen.Op{{Path: "docs/design.md", Content: design}},
		"Design is in docs/design.md. Files:\n- "+strings.Join(files, "\n- "))
}

func called(hist []*step, name string) bool {
	for _, s := range hist {
		if s.call.Name == name {
			return true
		}
	}
	return false
}

func engineer(spec appgen.Spec, ops []appgen.Op, hist []*step) (llm.Message, error) {
	if !called(hist, tools.ListFiles) {
		return say("I'll read AGENTS.md and the design, then add "+entityNames(spec)+" following the items pattern.",
			call(tools.ListFiles, map[string]any{}), call(tools.ReadFile, map[string]any{"path": "AGENTS.md"}),
			call(tools.ReadFile, map[string]any{"path": "docs/design.md"}))
	}
	calls, writing, failed, done := applyOps(hist, ops, 3)
	if done {
		var b strings.Builder
		fmt.Fprintf(&b, "Implemented %s: %d files written.", entityNames(spec), countWrites(hist))
		if len(failed) > 0 {
			fmt.Fprintf(&b, " Could not change: %s.", strings.Join(failed, "; "))
		}
		return say(b.String())
	}
	text := ""
	if len(writing) > 0 {
		text = "Writing " + strings.Join(writing, ", ") + "."
	}
	return say(text, calls...)
}

func countWrites(hist []*step) int {
	n := 0
	for _, s := range hist {
		if s.call.Name == tools.WriteFile && s.done && !s.isErr {
			n++
		}
	}
	return n
}

func hasTool(req llm.Request, name string) bool {
	for _, t := range req.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

func qa(h header, req llm.Request, hist []*step) (llm.Message, error) {
	checks := appgen.Checks(h.framework)
	for _, c := range checks {
		var last *step
		for _, s := range hist {
			if s.call.Name == tools.RunCommand && s.arg("command") == c.Line && s.arg("dir") == c.Dir && s.done {
				last = s
			}
		}
		if last == nil {
			args := map[string]any{"command": c.Line}
			if c.Dir != "" {
				args["dir"] = c.Dir
			}
			if c.Timeout > 0 {
				args["timeout_seconds"] = c.Timeout
			}
			return say("Running `"+c.Line+"`.", call(tools.RunCommand, args))
		}
		if last.isErr {
			return say(fmt.Sprintf("FAILED: `%s`%s failed.\n%s", c.Line, inDir(c.Dir), tail(last.result, 40)))
		}
	}
	if hasTool(req, tools.FetchPreview) && !called(hist, tools.FetchPreview) {
		return say("Checking the preview.", call(tools.FetchPreview, map[string]any{"path": "/"}))
	}
	preview := ""
	for _, s := range hist {
		if s.call.Name == tools.FetchPreview && s.done {
			preview = " Preview: " + firstLines(s.result, 1) + "."
		}
	}
	return say(fmt.Sprintf("PASSED: %d checks succeeded (%s).%s", len(checks), checkNames(checks), preview))
}

func inDir(d string) string {
	if d == "" {
		return ""
	}
	return " in " + d
}

func checkNames(cs []appgen.Check) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Line)
	}
	return strings.Join(n, "; ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
