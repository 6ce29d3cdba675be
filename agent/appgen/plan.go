package appgen

import (
	"fmt"
	"strings"
)

// Op is one file the engineer writes.
type Op struct {
	Path string
	// Content is the whole file; used when Patch is nil.
	Content string
	// Patch derives the new content from the file's current content; the file must exist
	// and be read first.
	Patch func(old string) (string, error)
}

// Check is a command the QA engineer runs.
type Check struct {
	Dir  string // workspace-relative, "" for the root
	Line string
	// Timeout in seconds; 0 for the default.
	Timeout int
}

// Plan returns the files that add spec's entities to the framework's template.
func Plan(framework string, spec Spec) ([]Op, error) {
	switch framework {
	case "nextjs":
		return planNext(spec)
	case "fastapi-react":
		return planFastAPI(spec)
	}
	return nil, fmt.Errorf("appgen: unknown framework %q", framework)
}

// installLock is the lock file the dev environment's installs hold (devenv.InstallLockFile):
// installing under the same lock keeps QA's install and the dev environment's from writing
// one node_modules or .venv at the same time.
const installLock = ".mgx-install.lock"

// Checks are the install, test and build commands of a framework's workspace.
func Checks(framework string) []Check {
	switch framework {
	case "nextjs":
		return []Check{
			{Line: "flock " + installLock + " npm install --no-audit --no-fund", Timeout: 900},
			{Line: "npm test", Timeout: 600},
			{Line: "npm run lint", Timeout: 600},
			{Line: "npm run build", Timeout: 900},
		}
	case "fastapi-react":
		return []Check{
			{Dir: "backend", Line: "flock " + installLock + " sh -c 'python3 -m venv .venv && .venv/bin/pip install -q -r requirements-dev.txt'", Timeout: 900},
			{Dir: "backend", Line: ".venv/bin/python -m pytest -q", Timeout: 600},
			{Dir: "backend", Line: ".venv/bin/ruff check . && .venv/bin/ruff format --check .", Timeout: 300},
			{Dir: "frontend", Line: "flock " + installLock + " npm install --no-audit --no-fund", Timeout: 900},
			{Dir: "frontend", Line: "npm test", Timeout: 600},
			{Dir: "frontend", Line: "npm run lint", Timeout: 600},
			{Dir: "frontend", Line: "npm run build", Timeout: 900},
		}
	}
	return nil
}

// Requirements is the product manager's document.
func Requirements(prompt string, spec Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Requirements\n\nRequest: %s\n\n## Data\n\n%s\n## User stories\n\n", strings.TrimSpace(prompt), spec.Describe())
	for _, e := range spec.Entities {
		l := strings.ToLower(e.Label)
		fmt.Fprintf(&b, "- As a signed-in user I can see the list of my %s.\n", strings.ToLower(label(e.Plural)))
		fmt.Fprintf(&b, "- I can add a %s with its %s.\n", l, fieldList(e))
		fmt.Fprintf(&b, "- I can change and delete a %s.\n", l)
	}
	b.WriteString("\n## Acceptance\n\n- The API validates every field and answers 400 with a message for bad input.\n- The tests and the production build pass.\n")
	return b.String()
}

// Design is the architect's document.
func Design(framework string, spec Spec, ops []Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Design\n\nFramework: %s. Each entity follows the pattern of the template's example entity `items` (see AGENTS.md).\n\n## Data model\n\n%s\n## API\n\n", framework, spec.Describe())
	for _, e := range spec.Entities {
		fmt.Fprintf(&b, "- `GET /api/%s`, `POST /api/%s`, `GET|PUT|DELETE /api/%s/{id}`\n", e.Plural, e.Plural, e.Plural)
	}
	b.WriteString("\n## Files\n\n")
	for _, op := range ops {
		verb := "create"
		if op.Patch != nil {
			verb = "change"
		}
		fmt.Fprintf(&b, "- %s `%s`\n", verb, op.Path)
	}
	return b.String()
}

func fieldList(e Entity) string {
	var names []string
	for _, f := range e.Fields {
		names = append(names, strings.ToLower(f.Label))
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
