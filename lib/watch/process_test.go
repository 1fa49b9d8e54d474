package watch

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid is a live process: it exists and is not a
// zombie waiting to be reaped.
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readPID waits for file to hold a PID and returns it.
func readPID(t *testing.T, file string) int {
	t.Helper()
	var pid int
	waitFor(t, "a PID in "+file, 5*time.Second, func() bool {
		data, err := os.ReadFile(file)
		if err != nil || !strings.HasSuffix(string(data), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	return pid
}

// killPID is a safety net: a test that fails must not leave its own
// processes behind.
func killPID(t *testing.T, pid int) {
	t.Cleanup(func() {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func TestStopKillsGrandchild(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, err := StartProcess([]string{"sh", "-c", `sleep 1000 & echo $! > "$0"; wait`, pidfile}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	grandchild := readPID(t, pidfile)
	killPID(t, grandchild)
	if !alive(grandchild) {
		t.Fatalf("grandchild %d not running", grandchild)
	}
	killed, err := p.Stop(syscall.SIGTERM, 5*time.Second)
	if err != nil || killed {
		t.Fatalf("Stop = killed %v, %v; want a clean stop by SIGTERM", killed, err)
	}
	if alive(grandchild) {
		t.Errorf("grandchild %d survived the stop", grandchild)
	}
	if o := p.Outcome(); o.Signal != "SIGTERM" || o.ExitStatus != nil {
		t.Errorf("outcome = %+v, want ended by SIGTERM", o)
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	// The shell ignores SIGTERM, and so does the sleep it starts (an
	// ignored signal stays ignored across exec).
	p, err := StartProcess([]string{"sh", "-c", `trap "" TERM; sleep 1000 & echo $! > "$0"; wait`, pidfile}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	grandchild := readPID(t, pidfile)
	killPID(t, grandchild)
	const timeout = 300 * time.Millisecond
	began := time.Now()
	killed, err := p.Stop(syscall.SIGTERM, timeout)
	took := time.Since(began)
	if err != nil || !killed {
		t.Fatalf("Stop = killed %v, %v; want SIGKILL after the timeout", killed, err)
	}
	if took < timeout {
		t.Errorf("SIGKILL after %s, before the %s timeout", took, timeout)
	}
	if alive(grandchild) {
		t.Errorf("grandchild %d survived SIGKILL", grandchild)
	}
	if o := p.Outcome(); o.Signal != "SIGKILL" {
		t.Errorf("outcome = %+v, want ended by SIGKILL", o)
	}
}

func TestStopWaitsForTheWholeGroup(t *testing.T) {
	// The shell dies at once from SIGTERM; a child that ignores it
	// stays, so Stop must not take the shell's end for the group's.
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, err := StartProcess([]string{"sh", "-c", `sh -c 'trap "" TERM; exec sleep 1000' & echo $! > "$0"; wait`, pidfile}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	child := readPID(t, pidfile)
	killPID(t, child)
	waitFor(t, "the child to ignore SIGTERM", 5*time.Second, func() bool {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/comm")
		return strings.TrimSpace(string(data)) == "sleep"
	})
	killed, err := p.Stop(syscall.SIGTERM, 200*time.Millisecond)
	if err != nil || !killed {
		t.Fatalf("Stop = killed %v, %v; want SIGKILL for the child left", killed, err)
	}
	if alive(child) {
		t.Errorf("child %d survived", child)
	}
}

func TestOutcomeExitStatus(t *testing.T) {
	p, err := StartProcess([]string{"sh", "-c", "exit 3"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	o := p.Outcome()
	if o.ExitStatus == nil || *o.ExitStatus != 3 || o.Signal != "" || o.Err != nil {
		t.Errorf("outcome = %+v, want exit status 3", o)
	}
	if _, err := StartProcess([]string{"/nonexistent/cmd"}, nil, nil); err == nil {
		t.Error("StartProcess of a missing program succeeded")
	}
}
