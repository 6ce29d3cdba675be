package platform

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/runtime/docker"
	"github.com/mgx-dev/mgx/runtime/process"
)

// selectRuntime picks the container runtime: docker when asked, or on auto when a
// Docker daemon answers within two seconds; the process driver otherwise.
func (p *Platform) selectRuntime(ctx context.Context) (runtime.Driver, string, error) {
	mode := p.Config.Runtime
	if mode == "auto" || mode == "docker" {
		d, err := docker.New(docker.Config{Logger: p.Log.With("component", "docker")})
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err = d.Ping(pctx)
			cancel()
		}
		switch {
		case err == nil:
			return d, "docker", nil
		case mode == "docker":
			return nil, "", fmt.Errorf("MGX_RUNTIME=docker but Docker does not answer: %w", err)
		}
	}
	d, err := process.New(process.Config{StateDir: p.DataDir.Join("runtime"), Logger: p.Log.With("component", "process")})
	if err != nil {
		return nil, "", err
	}
	return d, "process", nil
}

// dockerBridgeIP is the host's address on Docker's default bridge (docker0), which
// containers reach as host.docker.internal; "" when there is none.
func dockerBridgeIP() string {
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}
