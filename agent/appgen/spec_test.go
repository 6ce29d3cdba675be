package appgen

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestExtract runs the extractor on every prompt of testdata/prompts.txt.
func TestExtract(t *testing.T) {
	f, err := os.Open("testdata/prompts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, pass := 0, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		prompt, want, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n++
		ok = t.Run(name(prompt), func(t *testing.T) {
			got := Extract(prompt)
			if got.String() != want {
				t.Errorf("Extract(%q)\n got %s\nwant %s", prompt, got, want)
			}
			checkValid(t, got)
		})
		if ok {
			pass++
		}
	}
	if n < 100 {
		t.Errorf("only %d prompts; the suite wants 100+", n)
	}
	t.Logf("%d/%d prompts extracted as expected", pass, n)
}

var identOK = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkValid asserts what generators rely on, whatever the prompt.
func checkValid(t *testing.T, s Spec) {
	t.Helper()
	if len(s.Entities) == 0 || len(s.Entities) > MaxEntities {
		t.Fatalf("%d entities", len(s.Entities))
	}
	seen := map[string]bool{}
	for _, e := range s.Entities {
		if !identOK.MatchString(e.Name) || !identOK.MatchString(e.Plural) || e.Name == e.Plural || seen[e.Plural] {
			t.Errorf("bad entity names %q/%q", e.Name, e.Plural)
		}
		seen[e.Plural] = true
		if _, bad := reservedEntities[e.Name]; bad {
			t.Errorf("reserved entity name %q", e.Name)
		}
		if len(e.Fields) == 0 || len(e.Fields) > MaxFields || e.Fields[0].Type != TypeString {
			t.Errorf("entity %s fields %+v: want 1-%d fields, the first a string", e.Name, e.Fields, MaxFields)
		}
		fs := map[string]bool{}
		for _, f := range e.Fields {
			if !identOK.MatchString(f.Name) || fs[f.Name] || f.Label == "" {
				t.Errorf("bad field %+v in %s", f, e.Name)
			}
			if _, bad := reservedFields[f.Name]; bad {
				t.Errorf("reserved field name %q in %s", f.Name, e.Name)
			}
			fs[f.Name] = true
		}
	}
}

func name(p string) string {
	w := strings.Fields(p)
	if len(w) > 8 {
		w = w[:8]
	}
	return strings.Join(w, "_")
}

// Whatever people type, the spec is usable.
func TestExtractNeverBreaks(t *testing.T) {
	tests := []struct{ name, prompt string }{
		{"empty", ""},
		{"spaces", "   "},
		{"punctuation", "!!! ??? ,,, ((( )))"},
		{"chinese", "一个食谱应用：食谱有名称、配料和烹饪时间"},
		{"emoji", "🍕 pizza tracker 🍕 with toppings and price"},
		{"huge", strings.Repeat("items with name, price and quantity and ", 200)},
		{"code", "app with fields: id, class, type, from, import, return, default, async"},
		{"digits", "a 2024 tracker with 3 things: 1st, 2nd, 3rd"},
		{"unbalanced", "products (name, price and suppliers (name"},
		{"users", "users with name and email, sessions with date, items with title"},
		{"many entities", "a (x), b (y), c (z), d (w), e (v), f (u)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValid(t, Extract(tt.prompt))
		})
	}
}

func TestSingularPlural(t *testing.T) {
	tests := []struct{ plural, singular string }{
		{"recipes", "recipe"}, {"categories", "category"}, {"boxes", "box"}, {"matches", "match"},
		{"people", "person"}, {"classes", "class"}, {"statuses", "status"}, {"shelves", "shelf"}, {"movies", "movie"},
		{"knives", "knife"}, {"drives", "drive"}, {"cookies", "cookie"}, {"buses", "bus"}, {"houses", "house"}, {"courses", "course"},
	}
	for _, tt := range tests {
		t.Run(tt.plural, func(t *testing.T) {
			if got := Singular(tt.plural); got != tt.singular {
				t.Errorf("Singular(%q) = %q", tt.plural, got)
			}
			if got := Plural(tt.singular); got != tt.plural {
				t.Errorf("Plural(%q) = %q", tt.singular, got)
			}
		})
	}
}
