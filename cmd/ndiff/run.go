package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/lib/baseline"
	"github.com/picketscan/picket/lib/diff"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/nmapxml"
	"github.com/picketscan/picket/lib/policy"
	"github.com/picketscan/picket/lib/state"
)

// config is what the flags ask for.
type config struct {
	baseline    string
	old         string
	news        []string
	update      bool
	history     string
	historyKeep int
	format      string
	changesOnly bool
	policy      string
	opts        diff.Options
}

func action(ctx context.Context, c *cli.Context, env *app.Env) error {
	cfg, err := parse(c, env)
	if err != nil {
		return err
	}
	n, err := run(ctx, c, env, cfg)
	if err != nil {
		// Every failure is exit status 2, as for diff(1); signals keep
		// their own codes.
		if app.Code(err) == app.ExitFailure {
			return &app.ExitError{Code: app.ExitUsage, Err: err, NoUsageHint: true}
		}
		return err
	}
	if n > 0 {
		return app.Status(1)
	}
	return nil
}

func parse(c *cli.Context, env *app.Env) (*config, error) {
	cfg := &config{
		baseline: c.String("baseline"), update: c.Bool("update"), history: c.String("history"),
		historyKeep: c.Int("history-keep"), format: c.String("format"), changesOnly: c.Bool("changes-only"),
		policy: c.String("policy"),
	}
	args := c.Args().Slice()
	if cfg.baseline == "" {
		if len(args) == 0 {
			return nil, app.Usagef("nothing to compare: give --baseline FILE, or OLD and NEW files")
		}
		cfg.old, cfg.news = args[0], args[1:]
		if cfg.update {
			return nil, app.Usagef("--update needs --baseline FILE")
		}
		if cfg.old == "-" && (len(cfg.news) == 0 || slices.Contains(cfg.news, "-")) {
			return nil, app.Usagef("OLD and NEW cannot both be stdin: name NEW's file when OLD is -")
		}
	} else {
		cfg.news = args
	}
	switch cfg.format {
	case "ndjson", "text", "xml":
	default:
		return nil, app.Usagef("bad --format %q: want ndjson, text or xml", cfg.format)
	}
	if c.Int("confirm") < 1 {
		return nil, app.Usagef("bad --confirm %d: want 1 or more", c.Int("confirm"))
	}
	if c.Int("cert-warn-days") < 0 {
		return nil, app.Usagef("bad --cert-warn-days %d: want 0 or more", c.Int("cert-warn-days"))
	}
	if cfg.historyKeep < 1 {
		return nil, app.Usagef("bad --history-keep %d: want 1 or more", cfg.historyKeep)
	}
	if cfg.history != "" && !cfg.update {
		return nil, app.Usagef("--history needs --update")
	}
	now := env.Now()
	if t := c.Timestamp("at"); t != nil {
		now = *t
	}
	cfg.opts = diff.Options{
		Now:           now,
		CertWarn:      time.Duration(c.Int("cert-warn-days")) * 24 * time.Hour,
		Confirm:       c.Int("confirm"),
		ReportUnknown: c.Bool("report-unknown"),
		PolicyNewOnly: c.Bool("policy-new-only"),
	}
	if cfg.opts.PolicyNewOnly && cfg.policy == "" {
		return nil, app.Usagef("--policy-new-only needs --policy FILE")
	}
	if cfg.policy != "" {
		f, err := os.Open(cfg.policy)
		if err != nil {
			return nil, app.WithCode(app.ExitUsage, fmt.Errorf("read policy: %w", err))
		}
		p, err := policy.Parse(f, cfg.policy)
		f.Close()
		if err != nil {
			return nil, app.WithCode(app.ExitUsage, err)
		}
		cfg.opts.Policy, cfg.opts.Severity = p, p.Severity
	}
	return cfg, nil
}

// run compares and writes the output; it returns the number of changes.
func run(ctx context.Context, c *cli.Context, env *app.Env, cfg *config) (int, error) {
	out := event.NewWriter(env.Stdout)
	pass := func(l event.Line) error { return nil }
	if cfg.format == "ndjson" && !cfg.changesOnly {
		pass = func(l event.Line) error { return out.WriteLine(l.Raw) }
	}
	var base *state.Baseline
	if !cfg.update {
		// Read the old side first: a bad baseline is refused before
		// any of the scan passes through.
		path := cfg.old
		if path == "" {
			path = cfg.baseline
		}
		b, err := readOld(ctx, c, env, path, cfg.baseline != "")
		if err != nil {
			return 0, err
		}
		base = b
	} else if err := checkUpdatable(cfg.baseline); err != nil {
		return 0, err
	}
	cur, err := readCurrent(ctx, c, env, cfg.news, pass)
	if err != nil {
		return 0, err
	}
	if c.Timestamp("at") == nil {
		// The changes are dated when the scan has been read, not when
		// ndiff started: in a pipe that is before the scan began.
		cfg.opts.Now = env.Now()
	}
	if !cur.Complete() {
		env.Log.Warn("the scan is incomplete: ports and hosts it did not report are not taken as closed")
	}
	// NDJSON changes are written as they are found; the text and XML
	// reports need them all first.
	compare := func(base *state.Baseline) (diff.Result, error) {
		opts := cfg.opts
		if cfg.format == "ndjson" {
			opts.Emit = func(x *event.Change) error { return out.Encode(x) }
		}
		res := diff.Compare(base, cur, opts)
		if res.Err != nil {
			return res, res.Err
		}
		if err := write(env, out, cfg, base, cur, res.Changes); err != nil {
			return res, err
		}
		return res, out.Flush()
	}
	if !cfg.update {
		res, err := compare(base)
		return res.Count, err
	}
	n := 0
	so := baseline.SaveOptions{Written: event.FormatTime(cfg.opts.Now), HistoryDir: cfg.history, Keep: cfg.historyKeep}
	err = baseline.Update(ctx, cfg.baseline, so, func(b *state.Baseline, existed bool) (*state.Baseline, bool, error) {
		if !existed {
			env.Log.Info("no baseline yet: starting " + cfg.baseline)
		}
		// The changes go out before the baseline moves on: if ndiff
		// dies in between, the next run reports them again rather than
		// never.
		res, err := compare(b)
		n = res.Count
		if err != nil {
			return nil, false, err
		}
		if !cur.Complete() {
			env.Log.Warn("baseline not updated: the scan is incomplete")
			return nil, false, nil
		}
		return res.Baseline, true, nil
	})
	return n, err
}

// checkUpdatable refuses --update on a file that is not a Picket
// baseline (an Nmap XML file or a saved scan), which it would replace.
func checkUpdatable(path string) error {
	head, err := peekFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read baseline: %w", err)
	}
	if len(head) > 0 && !baseline.IsBaseline(head) {
		return app.Usagef("--update: %s is not a Picket baseline (Nmap XML or a saved scan); it would be replaced, so give a new file", path)
	}
	return nil
}

func peekFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

// readOld reads the old side: a baseline, Nmap XML or a saved scan, from
// path or, for OLD "-", stdin. A missing --baseline file is an empty
// baseline; a missing OLD file is an error.
func readOld(ctx context.Context, c *cli.Context, env *app.Env, path string, isBaseline bool) (*state.Baseline, error) {
	in := env.Stdin
	if path != "-" || isBaseline {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) && isBaseline {
			env.Log.Info("no baseline " + path + " yet: everything is new")
			return state.NewBaseline(), nil
		}
		if err != nil {
			return nil, app.WithCode(app.ExitUsage, fmt.Errorf("read %s: %w", path, err))
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<20)
	head, err := br.Peek(4096)
	if err != nil && err != io.EOF {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once, here
		}
		return nil, app.WithCode(app.ExitUsage, fmt.Errorf("read %s: %w", path, err))
	}
	switch {
	case baseline.IsBaseline(head):
		b, err := baseline.Read(br, path)
		if err != nil {
			return nil, fmt.Errorf("read baseline: %w", err)
		}
		return b, nil
	case nmapxml.Looks(head):
		b := state.NewBuilder()
		if _, err := nmapxml.ReadScan(br, path, b); err != nil {
			return nil, err
		}
		s, err := b.Scan()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return state.FromScan(s), nil
	case len(head) == 0 && isBaseline:
		return nil, fmt.Errorf("read baseline: %s: %w: empty file (delete it to start a new baseline)", path, baseline.ErrCorrupt)
	}
	// A saved scan as the old side is read strictly: a bad line in it
	// would otherwise turn into invented changes.
	b := state.NewBuilder()
	r := event.NewReader(br, path, event.ReaderOptions{Strict: true, MaxLine: c.Int("max-line")})
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		l, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w (not a baseline, Nmap XML or a scan's events)", err)
		}
		if err := addLine(b, path, l); err != nil {
			return nil, err
		}
	}
	s, err := b.Scan()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return state.FromScan(s), nil
}

func readXMLFile(path string, b *state.Builder) error {
	f, err := os.Open(path)
	if err != nil {
		return app.WithCode(app.ExitUsage, fmt.Errorf("read %s: %w", path, err))
	}
	defer f.Close()
	_, err = nmapxml.ReadScan(bufio.NewReaderSize(f, 1<<20), path, b)
	return err
}

func addLine(b *state.Builder, name string, l event.Line) error {
	if err := b.AddLine(l); err != nil {
		return fmt.Errorf("%s:%d: %w", name, l.Num, err)
	}
	return nil
}

// readCurrent reads the current scan from names ("-" or none: stdin),
// passing each NDJSON line to pass as it is read.
func readCurrent(ctx context.Context, c *cli.Context, env *app.Env, names []string, pass func(event.Line) error) (*state.Scan, error) {
	if len(names) == 0 {
		names = []string{"-"}
	}
	b := state.NewBuilder()
	for _, name := range names {
		var head []byte
		ev := *env
		if name == "-" {
			br := bufio.NewReaderSize(env.Stdin, 1<<20)
			head, _ = br.Peek(512)
			ev.Stdin = br
			if nmapxml.Looks(head) {
				if _, err := nmapxml.ReadScan(br, "-", b); err != nil {
					return nil, app.WithCode(app.ExitUsage, err)
				}
				continue
			}
		} else {
			h, err := peekFile(name)
			if err != nil {
				return nil, app.WithCode(app.ExitUsage, fmt.Errorf("read %s: %w", name, err))
			}
			if nmapxml.Looks(h) {
				if err := readXMLFile(name, b); err != nil {
					return nil, app.WithCode(app.ExitUsage, err)
				}
				continue
			}
		}
		err := app.ReadEvents(ctx, c, &ev, []string{name}, func(l event.Line) error {
			if err := pass(l); err != nil {
				return err
			}
			err := b.AddLine(l)
			if err != nil && c.Bool("strict") {
				return app.WithCode(app.ExitUsage, fmt.Errorf("%s:%d: %w", name, l.Num, err))
			}
			if err != nil {
				env.Log.Warn(fmt.Sprintf("%s:%d: %v", name, l.Num, err))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	s, err := b.Scan()
	if err != nil {
		return nil, app.WithCode(app.ExitUsage, err)
	}
	for _, p := range s.Parts {
		if p.ScopeErr != nil {
			env.Log.Warn(p.ScopeErr.Error() + ": its coverage is unknown, so hosts and ports it did not report are not taken as down or closed")
		}
	}
	return s, nil
}

// write writes the changes in the chosen format.
func write(env *app.Env, out *event.Writer, cfg *config, base *state.Baseline, cur *state.Scan, changes []event.Change) error {
	switch cfg.format {
	case "text":
		if err := out.Flush(); err != nil {
			return err
		}
		_, err := env.Stdout.Write(diff.Text(describe(base.ScanID, base.Time), describe(cur.ScanID, cur.Start), changes))
		return err
	case "xml":
		if err := out.Flush(); err != nil {
			return err
		}
		return nmapxml.WriteDiff(env.Stdout, nmapRun(base.ScanID, base.Time), nmapRun(cur.ScanID, cur.Start), changes)
	}
	return nil // NDJSON changes went out through Options.Emit
}

// describe names one side of the comparison for the text report.
func describe(id, at string) string {
	if id == "" {
		id = "(none)"
	}
	s := "scan " + id
	if at != "" {
		s += " at " + at
	}
	return s
}

// nmapRun describes one side of the comparison for Ndiff's XML.
func nmapRun(id, at string) nmapxml.Run {
	r := nmapxml.Run{Scanner: "picket", Args: id}
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		r.Start = strconv.FormatInt(t.Unix(), 10)
	}
	return r
}
