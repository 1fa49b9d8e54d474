package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/lib/event"
)

// InputFlags are the flags of every stage that reads events.
func InputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "strict", Usage: "stop at the first bad input line (exit 2) instead of reporting and skipping it"},
		&cli.IntFlag{Name: "max-line", Value: event.DefaultMaxLine, Usage: "reject input lines longer than `BYTES` (65536 to 67108864; line endings do not count)"},
	}
}

// ReadEvents reads the events of the named inputs in order ("-", or no
// name at all, is stdin) and calls fn for each valid line. A bad line is
// reported on stderr as "input:line: reason", counted and skipped, and a
// summary of the skipped lines is logged at the end; with --strict the
// first bad line ends the reading with exit status 2. A byte order mark
// dropped from line 1 is said once on stderr. Reading stops early when
// ctx ends or fn fails.
func ReadEvents(ctx context.Context, c *cli.Context, env *Env, names []string, fn func(event.Line) error) error {
	if len(names) == 0 {
		names = []string{"-"}
	}
	maxLine := c.Int("max-line")
	if maxLine < event.MinMaxLine || maxLine > event.MaxMaxLine {
		return Usagef("bad --max-line %d: must be from %d (64 KiB) to %d (64 MiB)", maxLine, event.MinMaxLine, event.MaxMaxLine)
	}
	opts := event.ReaderOptions{
		MaxLine: maxLine,
		Strict:  c.Bool("strict"),
		Report:  func(e *event.LineError) { env.Log.Warn(e.Error()) },
		Notice:  func(msg string) { env.Log.Info(msg) },
	}
	for _, name := range names {
		env.Log.Debug("read events", "input", name)
		if err := readInput(ctx, env, name, opts, fn); err != nil {
			return err
		}
	}
	return nil
}

func readInput(ctx context.Context, env *Env, name string, opts event.ReaderOptions, fn func(event.Line) error) error {
	var r io.Reader = env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return WithCode(ExitUsage, fmt.Errorf("read events: %w", err))
		}
		defer f.Close()
		r = f
	} else if r == nil {
		return Usagef("read events: no stdin")
	}
	rd := event.NewReader(r, name, opts)
	defer func() {
		if s := rd.Summary(); s != "" && !opts.Strict {
			env.Log.Warn(s)
		}
	}()
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		line, err := rd.Next()
		var lerr *event.LineError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &lerr):
			return WithCode(ExitUsage, lerr)
		case err != nil:
			return err
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}
