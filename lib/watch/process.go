package watch

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// groupPoll is how often a stopping process group is checked for
// members still alive.
const groupPoll = 10 * time.Millisecond

// killWait bounds the wait for a process group to vanish after SIGKILL;
// only a process stuck in the kernel (uninterruptible sleep) outlives it.
const killWait = 5 * time.Second

// Process is one run of the command, in a process group of its own so
// that a signal reaches every process of a pipeline (sh -c 'a | b') and
// any process they started, not only the shell.
type Process struct {
	cmd   *exec.Cmd
	pgid  int
	start time.Time
	done  chan struct{}
	err   error // from cmd.Wait, read after done is closed
}

// StartProcess starts argv in a new process group, with stdin from the
// null device and stdout and stderr on the given writers (an *os.File is
// handed to the command as it is, so output passes through untouched).
func StartProcess(argv []string, stdout, stderr io.Writer) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// When output goes through a pipe of os/exec's (a writer that is not
	// a file), a process of the group that outlives the command could
	// hold it open; do not wait for it forever.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &Process{cmd: cmd, pgid: cmd.Process.Pid, start: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the command's process ID, which is also its process group ID.
func (p *Process) PID() int { return p.pgid }

// Done is closed when the command (the group's leader) has exited and
// been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to every process of the group.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.pgid, err)
	}
	return nil
}

// Stop ends the whole process group: it sends sig to the group, waits up
// to timeout for every process in it to end, then sends SIGKILL to the
// group. It returns when the command has been reaped and no process of
// the group is left (or, after SIGKILL, after a bounded wait), and
// reports whether SIGKILL was needed.
func (p *Process) Stop(sig syscall.Signal, timeout time.Duration) (killed bool, err error) {
	if err := p.Signal(sig); err != nil {
		return false, err
	}
	if !p.waitGroup(time.Now().Add(timeout)) {
		killed = true
		if err := p.Signal(syscall.SIGKILL); err != nil {
			return killed, err
		}
		if !p.waitGroup(time.Now().Add(killWait)) {
			return killed, fmt.Errorf("process group %d: processes left after SIGKILL", p.pgid)
		}
	}
	return killed, nil
}

// waitGroup waits until the leader is reaped and the group has no live
// member, or until deadline; it reports whether the group ended.
func (p *Process) waitGroup(deadline time.Time) bool {
	t := time.NewTicker(groupPoll)
	defer t.Stop()
	for {
		reaped := false
		select {
		case <-p.done:
			reaped = true
		default:
		}
		if reaped && !groupAlive(p.pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if reaped {
			<-t.C
			continue
		}
		select {
		case <-p.done:
		case <-t.C:
		}
	}
}

// Outcome is how a finished command ended.
type Outcome struct {
	// ExitStatus is set when the command exited by itself.
	ExitStatus *int
	// Signal names the signal that ended it, if one did.
	Signal string
	// Err is set when waiting for the command failed.
	Err error
}

// Outcome returns how the command ended; call it after Done is closed.
func (p *Process) Outcome() Outcome {
	<-p.done
	state := p.cmd.ProcessState
	if state == nil {
		return Outcome{Err: p.err}
	}
	var o Outcome
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.Signal = SignalName(ws.Signal())
	} else {
		code := state.ExitCode()
		o.ExitStatus = &code
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		o.Err = p.err
	}
	return o
}
