package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mgx-dev/mgx/templates"
)

// locks is what the rendered template pins, read before anything is installed: each npm
// lock file as it was, and the Python pins of requirements*.txt by service dir.
type locks struct {
	dir      string
	npm      map[string][]byte            // service dir → package-lock.json
	python   map[string]map[string]string // service dir → normalized name → version
	problems []string
}

var (
	pinRE      = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s#;]+)`)
	nameSepRE  = regexp.MustCompile(`[-_.]+`)
	includeRE  = regexp.MustCompile(`^-r\s+(\S+)`)
	pipToolsRE = regexp.MustCompile(`^(pip|setuptools|wheel|distribute)$`)
)

func normName(n string) string { return nameSepRE.ReplaceAllString(strings.ToLower(n), "-") }

func snapshotLocks(t *testing.T, dir string, m *templates.Manifest) *locks {
	t.Helper()
	l := &locks{dir: dir, npm: map[string][]byte{}, python: map[string]map[string]string{}}
	for _, s := range m.Services {
		svc := filepath.Join(dir, s.Dir)
		if _, err := os.Stat(filepath.Join(svc, "package.json")); err == nil {
			b, err := os.ReadFile(filepath.Join(svc, "package-lock.json"))
			if err != nil {
				l.problems = append(l.problems, s.Dir+": package.json without package-lock.json")
				continue
			}
			l.npm[s.Dir] = b
		}
		if _, err := os.Stat(filepath.Join(svc, "requirements.txt")); err == nil {
			pins, read := map[string]string{}, map[string]bool{}
			for _, f := range []string{"requirements.txt", "requirements-dev.txt"} {
				l.readPins(filepath.Join(svc, f), pins, read, f == "requirements.txt")
			}
			l.python[s.Dir] = pins
		}
	}
	return l
}

// readPins adds the name==version lines of a requirements file (and the files it includes
// with -r) to pins, reading each file once; any other requirement line is a problem.
func (l *locks) readPins(path string, pins map[string]string, read map[string]bool, required bool) {
	if read[path] {
		return
	}
	read[path] = true
	f, err := os.Open(path)
	if err != nil {
		if required || !os.IsNotExist(err) {
			l.problems = append(l.problems, err.Error())
		}
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case includeRE.MatchString(line):
			l.readPins(filepath.Join(filepath.Dir(path), includeRE.FindStringSubmatch(line)[1]), pins, read, true)
		case pinRE.MatchString(line):
			m := pinRE.FindStringSubmatch(line)
			pins[normName(m[1])] = m[2]
		default:
			l.problems = append(l.problems, filepath.Base(path)+": not pinned exactly: "+line)
		}
	}
}

// check runs after the install: npm left every lock file as it was (the lock decided what
// was installed), and each virtualenv holds exactly the pinned Python packages, no more.
func (l *locks) check(t *testing.T) {
	t.Helper()
	for _, p := range l.verify(t.Context()) {
		t.Error(p)
	}
}

func (l *locks) verify(ctx context.Context) []string {
	problems := slices.Clone(l.problems)
	for dir, before := range l.npm {
		after, err := os.ReadFile(filepath.Join(l.dir, dir, "package-lock.json"))
		if err != nil || !bytes.Equal(before, after) {
			problems = append(problems, fmt.Sprintf("%s: the install changed package-lock.json (%v): the lock is out of step with package.json", dir, err))
		}
	}
	for dir, pins := range l.python {
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		out, err := exec.CommandContext(fctx, filepath.Join(l.dir, dir, ".venv", "bin", "pip"), "freeze", "--all").Output()
		cancel()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: pip freeze: %v", dir, err))
			continue
		}
		installed := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if m := pinRE.FindStringSubmatch(line); m != nil && !pipToolsRE.MatchString(normName(m[1])) {
				installed[normName(m[1])] = m[2]
			}
		}
		var unpinned, missing []string
		for name, v := range installed {
			if want, ok := pins[name]; !ok {
				unpinned = append(unpinned, name+"=="+v)
			} else if want != v {
				missing = append(missing, name+"=="+want+" (installed "+v+")")
			}
		}
		for name, v := range pins {
			if _, ok := installed[name]; !ok {
				missing = append(missing, name+"=="+v)
			}
		}
		slices.Sort(unpinned)
		slices.Sort(missing)
		if len(unpinned) > 0 {
			problems = append(problems, fmt.Sprintf("%s: installed but not pinned in requirements*.txt (run scripts/pin-template-python.py): %s", dir, strings.Join(unpinned, ", ")))
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: pinned but not installed as pinned: %s", dir, strings.Join(missing, ", ")))
		}
	}
	return problems
}

// TestLocksCheck runs the lock check on a fake workspace (a pip that prints a fixed
// freeze), so that its verdicts are tested without installing anything.
func TestLocksCheck(t *testing.T) {
	tests := []struct {
		name          string
		requirements  string
		freeze        string
		lockChange    bool
		wantProblems  []string
		wantSnapshots []string
	}{
		{name: "exact set", requirements: "# direct\nfastapi==1.0.0\n\n# Transitive\nstarlette==2.0.0  # via fastapi\n",
			freeze: "fastapi==1.0.0\nStarlette==2.0.0\npip==23.2.1\nsetuptools==65.5.0\n"},
		{name: "unpinned transitive", requirements: "fastapi==1.0.0\n", freeze: "fastapi==1.0.0\nstarlette==2.0.0\n",
			wantProblems: []string{"not pinned in requirements*.txt (run scripts/pin-template-python.py): starlette==2.0.0"}},
		{name: "other version installed", requirements: "fastapi==1.0.0\nstarlette==2.0.0\n", freeze: "fastapi==1.0.0\nstarlette==2.1.0\n",
			wantProblems: []string{"pinned but not installed as pinned: starlette==2.0.0 (installed 2.1.0)"}},
		{name: "range instead of pin", requirements: "fastapi>=1.0.0\n", freeze: "fastapi==1.0.0\n",
			wantSnapshots: []string{"not pinned exactly: fastapi>=1.0.0"}, wantProblems: []string{"installed but not pinned in requirements*.txt (run scripts/pin-template-python.py): fastapi==1.0.0"}},
		{name: "npm rewrote the lock", requirements: "fastapi==1.0.0\n", freeze: "fastapi==1.0.0\n", lockChange: true,
			wantProblems: []string{"the install changed package-lock.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string, mode os.FileMode) {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), mode); err != nil {
					t.Fatal(err)
				}
			}
			write("api/requirements.txt", tc.requirements, 0o644)
			write("api/requirements-dev.txt", "-r requirements.txt\n", 0o644)
			write("api/.venv/bin/pip", "#!/bin/sh\ncat <<'EOF'\n"+tc.freeze+"EOF\n", 0o755)
			write("web/package.json", "{}", 0o644)
			write("web/package-lock.json", `{"lockfileVersion": 3}`, 0o644)
			m := &templates.Manifest{Services: []templates.Service{{Name: "api", Dir: "api"}, {Name: "web", Dir: "web"}}}
			l := snapshotLocks(t, dir, m)
			if tc.lockChange {
				write("web/package-lock.json", `{"lockfileVersion": 3, "packages": {}}`, 0o644)
			}
			got := l.verify(t.Context())
			want := append(slices.Clone(tc.wantSnapshots), tc.wantProblems...)
			if len(got) != len(want) {
				t.Fatalf("problems = %q, want %d matching %q", got, len(want), want)
			}
			for i := range want {
				if !strings.Contains(got[i], want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want[i])
				}
			}
		})
	}
}
