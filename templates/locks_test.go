package templates

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestDependenciesAreLocked checks, without a network, that every service of every template
// installs a fixed set: package.json has exact versions and a package-lock.json in step
// with it (what `npm ci` needs), and requirements*.txt pin every package with ==. The
// conformance test then checks that installing gives exactly the locked set.
func TestDependenciesAreLocked(t *testing.T) {
	for _, fw := range Frameworks() {
		t.Run(fw, func(t *testing.T) {
			src, err := fs.Sub(files, fw)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := fs.ReadFile(src, ManifestFile)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseManifest(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range m.Services {
				if _, err := fs.Stat(src, path.Join(s.Dir, "package.json")); err == nil {
					checkNPMLock(t, src, s.Dir)
				}
				if _, err := fs.Stat(src, path.Join(s.Dir, "requirements.txt")); err == nil {
					checkPythonPins(t, src, s.Dir)
				}
			}
		})
	}
}

var exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$`)

func checkNPMLock(t *testing.T, src fs.FS, dir string) {
	t.Helper()
	var pkg struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Version         string            `json:"version"`
			Dependencies    map[string]string `json:"dependencies"`
			DevDependencies map[string]string `json:"devDependencies"`
		} `json:"packages"`
	}
	readJSON(t, src, path.Join(dir, "package.json"), &pkg)
	readJSON(t, src, path.Join(dir, "package-lock.json"), &lock)
	if lock.LockfileVersion < 3 {
		t.Errorf("%s/package-lock.json: lockfileVersion %d, want 3 (npm 9+)", dir, lock.LockfileVersion)
	}
	root := lock.Packages[""]
	if !maps.Equal(pkg.Dependencies, root.Dependencies) || !maps.Equal(pkg.DevDependencies, root.DevDependencies) {
		t.Errorf("%s: package-lock.json is out of step with package.json: run npm install there", dir)
	}
	for _, deps := range []map[string]string{pkg.Dependencies, pkg.DevDependencies} {
		for name, v := range deps {
			if !exactVersion.MatchString(v) {
				t.Errorf("%s/package.json: %s %q is not an exact version", dir, name, v)
			}
			if got := lock.Packages["node_modules/"+name].Version; got != v {
				t.Errorf("%s/package-lock.json: %s is locked at %q, package.json says %q", dir, name, got, v)
			}
		}
	}
}

func readJSON(t *testing.T, src fs.FS, name string, v any) {
	t.Helper()
	b, err := fs.ReadFile(src, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

var (
	exactPin  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][^\s#;]*(\s+#.*)?$`)
	includeRE = regexp.MustCompile(`^-r\s+(\S+)$`)
)

// checkPythonPins: every requirement line is name==version or an -r of a file that exists;
// the transitive section is there (scripts/pin-template-python.py writes it); no package is
// pinned twice.
func checkPythonPins(t *testing.T, src fs.FS, dir string) {
	t.Helper()
	seen := map[string]string{}
	for _, f := range []string{"requirements.txt", "requirements-dev.txt"} {
		name := path.Join(dir, f)
		b, err := fs.ReadFile(src, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		transitive := false
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "# Transitive"):
				transitive = true
			case line == "" || strings.HasPrefix(line, "#"):
			case includeRE.MatchString(line):
				if _, err := fs.Stat(src, path.Join(dir, includeRE.FindStringSubmatch(line)[1])); err != nil {
					t.Errorf("%s: %s: %v", name, line, err)
				}
			case exactPin.MatchString(line):
				pkg := strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(line[:strings.Index(line, "==")], "-"))
				if prev, dup := seen[pkg]; dup {
					t.Errorf("%s: %s is pinned again (first in %s)", name, pkg, prev)
				}
				seen[pkg] = f
			default:
				t.Errorf("%s: %q is not pinned exactly (name==version)", name, line)
			}
		}
		if !transitive {
			t.Errorf("%s has no \"# Transitive\" section: run scripts/pin-template-python.py", name)
		}
	}
}
