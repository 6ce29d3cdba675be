package appgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/templates"
)

// The backend's ruff checks line length (E501) and wants over-long imports parenthesized
// (I001, ruff format): generated Python stays within the line length whatever the names,
// across a first run and a follow-up run that adds entities to the same workspace.
func TestFastAPILinesFit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ws")
	if err := templates.Render("fastapi-react", dir, templates.Vars{AppName: "Long names", Slug: "long-names"}); err != nil {
		t.Fatal(err)
	}
	long := Extract("Customer escalation requests with requesting organization name, escalation justification details, " +
		"expected resolution date, total contribution amount in euros, executive approval required")
	if len(long.Entities) == 0 || len(long.Entities[0].Name) < 15 {
		t.Fatalf("want an entity with a long name: %v", long)
	}
	var all []Entity
	tests := []struct {
		name string
		spec Spec
	}{
		{"first run", Extract("Laboratory experiment measurements with experiment reference, measured temperature celsius, observation notes, measurement date, calibration verified")},
		{"follow-up with long names", long},
		{"follow-up with many entities", Extract("contacts with a name; conference talks with a title; hackathon projects with a name; " +
			"savings goals with a name")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := Plan("fastapi-react", tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, tt.spec.Entities...)
			for _, op := range ops {
				content := op.Content
				if op.Patch != nil {
					old, err := os.ReadFile(filepath.Join(dir, op.Path))
					if err != nil {
						t.Fatal(err)
					}
					if content, err = op.Patch(string(old)); err != nil {
						t.Fatalf("patch %s: %v", op.Path, err)
					}
				}
				if err := os.WriteFile(filepath.Join(dir, op.Path), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(op.Path, ".py") {
					continue
				}
				for i, line := range strings.Split(content, "\n") {
					if len(line) > pyLineLength {
						t.Errorf("%s:%d is %d characters long (ruff allows %d): %s", op.Path, i+1, len(line), pyLineLength, line)
					}
				}
			}
			// Every route module so far is imported, once, and registered.
			b, _ := os.ReadFile(filepath.Join(dir, "backend/app/factory.py"))
			factory := string(b)
			if n := len(pyRouteImportRE.FindAllString(factory, -1)); n != 1 {
				t.Fatalf("factory.py has %d route imports, want 1:\n%s", n, factory)
			}
			mods := routeModules(factory, pyRouteImportRE.FindStringSubmatchIndex(factory))
			for _, e := range all {
				if !slices.Contains(mods, e.Plural) {
					t.Errorf("factory.py does not import %s: %v", e.Plural, mods)
				}
				if !strings.Contains(factory, "app.include_router("+e.Plural+".router)") {
					t.Errorf("factory.py does not register %s", e.Plural)
				}
			}
			if want := len(all) + 2; len(mods) != want { // + health, items
				t.Errorf("factory.py imports %d route modules, want %d: %v", len(mods), want, mods)
			}
		})
	}
}

func TestPyFromImport(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"fits", []string{"health", "items"}, "from app.routes import health, items"},
		{"too long", []string{strings.Repeat("a", 50), strings.Repeat("b", 50)},
			"from app.routes import (\n    " + strings.Repeat("a", 50) + ",\n    " + strings.Repeat("b", 50) + ",\n)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pyFromImport("app.routes", tt.names); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestWithArticle(t *testing.T) {
	for in, want := range map[string]string{"experiment measurement": "an experiment measurement", "book": "a book", "item": "an item", "": "a "} {
		if got := withArticle(in); got != want {
			t.Errorf("withArticle(%q) = %q, want %q", in, got, want)
		}
	}
}
