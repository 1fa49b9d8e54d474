package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/lib/watch"
)

func command() app.Tool {
	return app.Tool{
		Name:      "watch",
		Usage:     "run a command when files change or on an interval, and report each run",
		ArgsUsage: "-- COMMAND [ARG...]",
		Description: `watch runs COMMAND (without a shell: use sh -c '…' for a pipeline) each
time a watched file changes, every --every interval, or both. Files are
watched through their folders, so editors' atomic saves, deletions,
re-creations and new files all count; --recursive watches every folder
below, including folders created later. Changes that come close together
are gathered into one run (--debounce). Editors' swap and backup files
(*.swp, *~, .#*, 4913, …) and .git, .hg and .svn are ignored.

A change that comes while the command runs is handled by --on-busy:
queue (the default) runs once more when the run ends, so no change is
lost; restart stops the run and starts a new one; signal sends --signal
to the command; ignore drops the change.

The command runs in its own process group with stdin from /dev/null and
watch's stdout and stderr. To stop it (restart, or SIGINT/SIGTERM to
watch), watch sends --stop-signal to the whole group, waits
--stop-timeout, then sends SIGKILL to the group, so no process of a
pipeline survives. SIGINT, SIGTERM and SIGHUP end watch that way, with
exit status 130, 143 or 129.

Each run is reported as two NDJSON "run" events (phase start and end:
trigger, changed paths and kinds, exit status or signal, duration) on
stderr, or appended to --events FILE.`,
		Examples: []string{
			"watch -w targets.txt -- probe -n -iL targets.txt",
			"watch -w /etc/picket --every 24h --jitter 30m --initial -- sh -c 'probe -iL /etc/picket/targets.txt | ndiff --baseline state.ndjson --update'",
			"watch -r -w drops/ --glob '*.xml' --events runs.ndjson -- ./import.sh",
			"watch -w app.conf --on-busy restart --stop-timeout 3s -- ./server",
		},
		ExitCodes: []string{
			"0    success",
			"1    runtime error (e.g. the inotify watch limit reached)",
			"2    usage error (bad flags or arguments, a missing folder or program)",
			"129  hung up (SIGHUP)",
		},
		Flags:  flags(),
		Action: action,
	}
}

func flags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "path", Aliases: []string{"w"}, Value: &app.List{}, Usage: "watch `PATH` (a file or a folder; repeat for more)"},
		&cli.BoolFlag{Name: "recursive", Aliases: []string{"r"}, Usage: "watch every folder below the folders given, including new ones"},
		&cli.GenericFlag{Name: "glob", Value: &app.List{}, Usage: "only files matching `PATTERN` (.gitignore syntax) trigger a run; repeat for more"},
		&cli.GenericFlag{Name: "ignore", Value: &app.List{}, Usage: "paths matching `PATTERN` (.gitignore syntax) never trigger a run; repeat for more"},
		&cli.GenericFlag{Name: "ignore-file", Value: &app.List{}, Usage: "read ignore patterns from `FILE` (.gitignore syntax, relative to its folder)"},
		&cli.BoolFlag{Name: "no-default-ignores", Usage: "do not ignore editors' swap and backup files and .git, .hg, .svn"},
		&cli.DurationFlag{Name: "debounce", Value: watch.DefaultDebounce, Usage: "run once no change has come for `DURATION`"},
		&cli.DurationFlag{Name: "every", Usage: "also run every `DURATION` (e.g. 24h)"},
		&cli.DurationFlag{Name: "jitter", Usage: "delay each interval run by a random time below `DURATION`"},
		&cli.BoolFlag{Name: "initial", Usage: "run once at start"},
		&cli.StringFlag{Name: "on-busy", Value: string(watch.Queue), Usage: "on a change during a run: `POLICY` queue, restart, signal or ignore"},
		&cli.StringFlag{Name: "stop-signal", Value: "TERM", Usage: "stop the command's process group with `SIGNAL`"},
		&cli.DurationFlag{Name: "stop-timeout", Value: watch.DefaultStopTimeout, Usage: "after the stop signal, wait `DURATION` before SIGKILL"},
		&cli.StringFlag{Name: "signal", Value: "HUP", Usage: "`SIGNAL` sent to the command by --on-busy signal"},
		&cli.StringFlag{Name: "events", Usage: "append run events to `FILE` instead of stderr"},
	}
}

func action(ctx context.Context, c *cli.Context, env *app.Env) error {
	for _, name := range []string{"debounce", "every", "jitter", "stop-timeout"} {
		if d := c.Duration(name); d < 0 {
			return app.Usagef("bad --%s %s: want 0 or more", name, d)
		}
	}
	cfg := watch.Config{
		Command:          c.Args().Slice(),
		Paths:            *c.Generic("path").(*app.List),
		Recursive:        c.Bool("recursive"),
		Globs:            *c.Generic("glob").(*app.List),
		Ignores:          *c.Generic("ignore").(*app.List),
		IgnoreFiles:      *c.Generic("ignore-file").(*app.List),
		NoDefaultIgnores: c.Bool("no-default-ignores"),
		Debounce:         c.Duration("debounce"),
		Every:            c.Duration("every"),
		Jitter:           c.Duration("jitter"),
		Initial:          c.Bool("initial"),
		StopTimeout:      c.Duration("stop-timeout"),
		Stdout:           env.Stdout,
		Stderr:           env.Stderr,
		Events:           env.Stderr,
		Log:              env.Log,
		Now:              env.Now,
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = time.Nanosecond // 0 asks for no debounce, not the default
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = time.Nanosecond
	}
	var err error
	if cfg.OnBusy, err = watch.ParseOnBusy(c.String("on-busy")); err != nil {
		return app.Usagef("--on-busy: %v", err)
	}
	if cfg.StopSignal, err = watch.ParseSignal(c.String("stop-signal")); err != nil {
		return app.Usagef("--stop-signal: %v", err)
	}
	if cfg.Signal, err = watch.ParseSignal(c.String("signal")); err != nil {
		return app.Usagef("--signal: %v", err)
	}
	if name := c.String("events"); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("open events file: %w", err)
		}
		defer f.Close()
		cfg.Events = f
	}
	return runWatch(ctx, cfg)
}

func runWatch(ctx context.Context, cfg watch.Config) error {
	// A hangup (the terminal closed) ends watch like SIGTERM does, so
	// the command's process group, which the kernel does not signal on
	// a hangup, is stopped too.
	ctx, cancel := context.WithCancelCause(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-hup:
			cancel(&app.SignalError{Signal: syscall.SIGHUP})
		case <-ctx.Done():
		}
	}()
	defer func() {
		signal.Stop(hup)
		cancel(nil)
		<-stopped
	}()
	err := watch.Run(ctx, cfg)
	if errors.Is(err, watch.ErrUsage) {
		return app.WithCode(app.ExitUsage, errors.New(strings.TrimPrefix(err.Error(), watch.ErrUsage.Error()+": ")))
	}
	return err
}
