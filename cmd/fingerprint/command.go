package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/service"
)

func command() app.Tool {
	return app.Tool{
		Name:      "fingerprint",
		Usage:     "identify the services on open ports and add them to port events",
		ArgsUsage: "[INPUT...]",
		Description: `fingerprint reads events (from the files named, or stdin) and probes every
port event whose state is open (open or open|filtered for UDP): it waits
for a banner, sends the probes most likely to make the service answer,
and matches the answers against probe files in Nmap's
nmap-service-probes format. The line is written back with a "service"
object added (name, product, version, extrainfo, hostname, ostype,
devicetype, tunnel, cpe, conf, method, banner; hostkey for SSH, http for
web servers) and, when the service speaks TLS, a "tls" object. Every other
line and every field passes through byte for byte.

Lines come out in input order. With --unordered, lines of different hosts
may overtake one another (the lines of one host keep their order, and a
line naming no host, such as a scan start or end, stays in place).

Picket's own probe file is built in. --nmap-probes loads Nmap's file in
addition (its match lines are tried after Picket's); --nmap-probes-only
uses it instead.`,
		Examples: []string{
			"probe -n -p 1-1024 127.0.0.1 | fingerprint",
			"fingerprint --nmap-probes /usr/share/nmap/nmap-service-probes scan.ndjson",
			"probe -n 192.0.2.0/24 | fingerprint --unordered --concurrency 256 | jq -c 'select(.service)'",
		},
		Flags:  flags(),
		Action: action,
	}
}

func flags() []cli.Flag {
	return append(app.InputFlags(),
		&cli.IntFlag{Name: "concurrency", Value: service.DefaultConcurrency, Usage: "probe at most `N` ports at once"},
		&cli.DurationFlag{Name: "host-timeout", Value: service.DefaultHostTimeout, Usage: "spend at most `DURATION` on all the ports of one host"},
		&cli.DurationFlag{Name: "timeout", Value: service.DefaultTimeout, Usage: "bound each connection (connect, send, wait for the answer) to `DURATION`"},
		&cli.DurationFlag{Name: "banner-wait", Value: service.DefaultBannerWait, Usage: "wait `DURATION` for a service to talk first"},
		&cli.IntFlag{Name: "version-intensity", Value: service.DefaultIntensity, Usage: "try probes of rarity up to `N` (0-9) besides those for the port"},
		&cli.StringFlag{Name: "nmap-probes", Usage: "also load the probe file at `PATH` (Nmap's nmap-service-probes)"},
		&cli.BoolFlag{Name: "nmap-probes-only", Usage: "use only the file given with --nmap-probes, not Picket's own"},
		&cli.BoolFlag{Name: "unordered", Usage: "let lines of different hosts overtake one another"},
	)
}

func action(ctx context.Context, c *cli.Context, env *app.Env) error {
	intensity := c.Int("version-intensity")
	if intensity < 0 || intensity > 9 {
		return app.Usagef("--version-intensity %d: want 0 to 9", intensity)
	}
	if c.Int("concurrency") < 1 {
		return app.Usagef("--concurrency %d: want at least 1", c.Int("concurrency"))
	}
	for _, name := range []string{"timeout", "host-timeout", "banner-wait"} {
		if c.Duration(name) <= 0 {
			return app.Usagef("--%s %s: want a positive duration", name, c.Duration(name))
		}
	}
	probes, err := loadProbes(c, env)
	if err != nil {
		return err
	}
	engine, err := service.NewEngine(service.Config{
		Probes:        probes,
		Intensity:     intensity,
		IntensityZero: intensity == 0,
		Timeout:       c.Duration("timeout"),
		BannerWait:    c.Duration("banner-wait"),
	})
	if err != nil {
		return app.WithCode(app.ExitUsage, err)
	}
	start := env.Now()
	stream := service.NewStream(ctx, service.StreamConfig{
		Engine:      engine,
		Out:         event.NewWriter(env.Stdout),
		Concurrency: c.Int("concurrency"),
		Unordered:   c.Bool("unordered"),
		HostTimeout: c.Duration("host-timeout"),
		Log:         env.Log,
		Now:         env.Now,
	})
	readErr := app.ReadEvents(ctx, c, env, c.Args().Slice(), stream.Submit)
	closeErr := stream.Close()
	probed, named := stream.Summary()
	env.Log.Info(fmt.Sprintf("%d ports probed, %d identified by a probe, in %s", probed, named, env.Now().Sub(start).Round(time.Millisecond)))
	if closeErr != nil {
		return closeErr
	}
	if readErr != nil {
		return readErr
	}
	// A signal that came after the input ended still interrupted the
	// probing: exit with its code.
	return context.Cause(ctx)
}

// loadProbes loads Picket's probe file and the user's Nmap file, and logs
// once what was loaded and skipped.
func loadProbes(c *cli.Context, env *app.Env) (*service.ProbeSet, error) {
	opts := service.ParseOptions{
		Strict: c.Bool("strict"),
		Report: func(e *service.LineError) { env.Log.Warn(e.Error()) },
	}
	path := c.String("nmap-probes")
	if c.Bool("nmap-probes-only") && path == "" {
		return nil, app.Usagef("--nmap-probes-only needs --nmap-probes PATH")
	}
	var set *service.ProbeSet
	if !c.Bool("nmap-probes-only") {
		s, err := service.Parse(service.EmbeddedName, service.Embedded(), opts)
		if err != nil {
			return nil, fmt.Errorf("built-in probes: %w", err)
		}
		env.Log.Info(service.EmbeddedName + ": " + s.Stats.String())
		set = s
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, app.WithCode(app.ExitUsage, fmt.Errorf("read probe file: %w", err))
		}
		s, err := service.Parse(path, data, opts)
		if err != nil {
			return nil, app.WithCode(app.ExitUsage, err)
		}
		env.Log.Info(path + ": " + s.Stats.String())
		if set == nil {
			set = s
		} else {
			set.Merge(s)
		}
	}
	return set, nil
}
