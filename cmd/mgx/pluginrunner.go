package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	gatewayplugins "github.com/mgx-dev/mgx/gateway-plugins"
)

func runPluginRunner(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, `Usage: mgx plugin-runner

Runs the APISIX Go plugin runner (apisix-go-plugin-runner v0.5.0) with the plugin
mgx-app-router, which rewrites app subpaths for APISIX's ext-plugin-pre-req. APISIX
starts it and passes APISIX_LISTEN_ADDRESS=unix:<socket>; set MGX_PLUGIN_DEBUG=1 to log
every call.
`)
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintln(stderr, "mgx plugin-runner: takes no arguments; see 'mgx plugin-runner --help'")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := gatewayplugins.RunPluginRunner(ctx, gatewayplugins.RunnerConfig{
		ListenAddress: getenv(gatewayplugins.EnvListenAddress), LogOutput: stderr, Debug: getenv("MGX_PLUGIN_DEBUG") == "1",
	})
	if err != nil {
		fmt.Fprintf(stderr, "mgx plugin-runner: %v\n", err)
		return 1
	}
	return 0
}
