// Package proctest helps tests that start MGX with the process runtime clean up after
// themselves: dev servers and agents run in their own process groups and outlive a test
// that fails halfway.
package proctest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillUnder ends (SIGTERM, then SIGKILL after 3 s) the process groups of processes whose
// working directory is under dir or whose command line names it, but never this test
// process's own group, and returns how many groups it signalled.
func KillUnder(dir string) int {
	ents, _ := os.ReadDir("/proc")
	groups := map[int]bool{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !strings.HasPrefix(cwd, dir) && !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			groups[pgid] = true
		}
	}
	for g := range groups {
		_ = syscall.Kill(-g, syscall.SIGTERM)
	}
	if len(groups) > 0 {
		time.Sleep(3 * time.Second)
		for g := range groups {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	}
	return len(groups)
}
