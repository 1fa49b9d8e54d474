// Package app is the command-line frame shared by Picket's tools: the
// common flags (--log-format, -q, -v, --strict, --version, --help with
// examples, anywhere on the line),
// exit codes from errors, signal handling and a quiet exit on a closed
// stdout. Each tool supplies its own flags and an action; the rest is
// here once. It lives under cmd/ because lib/ stays free of urfave/cli.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// Env is what an action gets besides its flags: the standard streams, a
// logger for diagnostics on stderr, and a clock.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
	Now    func() time.Time
	// StderrTerminal is true when stderr is a terminal, where progress
	// lines are welcome.
	StderrTerminal bool
	// Verbose counts -v: 1 enables debug records on Log, 2 and more also
	// trace records (LevelTrace).
	Verbose int

	jsonLog bool
}

// Tool describes one command.
type Tool struct {
	Name      string
	Usage     string // one line, for the help header
	ArgsUsage string
	// Description is the longer help text; Examples are shown after it
	// under their own heading, one command per line.
	Description string
	Examples    []string
	ExitCodes   []string
	// Flags are the tool's own flags. Check required values in Action
	// and return Usagef: urfave/cli's Required flags fail outside the
	// usage-error path and are not used.
	Flags  []cli.Flag
	Action func(ctx context.Context, c *cli.Context, env *Env) error
}

// LevelTrace is the level of the records -vv adds: per-item detail below
// debug.
const LevelTrace = slog.LevelDebug - 4

// Main runs t as the program and exits with its code. SIGINT and SIGTERM
// cancel the action's context; SIGPIPE is turned into an error on write
// so a closed stdout ends the program through the normal path.
func Main(t Tool) {
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := SignalContext(context.Background())
	code := Run(ctx, t, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run runs t with args (args[0] is the program name) and returns the exit
// code. It never exits itself, so tests run whole commands in-process.
func Run(ctx context.Context, t Tool, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Now: time.Now, StderrTerminal: isTerminal(stderr)}
	installFlagStringer.Do(func() { cli.FlagStringer = singleDashStringer(cli.FlagStringer) })
	a := &cli.App{
		Name:        t.Name,
		Usage:       t.Usage,
		UsageText:   t.Name + " [flags] " + t.ArgsUsage,
		Description: description(t),
		Reader:      stdin,
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags: slices.Concat(t.Flags, []cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "diagnostics on stderr as `FORMAT`: text or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "report only errors on stderr"},
			// urfave/cli's own version flag is also -v; Nmap users
			// type -v for verbose, so the frame has its own.
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: &env.Verbose, Usage: "more diagnostics on stderr (-vv: more still)"},
			&cli.BoolFlag{Name: "version", Usage: "print the version on stdout and exit"},
		}),
		HideVersion:            true,
		HideHelpCommand:        true,
		UseShortOptionHandling: false,
		// Errors go back to Run, which decides the exit code, so
		// deferred cleanup in actions always runs.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return WithCode(ExitUsage, err)
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				_, err := fmt.Fprintf(stdout, "%s version %s\n", t.Name, Version())
				return err
			}
			level := slog.LevelInfo
			switch {
			case c.Bool("quiet") && env.Verbose > 0:
				return Usagef("-q and -v contradict each other: give one")
			case c.Bool("quiet"):
				level = slog.LevelError
			case env.Verbose == 1:
				level = slog.LevelDebug
			case env.Verbose > 1:
				level = LevelTrace
			}
			log, err := NewLogger(stderr, t.Name, c.String("log-format"), level)
			if err != nil {
				return err
			}
			env.Log = log
			env.jsonLog = c.String("log-format") == "json"
			log.Debug("start", "version", Version(), "args", strings.Join(args[1:], " "))
			return t.Action(ctx, c, env)
		},
	}
	err := a.RunContext(ctx, normalizeArgs(args, a.Flags))
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, syscall.EPIPE) {
		// The reader went away (| head): that is the reader's choice,
		// not a failure, so end quietly and successfully.
		return ExitOK
	}
	if sigCode := signalCode(ctx); sigCode != 0 && errors.Is(err, context.Canceled) {
		return sigCode
	}
	if st := (*ExitError)(nil); errors.As(err, &st) && st.Err == nil {
		return st.Code // a result (see Status), not a failure
	}
	code := Code(err)
	var own *ExitError
	var sig *SignalError
	if code != ExitFailure && !errors.As(err, &own) && !errors.As(err, &sig) {
		// An exit code that urfave/cli chose itself (it uses 3 for an
		// unknown help topic): the documented codes are 0, 1 and 2, and
		// anything cli refuses is a usage error.
		code = ExitUsage
	}
	switch {
	case errors.As(err, &sig):
	case env.jsonLog:
		// Diagnostics stay machine-readable to the end.
		env.Log.Error(err.Error(), "exit", code)
	default:
		fmt.Fprintf(stderr, "%s: %s\n", t.Name, err)
	}
	var ee *ExitError
	if code == ExitUsage && !env.jsonLog && !(errors.As(err, &ee) && ee.NoUsageHint) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", t.Name)
	}
	return code
}

// signalCode is the exit code for a context ended by a signal, or 0.
func signalCode(ctx context.Context) int {
	var se *SignalError
	if errors.As(context.Cause(ctx), &se) {
		return se.ExitCode()
	}
	return 0
}

func description(t Tool) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(t.Description))
	if len(t.Examples) > 0 {
		b.WriteString("\n\nExamples:\n")
		for _, e := range t.Examples {
			b.WriteString("   " + e + "\n")
		}
	}
	codes := t.ExitCodes
	if len(codes) == 0 {
		codes = []string{
			"0    success",
			"1    runtime error",
			"2    usage error (bad flags, arguments or input with --strict)",
		}
	}
	b.WriteString("\nExit status:\n")
	for _, c := range append(codes, "130  interrupted by SIGINT", "143  terminated by SIGTERM") {
		b.WriteString("   " + c + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
