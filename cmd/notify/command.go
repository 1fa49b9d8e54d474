package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/notify"
	"github.com/picketscan/picket/lib/notify/exec"
	"github.com/picketscan/picket/lib/notify/sinks"
)

// ExitUndelivered is notify's exit status when some alert could not be
// delivered to some sink but is kept in the spool for the next run.
const ExitUndelivered = 3

func command() app.Tool {
	return app.Tool{
		Name:      "notify",
		Usage:     "deliver change events to Slack, Discord, Teams, webhooks, e-mail, syslog, commands and files",
		ArgsUsage: "[FILE...]",
		Description: `notify reads events (stdin, or the files named) and sends an alert for each
change event that passes --where, to every sink given. When the input has
scan markers, the changes of one scan go out as one digest at the scan's end,
grouped by host (--no-digest sends each change alone).

Every alert is written to the spool directory (fsynced) before the first
attempt and removed only when every sink took it; each alert has an
idempotency key (scan id, kind, ip, port, proto), and the spool remembers
which sink took which alert, so a re-run, a replay or --flush never sends an
alert twice to a sink that has it. Failed deliveries are retried with
exponential backoff and jitter, honouring Retry-After, for --retry-for.

Secrets: webhook URLs and SMTP passwords can come from files (--slack-file,
--smtp-password-file) or environment variables (--slack-env NAME, or
PICKET_SLACK_URL, PICKET_DISCORD_URL, PICKET_TEAMS_URL, PICKET_WEBHOOK_URL,
PICKET_SMTP_PASSWORD); they never appear in logs or errors.`,
		Examples: []string{
			`probe -n 10.0.0.0/24 | ndiff --baseline state.ndjson --update | notify --slack-env SLACK_URL`,
			`notify --where 'severity=="critical"' --smtp mail.example.com:587 --smtp-user picket --smtp-password-file /etc/picket/pass --smtp-from picket@example.com --smtp-to ops@example.com < changes.ndjson`,
			`notify --tee --file alerts.ndjson --where 'kind=="port-opened" && port!=22' | jq .`,
			`notify --config /etc/picket/notify.json --syslog udp://127.0.0.1:514`,
			`notify --flush --config /etc/picket/notify.json`,
		},
		ExitCodes: []string{
			"0    every alert was delivered to every sink",
			"1    runtime error (an alert could not be spooled, or was lost with --no-spool)",
			"2    usage error (bad flags, config, filter or template; bad input with --strict)",
			"3    some alerts were not delivered; they are kept in the spool for the next run or --flush",
		},
		Flags:  flags(),
		Action: action,
	}
}

func flags() []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "where", Usage: "send only the events that pass `EXPR`, e.g. 'severity==\"critical\" && port!=22' (default: every change)"},
		&cli.BoolFlag{Name: "tee", Usage: "copy every input line to stdout unchanged"},
		&cli.StringFlag{Name: "config", Usage: "read sinks, each with its own filter, from the JSON `FILE`"},
	}
	for _, t := range []string{"webhook", "slack", "discord", "teams"} {
		hook := t + " webhook"
		if t == "webhook" {
			hook = t
		}
		fs = append(fs,
			&cli.StringFlag{Name: t, Usage: "send to the " + hook + " at `URL` (better: --" + t + "-env or --" + t + "-file, or $" + sinks.DefaultURLEnv(t) + ")"},
			&cli.StringFlag{Name: t + "-env", Usage: "read the " + hook + " URL from the environment variable `NAME`"},
			&cli.StringFlag{Name: t + "-file", Usage: "read the " + hook + " URL from `FILE`"},
		)
	}
	fs = append(fs,
		&cli.StringFlag{Name: "smtp", Usage: "send e-mail through the server `HOST:PORT`"},
		&cli.StringFlag{Name: "smtp-tls", Value: "starttls", Usage: "`MODE`: starttls (required), tls (implicit, port 465) or none (local relay, no password)"},
		&cli.StringFlag{Name: "smtp-user", Usage: "authenticate as `USER`"},
		&cli.StringFlag{Name: "smtp-password-env", Usage: "read the SMTP password from the environment variable `NAME` (default PICKET_SMTP_PASSWORD)"},
		&cli.StringFlag{Name: "smtp-password-file", Usage: "read the SMTP password from `FILE`"},
		&cli.StringFlag{Name: "smtp-auth", Usage: "`MECH`: plain or login (default: plain when offered)"},
		&cli.StringFlag{Name: "smtp-from", Usage: "sender `ADDRESS`"},
		&cli.StringSliceFlag{Name: "smtp-to", Usage: "recipient `ADDRESS`es (repeat or separate with commas)"},
		&cli.StringFlag{Name: "smtp-ca", Usage: "also trust the PEM certificates in `FILE` for the SMTP server"},
		&cli.StringFlag{Name: "syslog", Usage: "send to syslog at `ADDR`: udp://host:port, tcp://host:port, unix:///dev/log"},
		&cli.IntFlag{Name: "syslog-facility", Value: 3, Usage: "syslog facility `NUMBER` (3: daemon, 16-23: local0-7)"},
		&cli.GenericFlag{Name: "exec", Value: &app.List{}, Usage: "run `CMD` for each alert with its JSON on stdin; CMD is split into words, never given to a shell (repeatable)"},
		&cli.GenericFlag{Name: "file", Value: &app.List{}, Usage: "append each alert as a JSON line to `PATH` (repeatable)"},
		&cli.BoolFlag{Name: "digest", Usage: "always gather changes into one message per scan"},
		&cli.BoolFlag{Name: "no-digest", Usage: "send each change on its own"},
		&cli.IntFlag{Name: "digest-max", Value: 50, Usage: "list at most `N` changes in one message and say how many more there were (0: all)"},
		&cli.StringFlag{Name: "template", Usage: "render message text with the text/template in `FILE` (see README)"},
		&cli.StringFlag{Name: "spool", Usage: "keep undelivered alerts in `DIR` (default $XDG_STATE_HOME/picket/notify or ~/.local/state/picket/notify)"},
		&cli.BoolFlag{Name: "no-spool", Usage: "keep alerts in memory only: an alert not delivered in this run is lost"},
		&cli.BoolFlag{Name: "flush", Usage: "read no input: deliver what the spool holds, and exit"},
		&cli.DurationFlag{Name: "timeout", Value: notify.DefaultTimeout, Usage: "give each delivery attempt `DURATION`"},
		&cli.DurationFlag{Name: "retry-for", Value: notify.DefaultRetry.Budget, Usage: "keep retrying one alert for `DURATION` before leaving it in the spool"},
	)
	return append(fs, app.InputFlags()...)
}

// defaultSpool is the spool directory under the user's state directory.
func defaultSpool() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "picket", "notify"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no spool directory: %w (give --spool DIR)", err)
	}
	return filepath.Join(home, ".local", "state", "picket", "notify"), nil
}

// specs collects the sinks named by flags and the config file.
func specs(c *cli.Context) ([]sinks.Spec, error) {
	var out []sinks.Spec
	if path := c.String("config"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		cfg, err := sinks.ParseConfig(data)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		out = append(out, cfg.Sinks...)
	}
	for _, t := range []string{"webhook", "slack", "discord", "teams"} {
		if c.IsSet(t) || c.IsSet(t+"-env") || c.IsSet(t+"-file") || os.Getenv(sinks.DefaultURLEnv(t)) != "" {
			out = append(out, sinks.Spec{Type: t, URL: c.String(t), URLEnv: c.String(t + "-env"), URLFile: c.String(t + "-file")})
		}
	}
	if addr := c.String("smtp"); addr != "" {
		var to []string
		for _, t := range c.StringSlice("smtp-to") {
			to = append(to, strings.Split(t, ",")...)
		}
		out = append(out, sinks.Spec{Type: "smtp", Addr: addr, TLS: c.String("smtp-tls"), Username: c.String("smtp-user"),
			PasswordEnv: c.String("smtp-password-env"), PasswordFile: c.String("smtp-password-file"), Auth: c.String("smtp-auth"),
			From: c.String("smtp-from"), To: to, CAFile: c.String("smtp-ca")})
	}
	if addr := c.String("syslog"); addr != "" {
		out = append(out, sinks.Spec{Type: "syslog", Addr: addr, Facility: c.Int("syslog-facility")})
	}
	for _, line := range *c.Generic("exec").(*app.List) {
		argv, err := exec.SplitArgs(line)
		if err != nil {
			return nil, fmt.Errorf("--exec: %w", err)
		}
		out = append(out, sinks.Spec{Type: "exec", Command: argv})
	}
	for _, p := range *c.Generic("file").(*app.List) {
		out = append(out, sinks.Spec{Type: "file", Path: p})
	}
	// Unnamed sinks of one type are told apart by number; a name given
	// twice is an error.
	seen := map[string]int{}
	for i := range out {
		if out[i].Name != "" {
			if seen[out[i].Name] > 0 {
				return nil, fmt.Errorf("two sinks named %q: give each its own name", out[i].Name)
			}
			seen[out[i].Name]++
		}
	}
	for i := range out {
		if out[i].Name != "" {
			continue
		}
		name := out[i].Type
		for n := 2; seen[name] > 0; n++ {
			name = fmt.Sprintf("%s-%d", out[i].Type, n)
		}
		seen[name]++
		out[i].Name = name
	}
	return out, nil
}

func action(ctx context.Context, c *cli.Context, env *app.Env) error {
	if c.Bool("digest") && c.Bool("no-digest") {
		return app.Usagef("--digest and --no-digest: give one")
	}
	if c.Bool("flush") && c.NArg() > 0 {
		return app.Usagef("--flush reads no input, but files were named")
	}
	if c.Bool("flush") && c.Bool("no-spool") {
		return app.Usagef("--flush with --no-spool: there is no spool to flush")
	}
	if n := c.Int("digest-max"); n < 0 {
		return app.Usagef("bad --digest-max %d: want 0 or more (0: all)", n)
	}
	if d := c.Duration("timeout"); d <= 0 {
		return app.Usagef("bad --timeout %s: want more than 0", d)
	}
	if d := c.Duration("retry-for"); d < 0 {
		return app.Usagef("bad --retry-for %s: want 0 or more", d)
	}
	where, err := notify.ParseFilter(c.String("where"))
	if c.String("where") == "" {
		where, err = nil, nil
	}
	if err != nil {
		return app.WithCode(app.ExitUsage, err)
	}
	sinkEnv := sinks.Env{
		Getenv: os.Getenv, ReadFile: os.ReadFile, DigestMax: c.Int("digest-max"),
		Timeout: c.Duration("timeout"), Now: env.Now,
	}
	sinkEnv.Hostname, _ = os.Hostname()
	if t := c.String("template"); t != "" {
		data, err := os.ReadFile(t)
		if err != nil {
			return app.WithCode(app.ExitUsage, fmt.Errorf("template: %w", err))
		}
		sinkEnv.Template, sinkEnv.TemplateName = string(data), t
	}
	ss, err := specs(c)
	if err != nil {
		return app.WithCode(app.ExitUsage, err)
	}
	if len(ss) == 0 {
		return app.Usagef("no sinks: give --slack-env, --webhook, --smtp, --syslog, --exec, --file … or --config")
	}
	var routes []notify.Route
	for _, s := range ss {
		r, err := sinks.Build(s, sinkEnv)
		if err != nil {
			return app.WithCode(app.ExitUsage, err)
		}
		routes = append(routes, r)
	}
	dir := ""
	if !c.Bool("no-spool") {
		if dir = c.String("spool"); dir == "" {
			if dir, err = defaultSpool(); err != nil {
				return app.WithCode(app.ExitUsage, err)
			}
		}
	}
	spool, err := notify.OpenSpool(ctx, dir, env.Now, env.Log)
	if err != nil {
		return err
	}
	defer spool.Close()
	cfg := notify.Config{
		Routes: routes, Where: where, Spool: spool, Log: env.Log, Now: env.Now,
		Retry: notify.Retry{Base: notify.DefaultRetry.Base, Max: notify.DefaultRetry.Max, Budget: c.Duration("retry-for")},
	}
	switch {
	case c.Bool("digest"):
		cfg.Digest = notify.DigestOn
	case c.Bool("no-digest"):
		cfg.Digest = notify.DigestOff
	}
	var tee *event.Writer
	if c.Bool("tee") {
		tee = event.NewWriter(env.Stdout)
		cfg.Tee = tee
	}
	var read func(func(event.Line) error) error
	if !c.Bool("flush") {
		read = func(fn func(event.Line) error) error {
			return app.ReadEvents(ctx, c, env, c.Args().Slice(), fn)
		}
	}
	rep, err := notify.Run(ctx, cfg, read)
	if tee != nil {
		if ferr := tee.Flush(); err == nil {
			err = ferr
		}
	}
	if rep.Duplicates > 0 {
		env.Log.Info("alerts already delivered (or already queued in this run) were not sent again", "count", rep.Duplicates)
	}
	env.Log.Debug("done", "alerts", rep.Alerts, "delivered", rep.Delivered, "undelivered", rep.Undelivered, "duplicates", rep.Duplicates)
	if errors.Is(err, notify.ErrUndelivered) {
		if dir == "" {
			return err
		}
		return app.WithCode(ExitUndelivered, err)
	}
	return err
}
