package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/agent/llm"
)

// Tool names.
const (
	ListFiles    = "list_files"
	ReadFile     = "read_file"
	WriteFile    = "write_file"
	EditFile     = "edit_file"
	DeleteFile   = "delete_file"
	SearchFiles  = "search"
	RunCommand   = "run_command"
	FetchPreview = "fetch_preview"
)

// Change is a file the call changed, for FILE_CHANGED events.
type Change struct {
	Path string
	Op   string // created | modified | deleted
}

// Result is the outcome of one tool call. Output goes back to the model; IsError marks a
// failed call (the model sees the error text and may try again).
type Result struct {
	Output  string
	IsError bool
	Changes []Change
	// ExitCode is set by run_command; PreviewStatus by fetch_preview.
	ExitCode      *int
	PreviewStatus int
	// Summary is a one-line description for the TOOL_END event.
	Summary string
}

// Set executes the agents' tools on one workspace.
type Set struct {
	Workspace *Workspace
	Runner    CommandRunner
	// PreviewURL is the app's dev preview root (e.g. http://127.0.0.1:3000/dev/slug/); empty
	// disables fetch_preview.
	PreviewURL string
	HTTPClient *http.Client
}

func obj(required []string, props map[string]any) map[string]any {
	r := make([]any, len(required))
	for i, s := range required {
		r[i] = s
	}
	return map[string]any{"type": "object", "properties": props, "required": r}
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

// Definitions returns the schemas of the named tools (all when names is empty).
func Definitions(names ...string) []llm.Tool {
	all := []llm.Tool{
		{Name: ListFiles, Description: "List files and folders of the workspace (dependency and build folders are left out).",
			Parameters: obj(nil, map[string]any{"path": str("folder relative to the workspace root; default the root")})},
		{Name: ReadFile, Description: "Read a text file. You must read a file before you change it.",
			Parameters: obj([]string{"path"}, map[string]any{"path": str("file path relative to the workspace root")})},
		{Name: WriteFile, Description: "Create a file or replace its whole content. Replacing a file requires having read its current content; if someone changed it since, the call fails with a conflict and you must read it again.",
			Parameters: obj([]string{"path", "content"}, map[string]any{"path": str("file path relative to the workspace root"), "content": str("the complete new content")})},
		{Name: EditFile, Description: "Replace exactly one occurrence of old_string with new_string in a file you have read. Fails if old_string is missing or not unique, or with a conflict if the file changed since you read it.",
			Parameters: obj([]string{"path", "old_string", "new_string"}, map[string]any{"path": str("file path"), "old_string": str("exact text to replace, unique in the file"), "new_string": str("replacement text")})},
		{Name: DeleteFile, Description: "Delete a file.",
			Parameters: obj([]string{"path"}, map[string]any{"path": str("file path")})},
		{Name: SearchFiles, Description: "Search file contents with a regular expression (RE2). Returns path:line: text.",
			Parameters: obj([]string{"pattern"}, map[string]any{"pattern": str("regular expression"), "path": str("folder to search; default the root"), "glob": str("only files whose name matches, e.g. *.tsx")})},
		{Name: RunCommand, Description: "Run a shell command in the app's development environment (the workspace is the working directory) and get its exit code and output. Use it to install dependencies, run tests and build.",
			Parameters: obj([]string{"command"}, map[string]any{"command": str("shell command line"), "dir": str("folder relative to the workspace to run in"), "timeout_seconds": map[string]any{"type": "integer", "description": "default 600"}})},
		{Name: FetchPreview, Description: "HTTP GET a path of the running app's live preview and get the status and the start of the body.",
			Parameters: obj(nil, map[string]any{"path": str("path under the app, e.g. / or api/health")})},
	}
	if len(names) == 0 {
		return all
	}
	var out []llm.Tool
	for _, n := range names {
		for _, t := range all {
			if t.Name == n {
				out = append(out, t)
			}
		}
	}
	return out
}

type args struct {
	Path      string  `json:"path"`
	Content   *string `json:"content"`
	OldString string  `json:"old_string"`
	NewString string  `json:"new_string"`
	Pattern   string  `json:"pattern"`
	Glob      string  `json:"glob"`
	Command   string  `json:"command"`
	Dir       string  `json:"dir"`
	Timeout   int     `json:"timeout_seconds"`
}

func fail(err error) Result {
	return Result{Output: "error: " + err.Error(), IsError: true, Summary: err.Error()}
}

// Execute runs one call. Failures the model can act on (a conflict, a missing file, a bad
// argument, a failing command) come back as a Result with IsError; the error return is for
// ctx ending.
func (s *Set) Execute(ctx context.Context, name, rawArgs string) (Result, error) {
	var a args
	if strings.TrimSpace(rawArgs) != "" {
		if err := json.Unmarshal([]byte(rawArgs), &a); err != nil {
			return fail(fmt.Errorf("%w: arguments are not a JSON object: %v", ErrInvalid, err)), nil
		}
	}
	w := s.Workspace
	switch name {
	case ListFiles:
		entries, truncated, err := w.List(a.Path, 500)
		if err != nil {
			return fail(err), nil
		}
		var b strings.Builder
		for _, e := range entries {
			if e.Dir {
				fmt.Fprintf(&b, "%s/\n", e.Path)
			} else {
				fmt.Fprintf(&b, "%s (%d bytes)\n", e.Path, e.Size)
			}
		}
		if truncated {
			b.WriteString("… (more entries; list a subfolder)\n")
		}
		return Result{Output: b.String(), Summary: fmt.Sprintf("%d entries", len(entries))}, nil
	case ReadFile:
		b, err := w.Read(a.Path)
		if err != nil {
			return fail(err), nil
		}
		return Result{Output: string(b), Summary: fmt.Sprintf("read %d bytes", len(b))}, nil
	case WriteFile:
		if a.Content == nil {
			return fail(fmt.Errorf("%w: content is required", ErrInvalid)), nil
		}
		created, err := w.Write(a.Path, []byte(*a.Content))
		if err != nil {
			return fail(err), nil
		}
		p, _ := Clean(a.Path)
		op := "modified"
		if created {
			op = "created"
		}
		return Result{Output: fmt.Sprintf("%s %s (%d bytes)", op, p, len(*a.Content)), Changes: []Change{{Path: p, Op: op}}, Summary: op + " " + p}, nil
	case EditFile:
		if err := w.Edit(a.Path, a.OldString, a.NewString); err != nil {
			return fail(err), nil
		}
		p, _ := Clean(a.Path)
		return Result{Output: "edited " + p, Changes: []Change{{Path: p, Op: "modified"}}, Summary: "edited " + p}, nil
	case DeleteFile:
		if err := w.Delete(a.Path); err != nil {
			return fail(err), nil
		}
		p, _ := Clean(a.Path)
		return Result{Output: "deleted " + p, Changes: []Change{{Path: p, Op: "deleted"}}, Summary: "deleted " + p}, nil
	case SearchFiles:
		ms, truncated, err := w.Search(a.Pattern, a.Path, a.Glob, 200)
		if err != nil {
			return fail(err), nil
		}
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%s:%d: %s\n", m.Path, m.Line, m.Text)
		}
		if truncated {
			b.WriteString("… (more matches)\n")
		}
		if len(ms) == 0 {
			b.WriteString("no matches\n")
		}
		return Result{Output: b.String(), Summary: fmt.Sprintf("%d matches", len(ms))}, nil
	case RunCommand:
		if strings.TrimSpace(a.Command) == "" {
			return fail(fmt.Errorf("%w: command is required", ErrInvalid)), nil
		}
		if s.Runner == nil {
			return fail(errors.New("no development environment is attached to this run")), nil
		}
		c := Command{Line: a.Command, Dir: a.Dir, Timeout: time.Duration(a.Timeout) * time.Second}
		r, err := s.Runner.Run(ctx, c)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			return fail(err), nil
		}
		code := r.ExitCode
		res := Result{Output: describe(c, r), ExitCode: &code, IsError: code != 0 || r.TimedOut,
			Summary: fmt.Sprintf("%s: exit %d in %s", Trim(a.Command, 120), code, r.Duration.Round(time.Millisecond))}
		if r.TimedOut {
			res.Summary = fmt.Sprintf("%s: timed out after %s", Trim(a.Command, 120), r.Duration.Round(time.Second))
		}
		return res, nil
	case FetchPreview:
		return s.fetch(ctx, a.Path)
	default:
		return fail(fmt.Errorf("%w: unknown tool %q", ErrInvalid, name)), nil
	}
}

func (s *Set) fetch(ctx context.Context, p string) (Result, error) {
	if s.PreviewURL == "" {
		return fail(errors.New("no preview is configured for this run")), nil
	}
	url := strings.TrimRight(s.PreviewURL, "/") + "/" + strings.TrimLeft(p, "/")
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(err), nil
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return fail(fmt.Errorf("preview not reachable: %v", err)), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return Result{Output: fmt.Sprintf("GET %s → %d %s\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body),
		IsError: resp.StatusCode >= 400, PreviewStatus: resp.StatusCode, Summary: fmt.Sprintf("GET %s → %d", url, resp.StatusCode)}, nil
}
