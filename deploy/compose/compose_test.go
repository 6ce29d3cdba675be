// Package compose_test checks the production compose file and APISIX's config without
// pulling images (none can be pulled on the build machines): structure, pinned images,
// that every MGX service runs one of mgx's role subcommands, the environment MGX needs,
// and that APISIX and the plugin runner agree on the ext-plugin socket.
package compose_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// roles are the `mgx` subcommands a production service may run.
var roles = []string{"control", "oauth", "scheduler", "plugin-runner"}

type service struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]any    `yaml:"depends_on"`
	ExtraHosts  []string          `yaml:"extra_hosts"`
}

type composeFile struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

func load(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

const mgxImage = "${MGX_IMAGE:-mgx/mgx:latest}"

func TestComposeFile(t *testing.T) {
	var c composeFile
	load(t, "compose.yaml", &c)

	want := []string{"etcd", "apisix", "plugin-runner", "oauth", "scheduler", "mongo-mgx", "mongo-apps", "redis", "otel-collector"}
	for _, name := range want {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	controls := 0
	for name, s := range c.Services {
		t.Run(name, func(t *testing.T) {
			if s.Image == "" {
				t.Fatal("no image")
			}
			if s.Image != mgxImage {
				if tag := s.Image[strings.LastIndex(s.Image, ":")+1:]; strings.Contains(tag, "/") || tag == "latest" || !strings.ContainsAny(tag, "0123456789") {
					t.Errorf("image %s is not pinned to a version", s.Image)
				}
				return
			}
			// An MGX service runs exactly one role.
			if len(s.Command) != 1 || !slices.Contains(roles, s.Command[0]) {
				t.Fatalf("command %v is not one of mgx %v", s.Command, roles)
			}
			if s.Command[0] == "control" {
				controls++
			}
			if s.Command[0] == "plugin-runner" {
				if !strings.HasPrefix(s.Environment["APISIX_LISTEN_ADDRESS"], "unix:/") {
					t.Errorf("APISIX_LISTEN_ADDRESS %q", s.Environment["APISIX_LISTEN_ADDRESS"])
				}
				return
			}
			env := s.Environment
			for k, v := range map[string]string{
				"MGX_MONGODB_URI":      "mongodb://mongo-mgx:27017/",
				"MGX_APPS_MONGODB_URI": "mongodb://mongo-apps:27017/",
				"MGX_REDIS_URL":        "redis://redis:6379/",
				"MGX_GATEWAY":          "apisix",
				"MGX_APISIX_ADMIN_URL": "http://apisix:9180",
				"MGX_OTLP_ENDPOINT":    "http://otel-collector:4318",
				"MGX_PUBLIC_URL":       "${MGX_PUBLIC_URL:?",
				"MGX_APISIX_ADMIN_KEY": "${MGX_APISIX_ADMIN_KEY:?",
			} {
				if !strings.HasPrefix(env[k], v) {
					t.Errorf("%s = %q, want it to start with %q", k, env[k], v)
				}
			}
			for _, up := range strings.Split(env["MGX_APISIX_PLATFORM_UPSTREAMS"]+","+env["MGX_APISIX_OAUTH_UPSTREAMS"], ",") {
				host, _, ok := strings.Cut(up, ":")
				if _, exists := c.Services[host]; !ok || !exists {
					t.Errorf("platform upstream %q is not a service", up)
				}
			}
			if !slices.Contains(s.ExtraHosts, "host.docker.internal:host-gateway") {
				t.Error("containers reach MGX through host.docker.internal; extra_hosts missing")
			}
		})
	}
	if controls < 2 {
		t.Errorf("%d control instances, want at least 2", controls)
	}

	// References resolve: depends_on, named volumes; the admin port stays on loopback.
	for name, s := range c.Services {
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			switch {
			case strings.HasPrefix(src, "./"):
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts missing file %s", name, src)
				}
			case strings.HasPrefix(src, "/"):
			default:
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s uses undeclared volume %s", name, src)
				}
			}
		}
		for _, p := range s.Ports {
			if strings.Contains(p, "9180") && !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes the Admin API beyond loopback: %s", name, p)
			}
		}
	}
	for name, s := range c.Services {
		if s.Command != nil && s.Command[0] == "scheduler" && !slices.Contains(s.Volumes, "/var/run/docker.sock:/var/run/docker.sock") {
			t.Errorf("%s launches agent containers and needs the Docker socket", name)
		}
	}

	// APISIX and the runner share the socket APISIX's config names.
	var apisixConf struct {
		Deployment struct {
			Admin struct {
				AdminKey []struct {
					Key  string `yaml:"key"`
					Role string `yaml:"role"`
				} `yaml:"admin_key"`
				EnableAdminUI bool `yaml:"enable_admin_ui"`
			} `yaml:"admin"`
			Etcd struct {
				Host []string `yaml:"host"`
			} `yaml:"etcd"`
		} `yaml:"deployment"`
		ExtPlugin struct {
			PathForTest string `yaml:"path_for_test"`
		} `yaml:"ext-plugin"`
		Plugins []string `yaml:"plugins"`
	}
	load(t, "apisix/config.yaml", &apisixConf)
	runner := c.Services["plugin-runner"]
	if sock := strings.TrimPrefix(runner.Environment["APISIX_LISTEN_ADDRESS"], "unix:"); sock != apisixConf.ExtPlugin.PathForTest {
		t.Errorf("runner listens on %s, APISIX connects to %s", sock, apisixConf.ExtPlugin.PathForTest)
	}
	sockDir := filepath.Dir(apisixConf.ExtPlugin.PathForTest)
	shared := func(s service) string {
		for _, v := range s.Volumes {
			if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == sockDir {
				return parts[0]
			}
		}
		return ""
	}
	if a, r := shared(c.Services["apisix"]), shared(runner); a == "" || a != r {
		t.Errorf("socket dir %s not shared: apisix %q, runner %q", sockDir, a, r)
	}
	if !slices.Contains(apisixConf.Plugins, "ext-plugin-pre-req") {
		t.Error("APISIX plugins lack ext-plugin-pre-req")
	}
	if len(apisixConf.Deployment.Admin.AdminKey) != 1 || apisixConf.Deployment.Admin.AdminKey[0].Key != "${{APISIX_ADMIN_KEY}}" {
		t.Errorf("admin key must come from the environment: %+v", apisixConf.Deployment.Admin.AdminKey)
	}
	if c.Services["apisix"].Environment["APISIX_ADMIN_KEY"] != c.Services["control-1"].Environment["MGX_APISIX_ADMIN_KEY"] {
		t.Error("APISIX and MGX do not share the admin key variable")
	}
	if !apisixConf.Deployment.Admin.EnableAdminUI {
		t.Error("dashboard disabled")
	}
	if len(apisixConf.Deployment.Etcd.Host) != 1 || apisixConf.Deployment.Etcd.Host[0] != "http://etcd:2379" {
		t.Errorf("etcd hosts %v", apisixConf.Deployment.Etcd.Host)
	}

	var otel struct {
		Receivers map[string]any `yaml:"receivers"`
		Service   struct {
			Pipelines map[string]struct {
				Receivers []string `yaml:"receivers"`
				Exporters []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	load(t, "otel/config.yaml", &otel)
	if _, ok := otel.Receivers["otlp"]; !ok || len(otel.Service.Pipelines["traces"].Exporters) == 0 {
		t.Errorf("collector config: %+v", otel)
	}
}

// TestDockerComposeConfig runs `docker compose config` where Compose exists.
func TestDockerComposeConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "compose", "version").Run(); err != nil {
		t.Skip("docker compose is not installed here; TestComposeFile checks the structure instead")
	}
	cmd := exec.CommandContext(ctx, "docker", "compose", "-f", "compose.yaml", "config", "-q")
	cmd.Env = append(os.Environ(), "MGX_PUBLIC_URL=https://mgx.example.com", "MGX_APISIX_ADMIN_KEY=test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}
