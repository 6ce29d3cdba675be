// Command mgx is the whole MGX platform in one binary: `mgx up` runs every role in
// one process; the other subcommands run one role each or help around it.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of mgx.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer, getenv func(string) string) int
}

func commands() map[string]command {
	return map[string]command{
		"up":            {"run every MGX role in one process on embedded defaults", runUp},
		"control":       {"run the control plane API alone", runControl},
		"oauth":         {"run the OAuth2/OIDC provider alone", runOAuth},
		"scheduler":     {"run the agent scheduler alone", runScheduler},
		"agent":         {"run one agent team session (inside an agent container)", runAgent},
		"plugin-runner": {"run the APISIX Go plugin runner with mgx-app-router", runPluginRunner},
		"new":           {"render an app template into a directory", runNew},
		"version":       {"print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mgx: unknown command %q; run 'mgx --help' for the list\n", args[0])
		return 2
	}
	return cmd.run(args[1:], stdout, stderr, getenv)
}

func usage(w io.Writer) {
	fmt.Fprint(w, "MGX: chat with a team of AI agents that writes, runs and deploys web apps.\n\n")
	fmt.Fprint(w, "Usage: mgx <command> [flags]\n\nCommands:\n")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, "\nRun 'mgx <command> --help' for a command's flags. Every flag of 'mgx up' can also\nbe set with the MGX_* environment variable named in its help.\n")
}

func runVersion(args []string, stdout, stderr io.Writer, _ func(string) string) int {
	if len(args) > 0 && strings.TrimLeft(args[0], "-") != "help" && args[0] != "-h" {
		fmt.Fprintf(stderr, "mgx version: takes no arguments\n")
		return 2
	}
	fmt.Fprintln(stdout, "mgx", version())
	return 0
}
