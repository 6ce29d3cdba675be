package templates

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validManifest = `{"framework":"fastapi-react","services":[
 {"name":"api","dir":"backend","route":"/api","strip_prefix":true,
  "install":["sh","-c","pip install -r requirements.txt"],"dev":["uvicorn","app.main:app"],
  "start":["uvicorn","app.main:app"],"watch":["requirements.txt"],"health":"/api/health",
  "dockerfile":"backend/Dockerfile"},
 {"name":"web","dir":"frontend","route":"/","dev":["npm","run","dev"],"start":["npm","start"]}]}`

// workspace writes a manifest and the service folders it names.
func workspace(t *testing.T, manifest string, dirs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadManifest(t *testing.T) {
	m, err := LoadManifest(workspace(t, validManifest, "backend", "frontend"))
	if err != nil {
		t.Fatalf("LoadManifest: %v", err)
	}
	api := m.Services[0]
	if api.Name != "api" || !api.StripPrefix || api.Route != "/api" || api.Health != "/api/health" ||
		api.Dockerfile != "backend/Dockerfile" || len(api.Watch) != 1 || len(api.Install) != 3 {
		t.Errorf("api service decoded wrong: %+v", api)
	}
	if m.Services[1].StripPrefix {
		t.Error("web strip_prefix should default to false")
	}
}

func TestLoadManifestRefuses(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(validManifest, old) {
			t.Fatalf("test case edits %q, which the manifest lacks", old)
		}
		return strings.Replace(validManifest, old, new, 1)
	}
	cases := []struct {
		name     string
		manifest string
		want     string // in the error
	}{
		{"not JSON", `{"framework":`, "unexpected EOF"},
		{"trailing data", validManifest + `{}`, "trailing data"},
		{"unknown field", replace(`"route":"/api"`, `"route":"/api","port":8000`), `unknown field "port"`},
		{"unknown framework", replace(`"fastapi-react"`, `"rails"`), `framework "rails"`},
		{"no services", `{"framework":"nextjs","services":[]}`, "no services"},
		{"duplicate name", replace(`"name":"web"`, `"name":"api"`), "duplicate name"},
		{"bad name", replace(`"name":"web"`, `"name":"Web Server"`), "name must be"},
		{"absolute dir", replace(`"dir":"backend"`, `"dir":"/etc"`), "relative path inside"},
		{"escaping dir", replace(`"dir":"backend"`, `"dir":"../x"`), "relative path inside"},
		{"unclean dir", replace(`"dir":"backend"`, `"dir":"./backend/"`), "relative path inside"},
		{"empty dir", replace(`"dir":"backend"`, `"dir":""`), "relative path inside"},
		{"route without slash", replace(`"route":"/api"`, `"route":"api"`), "route \"api\""},
		{"route with trailing slash", replace(`"route":"/api"`, `"route":"/api/"`), "route \"/api/\""},
		{"route with dot segments", replace(`"route":"/api"`, `"route":"/x/../api"`), "route"},
		{"duplicate route", replace(`"route":"/api"`, `"route":"/"`), "also used by"},
		{"no root route", replace(`"route":"/"`, `"route":"/web"`), `no service has route "/"`},
		{"root route stripping", replace(`"name":"web","dir":"frontend","route":"/"`, `"name":"web","dir":"frontend","route":"/","strip_prefix":true`), "cannot strip"},
		{"empty dev", replace(`"dev":["npm","run","dev"]`, `"dev":[]`), "dev command is empty"},
		{"missing start", replace(`,"start":["npm","start"]`, ``), "start command is empty"},
		{"empty program", replace(`"dev":["npm","run","dev"]`, `"dev":[""]`), "empty program"},
		{"escaping watch", replace(`"watch":["requirements.txt"]`, `"watch":["../secret"]`), "watch"},
		{"relative health", replace(`"health":"/api/health"`, `"health":"api/health"`), "health"},
		{"health with query", replace(`"health":"/api/health"`, `"health":"/api/health?x=1"`), "health"},
		{"absolute dockerfile", replace(`"dockerfile":"backend/Dockerfile"`, `"dockerfile":"/Dockerfile"`), "dockerfile"},
		{"missing service dir", replace(`"dir":"frontend"`, `"dir":"web"`), `dir "web" is not a directory`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadManifest(workspace(t, c.manifest, "backend", "frontend"))
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("LoadManifest = %v, want ErrInvalidManifest", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	t.Run("reports every problem at once", func(t *testing.T) {
		bad := `{"framework":"x","services":[{"name":"A","dir":"/","route":"x","dev":[],"start":[]}]}`
		_, err := LoadManifest(workspace(t, bad))
		for _, want := range []string{"framework", "name must be", "relative path", "route", "dev command", "start command"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not mention %q", err, want)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadManifest(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("LoadManifest = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"framework":"nextjs","services":[],"x":"` + strings.Repeat("a", maxManifestBytes) + `"}`
		if _, err := LoadManifest(workspace(t, big)); !errors.Is(err, ErrInvalidManifest) {
			t.Fatalf("LoadManifest = %v, want ErrInvalidManifest", err)
		}
	})
	t.Run("manifest is a symlink out of the workspace", func(t *testing.T) {
		outside := workspace(t, validManifest, "backend", "frontend")
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(outside, ManifestFile), filepath.Join(dir, ManifestFile)); err != nil {
			t.Skip("no symlinks here:", err)
		}
		if _, err := LoadManifest(dir); err == nil {
			t.Fatal("LoadManifest followed a symlink out of the workspace")
		}
	})
}

func TestServiceFor(t *testing.T) {
	m, err := ParseManifest([]byte(validManifest))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{"/", "web"},
		{"/items", "web"},
		{"/api", "api"},
		{"/api/items/1", "api"},
		{"/apix", "web"},
		{"/assets/api", "web"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			s, ok := m.ServiceFor(c.path)
			if !ok || s.Name != c.want {
				t.Fatalf("ServiceFor(%q) = %v, %v; want %s", c.path, s, ok, c.want)
			}
		})
	}
}
