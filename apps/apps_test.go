package apps_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

func TestSlugify(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"simple", "Recipe Box", "recipe-box"},
		{"punctuation collapses", "  My -- App!!  v2 ", "my-app-v2"},
		{"accents folded", "Café Órdenes", "cafe-ordenes"},
		{"non latin dropped", "食谱 App", "app"},
		{"only non latin", "食谱", ""},
		{"long cut at word", "the quick brown fox jumps over the lazy dog again and again", "the-quick-brown-fox-jumps-over-the-lazy"},
		{"long single word", strings.Repeat("a", 60), strings.Repeat("a", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apps.Slugify(tt.in)
			if got != tt.want {
				t.Fatalf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if len(got) > apps.MaxSlugLen || strings.HasPrefix(got, "-") || strings.HasSuffix(got, "-") {
				t.Fatalf("bad slug %q", got)
			}
		})
	}
}

func TestNameFromPrompt(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"build me a", "Build me a recipe book where I keep recipes with minutes to cook", "Recipe book"},
		{"first clause", "todo list. With tags and due dates", "Todo list"},
		{"i want", "I want an expense tracker for my team", "Expense tracker"},
		{"empty", "   ", "My app"},
		{"only fillers", "please build a", "My app"},
		{"chinese", "做一个食谱应用，可以记录菜谱", "做一个食谱应用"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apps.NameFromPrompt(tt.in); got != tt.want {
				t.Fatalf("NameFromPrompt(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"ok", "Recipe Box", true},
		{"empty", "  ", false},
		{"control", "a\x00b", false},
		{"too long", strings.Repeat("x", 101), false},
		{"bad utf8", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apps.ValidateName(tt.in)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, apps.ErrInvalidName)) {
				t.Fatalf("ValidateName(%q) = %v", tt.in, err)
			}
		})
	}
}

func TestSecretKeyAndBox(t *testing.T) {
	dir := t.TempDir()
	k1, err := apps.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, apps.SecretKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode().Perm(), err)
	}
	k2, err := apps.LoadOrCreateKey(dir)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second load gave another key: %v", err)
	}
	box, err := apps.NewSecretBox(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal([]byte("s3cret"), "app1")
	if err != nil || strings.Contains(string(sealed), "s3cret") {
		t.Fatalf("seal: %v", err)
	}
	if got, err := box.Open(sealed, "app1"); err != nil || string(got) != "s3cret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := box.Open(sealed, "app2"); !errors.Is(err, apps.ErrDecrypt) {
		t.Fatalf("opened with another app's aad: %v", err)
	}
	other, _ := apps.NewSecretBox(make([]byte, 32))
	if _, err := other.Open(sealed, "app1"); !errors.Is(err, apps.ErrDecrypt) {
		t.Fatalf("opened with another key: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, apps.SecretKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.LoadOrCreateKey(dir); err == nil {
		t.Fatal("world-readable key accepted")
	}
}

func newStore(t *testing.T) *apps.Store {
	t.Helper()
	st := storetest.New(t)
	if err := apps.EnsureIndexes(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	key, err := apps.LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box, _ := apps.NewSecretBox(key)
	return apps.NewStore(st.DB(), box)
}

func TestCreateSlugCollisionsAndReserved(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	// Concurrent creations of the same name all get distinct slugs.
	var wg sync.WaitGroup
	slugs := make([]string, 5)
	for i := range slugs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.Create(ctx, apps.App{Name: "Recipe Box", Framework: apps.FrameworkNextJS, OwnerID: "u1"})
			if err != nil {
				t.Error(err)
				return
			}
			slugs[i] = a.Slug
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, sl := range slugs {
		if seen[sl] || !strings.HasPrefix(sl, "recipe-box") {
			t.Fatalf("slugs %v", slugs)
		}
		seen[sl] = true
	}
	for _, want := range []string{"recipe-box", "recipe-box-2", "recipe-box-5"} {
		if !seen[want] {
			t.Fatalf("slugs %v lack %s", slugs, want)
		}
	}
	a, err := s.Create(ctx, apps.App{Name: "API", Framework: apps.FrameworkFastAPIReact, OwnerID: "u1"})
	if err != nil || a.Slug != "api-2" {
		t.Fatalf("reserved name: %+v %v", a, err)
	}
	a, err = s.Create(ctx, apps.App{Name: "食谱", Framework: apps.FrameworkNextJS, OwnerID: "u1"})
	if err != nil || a.Slug != "app-2" {
		t.Fatalf("non-latin name: %+v %v", a, err)
	}
	if _, err := s.Create(ctx, apps.App{Name: "x", Framework: "rails"}); err == nil {
		t.Fatal("unknown framework accepted")
	}
}

func TestWorkspaceOwner(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, apps.App{Name: "Todo", Framework: apps.FrameworkNextJS, OwnerID: "u1", WorkspaceID: "ws1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	owner, session, err := s.WorkspaceOwner(ctx, "ws1")
	if err != nil || owner != "u1" || session != "s1" {
		t.Fatalf("WorkspaceOwner = %q %q %v", owner, session, err)
	}
	if _, _, err := s.WorkspaceOwner(ctx, "nope"); !errors.Is(err, store.ErrNotFound) || !errors.Is(err, apps.ErrNotFound) {
		t.Fatalf("unknown workspace: %v", err)
	}
}

func TestClientSecretSealedAtRest(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	a, err := s.Create(ctx, apps.App{Name: "Todo", Framework: apps.FrameworkNextJS, OwnerID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClientSecret(ctx, a.Slug); !errors.Is(err, apps.ErrNoSecret) {
		t.Fatalf("secret before set: %v", err)
	}
	if err := s.SetOAuthClient(ctx, a.Slug, "app-todo", "very-secret-value"); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClientSecret(ctx, a.Slug)
	if err != nil || got != "very-secret-value" {
		t.Fatalf("secret %q %v", got, err)
	}
	b, _ := s.Get(ctx, a.Slug)
	if strings.Contains(string(b.ClientSecretSealed), "very-secret") {
		t.Fatal("secret stored in clear")
	}
	js, _ := json.Marshal(b)
	if strings.Contains(string(js), "secret") {
		t.Fatalf("secret in JSON: %s", js)
	}
}

type fakeStatus struct{}

func (fakeStatus) DevStatus(ctx context.Context, slug string) (any, error) {
	return map[string]any{"state": "running", "slug": slug}, nil
}

func TestHandlerAuthorisation(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mine, _ := s.Create(ctx, apps.App{Name: "Mine", Framework: apps.FrameworkNextJS, OwnerID: "alice"})
	_ = s.SetOAuthClient(ctx, mine.Slug, "app-mine", "top-secret-xyz")
	theirs, _ := s.Create(ctx, apps.App{Name: "Theirs", Framework: apps.FrameworkNextJS, OwnerID: "bob"})
	h, err := apps.NewHandler(apps.HandlerConfig{Apps: s, Status: fakeStatus{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	tests := []struct {
		name   string
		who    *identity.Principal
		path   string
		status int
		want   string
	}{
		{"owner gets app", &identity.Principal{UserID: "alice"}, "/api/apps/" + mine.Slug, 200, `"state":"running"`},
		{"other user 404", &identity.Principal{UserID: "alice"}, "/api/apps/" + theirs.Slug, 404, "not_found"},
		{"admin gets any", &identity.Principal{UserID: "root", Admin: true}, "/api/apps/" + theirs.Slug, 200, `"slug":"theirs"`},
		{"missing 404", &identity.Principal{UserID: "alice"}, "/api/apps/nope", 404, "not_found"},
		{"anonymous 401", nil, "/api/apps", 401, "unauthorized"},
		{"app end user 403", &identity.Principal{UserID: "alice", Realm: "recipe-box"}, "/api/apps/" + mine.Slug, 403, "forbidden"},
		{"list own only", &identity.Principal{UserID: "bob"}, "/api/apps", 200, `"slug":"theirs"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.who != nil {
				req = req.WithContext(identity.With(req.Context(), *tt.who))
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("%d %s", rec.Code, body)
			}
			if strings.Contains(body, "top-secret") || strings.Contains(body, "sealed") {
				t.Fatalf("secret leaked: %s", body)
			}
			if tt.name == "list own only" && strings.Contains(body, mine.Slug+`"`) {
				t.Fatalf("bob sees alice's app: %s", body)
			}
		})
	}
}
