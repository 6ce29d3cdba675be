package deploy

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/mgx-dev/mgx/templates"
)

// BuildRequest is what a Builder builds: every service of the manifest.
type BuildRequest struct {
	Slug         string
	DeploymentID string
	// Dir is the workspace on the host.
	Dir      string
	Manifest *templates.Manifest
	// BasePath is /apps/<slug>, passed as the BASE_PATH build arg / environment.
	BasePath string
	// Env is extra environment for builds that run on the host (process builder).
	Env map[string]string
}

// Artifact is the result of building one service: an image (docker) or a release
// directory with its start command (process).
type Artifact struct {
	Service string `bson:"service" json:"service"`
	// Image is the image reference (docker builder).
	Image string `bson:"image,omitempty" json:"image,omitempty"`
	// ImageID is the image's content id; equal ids mean nothing changed.
	ImageID string `bson:"image_id,omitempty" json:"image_id,omitempty"`
	// Port is where the service listens inside its container (docker); the process
	// driver picks the port itself.
	Port int `bson:"port,omitempty" json:"port,omitempty"`
	// ReleaseDir is the built copy of the workspace (process builder); Command runs in
	// ReleaseDir/Dir.
	ReleaseDir string   `bson:"release_dir,omitempty" json:"-"`
	Dir        string   `bson:"dir,omitempty" json:"-"`
	Command    []string `bson:"command,omitempty" json:"-"`
	// Size is the image size in bytes, when known.
	Size int64 `bson:"size,omitempty" json:"size,omitempty"`
}

// Builder turns a workspace into artifacts, streaming its output to out.
type Builder interface {
	Build(ctx context.Context, req BuildRequest, out io.Writer) ([]Artifact, error)
	// Remove deletes artifacts that are no longer kept (pruning); missing ones are fine.
	Remove(ctx context.Context, arts []Artifact) error
}

// BuildError is a build that failed because of the app (a compile error, a failing
// step), as opposed to an infrastructure error. Its message is the plain reason.
type BuildError struct{ Reason string }

func (e *BuildError) Error() string { return e.Reason }

// DockerBuilderConfig configures the image builder.
type DockerBuilderConfig struct {
	// Client is a Docker client (client.NewClientWithOpts(client.FromEnv,
	// client.WithAPIVersionNegotiation())). Required.
	Client *client.Client
	// BuildArgs are passed to every build besides BASE_PATH: the base images,
	// NODE_IMAGE, PYTHON_IMAGE and BASE_IMAGE (MGX_IMAGE_NODE, MGX_IMAGE_PYTHON,
	// MGX_IMAGE_BASE). A Dockerfile ignores the ones it does not declare.
	BuildArgs map[string]string
	// CABundle is a host CA file builds must trust (MGX_EXTRA_CA_BUNDLE): it is put in
	// the build context as .mgx-ca.crt, which the templates' Dockerfiles copy when present.
	CABundle string
	// MaxContextBytes bounds the build context; default 512 MiB.
	MaxContextBytes int64
	// Memory limits each build container; default 2 GiB.
	Memory int64
	// Repository prefixes image names: <Repository><slug>-<service>:<deployment>;
	// default "mgx-app/".
	Repository string
}

// DockerBuilder builds images through the Docker Engine API with the legacy builder
// (no BuildKit), one image per service, each cached by the daemon's layer cache.
type DockerBuilder struct {
	cfg DockerBuilderConfig
}

var _ Builder = (*DockerBuilder)(nil)

// NewDockerBuilder validates cfg.
func NewDockerBuilder(cfg DockerBuilderConfig) (*DockerBuilder, error) {
	if cfg.Client == nil {
		return nil, errors.New("deploy: DockerBuilderConfig.Client is required")
	}
	if cfg.CABundle != "" {
		if _, err := os.Stat(cfg.CABundle); err != nil {
			return nil, fmt.Errorf("deploy: CABundle: %w", err)
		}
	}
	if cfg.MaxContextBytes <= 0 {
		cfg.MaxContextBytes = 512 << 20
	}
	if cfg.Memory <= 0 {
		cfg.Memory = 2 << 30
	}
	if cfg.Repository == "" {
		cfg.Repository = "mgx-app/"
	}
	return &DockerBuilder{cfg: cfg}, nil
}

// ImageName is the reference of a service's image for a deployment.
func (b *DockerBuilder) ImageName(slug, service, deploymentID string) string {
	return b.cfg.Repository + slug + "-" + service + ":" + shortID(deploymentID)
}

// Build implements Builder.
func (b *DockerBuilder) Build(ctx context.Context, req BuildRequest, out io.Writer) ([]Artifact, error) {
	var arts []Artifact
	for _, svc := range req.Manifest.Services {
		if svc.Dockerfile == "" {
			return nil, &BuildError{Reason: fmt.Sprintf("service %s has no dockerfile in mgx.json", svc.Name)}
		}
		fmt.Fprintf(out, "==> building service %s (%s, context %s)\n", svc.Name, svc.Dockerfile, svc.Dir)
		art, err := b.buildService(ctx, req, svc, out)
		if err != nil {
			return nil, err
		}
		arts = append(arts, art)
	}
	return arts, nil
}

func (b *DockerBuilder) buildService(ctx context.Context, req BuildRequest, svc templates.Service, out io.Writer) (Artifact, error) {
	tag := b.ImageName(req.Slug, svc.Name, req.DeploymentID)
	pr, pw := io.Pipe()
	ctxDone := make(chan error, 1)
	go func() {
		_, err := writeContext(pw, req.Dir, svc.Dir, svc.Dockerfile, b.cfg.CABundle, b.cfg.MaxContextBytes)
		ctxDone <- err
		pw.CloseWithError(err)
	}()
	// A context that could not be written is the app's problem (too big, unreadable).
	contextFailed := func() error {
		var ce *contextError
		if err := <-ctxDone; errors.As(err, &ce) {
			return &BuildError{Reason: ce.Error()}
		}
		return nil
	}
	args := map[string]*string{}
	for k, v := range b.cfg.BuildArgs {
		args[k] = &v
	}
	bp := req.BasePath
	args["BASE_PATH"] = &bp
	// The Dockerfile's name inside the context is known before the tar stream starts.
	name := contextDockerfile(svc.Dir, svc.Dockerfile)
	resp, err := b.cfg.Client.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  name,
		BuildArgs:   args,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Memory:      b.cfg.Memory,
		MemorySwap:  b.cfg.Memory,
		// No per-deployment label: an unchanged workspace must give the very same image.
		Labels: map[string]string{"mgx.managed": "1", "mgx.app": req.Slug, "mgx.service": svc.Name},
	})
	if err != nil {
		pr.CloseWithError(err)
		if be := contextFailed(); be != nil {
			return Artifact{}, be
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Artifact{}, ctxErr
		}
		return Artifact{}, fmt.Errorf("docker build %s: %w", svc.Name, err)
	}
	defer resp.Body.Close()
	reason, err := streamBuild(resp.Body, out)
	pr.Close()
	if be := contextFailed(); be != nil {
		return Artifact{}, be
	}
	if err != nil {
		if ctx.Err() != nil {
			return Artifact{}, ctx.Err()
		}
		return Artifact{}, fmt.Errorf("docker build %s: %w", svc.Name, err)
	}
	if reason != "" {
		return Artifact{}, &BuildError{Reason: fmt.Sprintf("build of service %s failed: %s", svc.Name, reason)}
	}
	ins, err := b.cfg.Client.ImageInspect(ctx, tag)
	if err != nil {
		return Artifact{}, fmt.Errorf("inspect image %s: %w", tag, err)
	}
	art := Artifact{Service: svc.Name, Image: tag, ImageID: ins.ID, Port: 8080, Size: ins.Size}
	if ins.Config != nil {
		var ports []int
		for p := range ins.Config.ExposedPorts {
			if n, err := strconv.Atoi(strings.Split(string(p), "/")[0]); err == nil {
				ports = append(ports, n)
			}
		}
		sort.Ints(ports)
		if len(ports) > 0 {
			art.Port = ports[0]
		}
	}
	fmt.Fprintf(out, "==> image %s (%s, %d MB)\n", tag, shortID(strings.TrimPrefix(ins.ID, "sha256:")), ins.Size>>20)
	return art, nil
}

// streamBuild copies the daemon's JSON build stream to out as text and returns the
// build's error message, if any.
func streamBuild(r io.Reader, out io.Writer) (string, error) {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Stream      string `json:"stream"`
			Status      string `json:"status"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return "", nil
			}
			return "", err
		}
		switch {
		case m.Error != "" || m.ErrorDetail.Message != "":
			msg := m.ErrorDetail.Message
			if msg == "" {
				msg = m.Error
			}
			fmt.Fprintln(out, msg)
			return strings.TrimSpace(msg), nil
		case m.Stream != "":
			io.WriteString(out, m.Stream)
		case m.Status != "":
			fmt.Fprintln(out, m.Status)
		}
	}
}

// Remove implements Builder: it deletes the images (not the shared layers other images use).
func (b *DockerBuilder) Remove(ctx context.Context, arts []Artifact) error {
	var errs []error
	for _, a := range arts {
		if a.Image == "" {
			continue
		}
		if _, err := b.cfg.Client.ImageRemove(ctx, a.Image, image.RemoveOptions{PruneChildren: true}); err != nil && !strings.Contains(err.Error(), "No such image") {
			errs = append(errs, fmt.Errorf("remove image %s: %w", a.Image, err))
		}
	}
	return errors.Join(errs...)
}

// Files and folders never sent to a build: dependency and build outputs are rebuilt
// inside the image, and .git is large and irrelevant.
var alwaysSkipped = map[string]bool{"node_modules": true, ".venv": true, ".next": true, "dist": true, ".git": true, "__pycache__": true, ".pytest_cache": true}

// injectedDockerfile is the name of a Dockerfile that lies outside its context directory.
const injectedDockerfile = ".mgx.Dockerfile"

// CAFileName is the CA bundle's name in build contexts.
const CAFileName = ".mgx-ca.crt"

type contextError struct{ msg string }

func (e *contextError) Error() string { return e.msg }

// contextDockerfile is the Dockerfile's path inside the context of dir.
func contextDockerfile(dir, dockerfile string) string {
	if rel, ok := within(dir, dockerfile); ok {
		return rel
	}
	return injectedDockerfile
}

func within(dir, p string) (string, bool) {
	if dir == "." {
		return p, true
	}
	if rel, ok := strings.CutPrefix(p, dir+"/"); ok {
		return rel, true
	}
	return "", false
}

// writeContext writes the tar build context of workspace/dir: every file but the skipped
// folders and what .dockerignore excludes (the Dockerfile and .dockerignore are always
// sent), plus the CA bundle as .mgx-ca.crt and the Dockerfile when it lies outside dir.
// Symlinks are sent as links and never followed: nothing outside the workspace is read.
func writeContext(w io.Writer, workspace, dir, dockerfile, caBundle string, maxBytes int64) (string, error) {
	root, err := os.OpenRoot(workspace)
	if err != nil {
		return "", &contextError{fmt.Sprintf("open workspace: %v", err)}
	}
	defer root.Close()
	sub, err := root.OpenRoot(dir)
	if err != nil {
		return "", &contextError{fmt.Sprintf("build context %s: %v", dir, err)}
	}
	defer sub.Close()
	var patterns []string
	if f, err := sub.Open(".dockerignore"); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return "", &contextError{fmt.Sprintf(".dockerignore: %v", err)}
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return "", &contextError{fmt.Sprintf(".dockerignore: %v", err)}
	}
	dfName := contextDockerfile(dir, dockerfile)
	tw := tar.NewWriter(w)
	var total int64
	modTime := time.Unix(0, 0)
	add := func(name string, data []byte, mode int64) error {
		total += int64(len(data))
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: modTime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err = fs.WalkDir(sub.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if alwaysSkipped[d.Name()] && d.IsDir() {
			return fs.SkipDir
		}
		if p == CAFileName || p == injectedDockerfile {
			return nil
		}
		if p != dfName && p != ".dockerignore" {
			skip, err := pm.MatchesOrParentMatches(p)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return fs.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: p, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
		switch {
		case d.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := sub.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			total += info.Size()
			if total > maxBytes {
				return &contextError{fmt.Sprintf("build context of %s is larger than %d MB: add big files to .dockerignore", dir, maxBytes>>20)}
			}
		default:
			return nil // sockets, devices
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := sub.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, io.LimitReader(f, info.Size()))
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		var ce *contextError
		if errors.As(err, &ce) {
			return "", ce
		}
		return "", &contextError{fmt.Sprintf("build context: %v", err)}
	}
	if dfName == injectedDockerfile {
		data, err := root.ReadFile(dockerfile)
		if err != nil {
			return "", &contextError{fmt.Sprintf("dockerfile %s: %v", dockerfile, err)}
		}
		if err := add(injectedDockerfile, data, 0o644); err != nil {
			return "", err
		}
	}
	if caBundle != "" {
		data, err := os.ReadFile(caBundle)
		if err != nil {
			return "", &contextError{fmt.Sprintf("CA bundle: %v", err)}
		}
		if err := add(CAFileName, data, 0o644); err != nil {
			return "", err
		}
	}
	return dfName, tw.Close()
}
