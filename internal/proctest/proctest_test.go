package proctest

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestKillUnderEndsOnlyGroupsUnderDir(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	start := func(d string) *exec.Cmd {
		cmd := exec.Command("sh", "-c", "sleep 60 & wait")
		cmd.Dir = d
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		return cmd
	}
	in, out := start(dir), start(other)
	time.Sleep(200 * time.Millisecond) // the children are up
	if n := KillUnder(dir); n != 1 {
		t.Fatalf("KillUnder signalled %d groups, want 1", n)
	}
	done := make(chan error, 1)
	go func() { done <- in.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the group under dir still runs")
	}
	if err := syscall.Kill(out.Process.Pid, 0); err != nil {
		t.Fatalf("the group elsewhere was killed too: %v", err)
	}
}
