package deploy

import (
	"context"
	"errors"
	"fmt"
	"github.com/mgx-dev/mgx/runtime/process"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mgx-dev/mgx/templates"
)

// ProcessBuilderConfig configures the builder for machines without Docker.
type ProcessBuilderConfig struct {
	// ReleasesDir keeps one built copy of the workspace per deployment, e.g.
	// <data-dir>/releases. Required.
	ReleasesDir string
	// CABundle is a CA file the install and build steps must trust (MGX_EXTRA_CA_BUNDLE).
	CABundle string
	// StepTimeout bounds each install or build step; default 15m.
	StepTimeout time.Duration
}

// ProcessBuilder builds on the host: it copies the workspace (without dependency and build
// folders) into a release directory and runs each service's install and build commands
// there. The process runtime then runs the service's start command in it.
type ProcessBuilder struct {
	cfg ProcessBuilderConfig
}

var _ Builder = (*ProcessBuilder)(nil)

// NewProcessBuilder validates cfg.
func NewProcessBuilder(cfg ProcessBuilderConfig) (*ProcessBuilder, error) {
	if cfg.ReleasesDir == "" {
		return nil, errors.New("deploy: ProcessBuilderConfig.ReleasesDir is required")
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 15 * time.Minute
	}
	if err := os.MkdirAll(cfg.ReleasesDir, 0o700); err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	return &ProcessBuilder{cfg: cfg}, nil
}

// Build implements Builder.
func (b *ProcessBuilder) Build(ctx context.Context, req BuildRequest, out io.Writer) ([]Artifact, error) {
	rel := filepath.Join(b.cfg.ReleasesDir, req.Slug, req.DeploymentID)
	if err := os.MkdirAll(filepath.Dir(rel), 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "==> copying the workspace to the release %s\n", filepath.Base(rel))
	if err := copyTree(req.Dir, rel); err != nil {
		os.RemoveAll(rel)
		return nil, fmt.Errorf("copy workspace: %w", err)
	}
	env := process.HostEnv()
	for k, v := range req.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, "BASE_PATH="+req.BasePath, "NODE_ENV=production", "NEXT_TELEMETRY_DISABLED=1", "CI=1")
	if b.cfg.CABundle != "" {
		env = append(env, "NODE_EXTRA_CA_CERTS="+b.cfg.CABundle, "PIP_CERT="+b.cfg.CABundle, "SSL_CERT_FILE="+b.cfg.CABundle, "REQUESTS_CA_BUNDLE="+b.cfg.CABundle)
	}
	var arts []Artifact
	for _, svc := range req.Manifest.Services {
		dir := filepath.Join(rel, filepath.FromSlash(svc.Dir))
		for _, step := range []struct {
			name string
			argv []string
		}{{"install", svc.Install}, {"build", svc.Build}} {
			if len(step.argv) == 0 {
				continue
			}
			fmt.Fprintf(out, "==> %s %s: %s\n", svc.Name, step.name, strings.Join(step.argv, " "))
			if err := b.run(ctx, dir, env, step.argv, out); err != nil {
				os.RemoveAll(rel)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, &BuildError{Reason: fmt.Sprintf("%s of service %s failed: %v", step.name, svc.Name, err)}
			}
		}
		arts = append(arts, Artifact{Service: svc.Name, ReleaseDir: rel, Dir: svc.Dir, Command: svc.Start})
	}
	return arts, nil
}

func (b *ProcessBuilder) run(ctx context.Context, dir string, env, argv []string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.StepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole group: npm and friends start children.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %v", b.cfg.StepTimeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit code %d", ee.ExitCode())
	}
	return err
}

// Remove implements Builder: it deletes release directories.
func (b *ProcessBuilder) Remove(_ context.Context, arts []Artifact) error {
	var errs []error
	seen := map[string]bool{}
	for _, a := range arts {
		if a.ReleaseDir == "" || seen[a.ReleaseDir] {
			continue
		}
		seen[a.ReleaseDir] = true
		// Only directories under ReleasesDir are ever removed.
		if rel, err := filepath.Rel(b.cfg.ReleasesDir, a.ReleaseDir); err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		if err := os.RemoveAll(a.ReleaseDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyTree copies src into dst (created) through os.Root, skipping dependency and build
// folders; symlinks are copied as links.
func copyTree(src, dst string) error {
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() && alwaysSkipped[d.Name()] {
			return fs.SkipDir
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := root.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			in, err := root.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			outF, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, info.Mode().Perm()|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(outF, in); err != nil {
				outF.Close()
				return err
			}
			return outF.Close()
		}
		return nil
	})
}

// manifestOf loads the workspace's manifest and explains a problem in plain words.
func manifestOf(dir string) (*templates.Manifest, error) {
	m, err := templates.LoadManifest(dir)
	if err != nil {
		return nil, &BuildError{Reason: fmt.Sprintf("cannot read the app's mgx.json: %v", err)}
	}
	return m, nil
}
