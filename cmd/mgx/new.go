package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/templates"
)

// runNew renders a template the way the platform does when a session starts.
func runNew(args []string, stdout, stderr io.Writer, _ func(string) string) int {
	fs := flag.NewFlagSet("mgx new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the app's name, shown in its UI (default: the directory's name)")
	slug := fs.String("slug", "", "URL-friendly name used in base paths (default: derived from --name)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mgx new <%s> <dir> --name <app name>\n\nRenders an app template into a new directory, as MGX does when a session starts.\n\nFlags:\n", strings.Join(templates.Frameworks(), "|"))
		fs.PrintDefaults()
	}
	// Flags may come before or after the two positional arguments.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "mgx new: want a framework (%s) and a directory, got %d argument(s); see 'mgx new --help'\n", strings.Join(templates.Frameworks(), " or "), len(pos))
		return 2
	}
	framework, dir := pos[0], pos[1]
	if *name == "" {
		*name = filepath.Base(filepath.Clean(dir))
	}
	if *slug == "" {
		*slug = apps.Slugify(*name)
	}
	if *slug == "" {
		*slug = "app" // a name with no Latin letters or digits
	}
	if err := templates.Render(framework, dir, templates.Vars{AppName: *name, Slug: *slug}); err != nil {
		fmt.Fprintf(stderr, "mgx new: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Rendered %s app %q (slug %s) into %s. See its README.md to run it.\n", framework, *name, *slug, dir)
	return 0
}
