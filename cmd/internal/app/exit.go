package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit codes shared by every Picket command. ndiff adds its own meaning to
// 1 (differences found), as diff(1) does. A signal ends a program with
// 128 plus its number (130 for SIGINT, 143 for SIGTERM); see
// SignalError.ExitCode.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime error: the work could not be done
	ExitUsage   = 2 // bad flags, bad arguments, or bad input in --strict mode
)

// ExitError is an error that knows the exit code it should end the
// program with. Library code returns it instead of exiting, so deferred
// cleanup always runs.
type ExitError struct {
	Code int
	Err  error
	// NoUsageHint keeps Run from pointing at --help for an error that
	// ends with ExitUsage but is not about usage (ndiff ends every
	// failure with 2, as diff does).
	NoUsageHint bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode reports the code carried by the error.
func (e *ExitError) ExitCode() int { return e.Code }

// Usagef returns an error that ends the program with ExitUsage.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Status returns an error that ends the program with code and prints
// nothing: a result rather than a failure, such as ndiff's 1 for
// "differences found".
func Status(code int) error { return &ExitError{Code: code} }

// WithCode wraps err so that it ends the program with code. A nil err
// stays nil.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// Code returns the exit code for err: ExitOK for nil, the carried code for
// an error with an ExitCode method anywhere in its chain, and ExitFailure
// otherwise.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return ExitFailure
}

// SignalError is the cancellation cause of a context ended by a signal.
// Its text is the signal's conventional name, such as "SIGINT", which
// stages record in their end-of-run events.
type SignalError struct{ Signal syscall.Signal }

func (e *SignalError) Error() string {
	switch e.Signal {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return fmt.Sprintf("signal %d", int(e.Signal))
}

// ExitCode is 128 plus the signal number, as shells report it.
func (e *SignalError) ExitCode() int { return 128 + int(e.Signal) }

// SignalContext returns a context that is cancelled, with a *SignalError
// as its cause, on the first SIGINT or SIGTERM. A second signal is left to
// the default handler, so a stuck program can still be killed with a
// second Ctrl-C. stop releases the handler; call it when done.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case s := <-ch:
			cancel(&SignalError{Signal: s.(syscall.Signal)})
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		<-finished
		signal.Stop(ch)
		cancel(nil)
	}
}

// Version returns the version of the running binary: the module version
// when built with `go install module@version`, otherwise "devel" with the
// VCS revision when the build recorded one.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
