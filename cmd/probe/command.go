package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

func command() app.Tool {
	return app.Tool{
		Name:      "probe",
		Usage:     "scan ports and write NDJSON scan, host and port events",
		ArgsUsage: "TARGET...",
		Description: `probe scans the TCP ports of the targets (UDP with --method udp) and
writes one JSON event per line:
a scan start carrying the scope, a host event per host found up, a port
event per open port (every port with --all-states), and a scan end with
"complete" and statistics. Targets use Nmap's syntax: addresses, CIDR
blocks, octet ranges (192.0.2.1-20, 10.0-3.1.1-254) and host names.

Hosts are first pinged: as root (CAP_NET_RAW) with an ICMP echo, a SYN
to 443 and an ACK to 80, as Nmap does; otherwise with a TCP connect to
ports 80 and 443 (Nmap's unprivileged ping). -Pn skips that and scans
every target; --ping-only (-sn) stops after it. Hosts and
their ports are probed in a random order (the seed is in the scan
start). Timeouts follow each host's round-trip time; a host that drops
probes sent fast is paced and its silent ports are probed again. A
host's event comes before its port events. On SIGINT or SIGTERM probe
sends nothing more, writes what it found and the scan end with
"complete": false, and exits 130 or 143.

When no target is left to scan, because every target is excluded or the
-iL list is empty, probe warns on stderr, writes a scan start and a scan
end with 0 hosts, and exits 0, as Nmap does ("0 hosts scanned").

Service names in -p are looked up in Nmap's nmap-services when it is
installed (--servicedb), else in a small built-in table. "probe help"
shows this help; scan a host named help as "probe -- help".`,
		Examples: []string{
			"probe -n -p 22,80,443 127.0.0.1",
			"probe -n -Pn -p- --all-states 127.0.0.1 | jq -c 'select(.type==\"port\")'",
			"probe --top-ports 100 --rate 500 -iL hosts.txt --exclude-file skip.txt",
			"echo 127.0.0.1 | probe -n -p 22 -",
			"probe -n --method udp -p 53,123,161 127.0.0.1",
			"probe -n --ping-only 127.0.0.0/29",
			"probe -n -Pn --top-ports 1000 --shard 1/4 --shard-key nightly -iL hosts.txt",
			"probe -n -p 'ssh,http*' 127.0.0.0/29 --exclude 127.0.0.5",
		},
		Flags:  flags(),
		Action: action,
	}
}

func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "p", Usage: "ports to scan: `SPEC` such as 22,80,443 or 1-1024 or - (all) or 'ssh,http*' (default: the top 1000)"},
		&cli.IntFlag{Name: "top-ports", Usage: "scan the `N` most common ports by Nmap's ranking, 1-65535 (it ranks 8366 TCP ports; more gives those)"},
		&cli.StringFlag{Name: "servicedb", Value: ports.NmapServicesPath, Usage: "look service names in -p up in `FILE` (the built-in table when it does not exist)"},
		&cli.StringFlag{Name: "exclude-ports", Usage: "ports not to scan, as a `SPEC`"},
		&cli.StringFlag{Name: "iL", Usage: "read targets from `FILE` (- for stdin)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "never probe these `TARGETS` (comma-separated)"},
		&cli.StringFlag{Name: "exclude-file", Usage: "never probe the targets listed in `FILE`"},
		&cli.BoolFlag{Name: "Pn", Usage: "skip host discovery: treat every target as up"},
		&cli.BoolFlag{Name: "PP", Aliases: []string{"ping-timestamp"}, Usage: "discovery also sends an ICMP timestamp request (needs CAP_NET_RAW; IPv4)"},
		&cli.BoolFlag{Name: "ping-only", Aliases: []string{"sn"}, Usage: "discover hosts only, no port scan: write host events (like nmap -sn)"},
		&cli.BoolFlag{Name: "resolve-all", Usage: "scan every address a target name resolves to (default: the first, IPv4 first)"},
		&cli.BoolFlag{Name: "6", Usage: "scan the IPv6 addresses of target names only (an IPv4 target is an error)"},
		&cli.BoolFlag{Name: "yes-large", Usage: "allow a scan of more than 2^24 addresses"},
		&cli.BoolFlag{Name: "n", Usage: "never do reverse DNS lookups"},
		&cli.StringFlag{Name: "method", Usage: "probe `METHOD`: " + methodHelp() + " (default: syn with CAP_NET_RAW, else connect)"},
		&cli.Float64Flag{Name: "rate", Aliases: []string{"max-rate"}, Usage: "send at most `N` probes per second in all (0: no limit)"},
		&cli.Float64Flag{Name: "min-rate", Usage: "send at least `N` probes per second in the port scan, past congestion control and --concurrency (0: no floor)"},
		&cli.Float64Flag{Name: "max-host-rate", Usage: "send at most `N` probes per second to any one host (0: no limit)"},
		&cli.IntFlag{Name: "concurrency", Usage: "keep at most `N` probes in flight (default: 2048 with --method syn, 512 otherwise)"},
		&cli.IntFlag{Name: "retries", Aliases: []string{"max-retries"}, Value: 10, Usage: "resend an unanswered probe up to `N` times (fewer while the host answers first tries)"},
		&cli.DurationFlag{Name: "timeout", Aliases: []string{"initial-rtt-timeout"}, Value: time.Second, Usage: "wait `DURATION` for an answer until a host's round-trip time is measured"},
		&cli.DurationFlag{Name: "min-rtt-timeout", Value: scan.DefaultTiming().MinRTO, Usage: "wait at least `DURATION` for an answer"},
		&cli.DurationFlag{Name: "max-rtt-timeout", Value: scan.DefaultTiming().MaxRTO, Usage: "wait at most `DURATION` for an answer"},
		&cli.BoolFlag{Name: "all-states", Usage: "report closed and filtered ports and down hosts too"},
		&cli.StringFlag{Name: "shard", Usage: "scan shard `I/N` of the (host, port) space, 1 <= I <= N; auto/N takes I from JOB_COMPLETION_INDEX (0-based, as Kubernetes Indexed Jobs set it) plus 1; needs --seed or --shard-key"},
		&cli.StringFlag{Name: "shard-key", Usage: "derive the seed from `KEY`, the same for every shard"},
		&cli.Uint64Flag{Name: "seed", Usage: "shuffle the probe order with `SEED`, to repeat an order (0: a new order each run)"},
	}
}

func action(ctx context.Context, c *cli.Context, env *app.Env) error {
	if c.NArg() == 0 && c.String("iL") == "" {
		return app.Usagef("no targets given: name them as arguments or with -iL FILE")
	}
	// A lone "-" among the targets reads more of them from stdin, as
	// -iL - does.
	var targets []string
	inputList := c.String("iL")
	for _, a := range c.Args().Slice() {
		if a != "-" {
			targets = append(targets, a)
			continue
		}
		if inputList != "" && inputList != "-" {
			return app.Usagef("targets from stdin (-) and from -iL %s: give one list", inputList)
		}
		inputList = "-"
	}
	for _, name := range []string{"p", "exclude-ports", "iL", "exclude-file"} {
		if c.IsSet(name) && strings.TrimSpace(c.String(name)) == "" {
			return app.Usagef("-%s: empty value", name)
		}
	}
	if n := c.Int("top-ports"); c.IsSet("top-ports") && (n < 1 || n > ports.MaxTop) {
		return app.Usagef("--top-ports %d: out of range 1-%d", n, ports.MaxTop)
	}
	method := c.String("method")
	tcpDefault, why := methods.Default()
	if method == "" {
		method = tcpDefault
		if why != nil {
			env.Log.Info(fmt.Sprintf("using --method %s: %v", method, why))
		}
	}
	shard, shards, err := parseShard(c.String("shard"), os.Getenv)
	if err != nil {
		return app.Usagef("bad --shard %q: %v", c.String("shard"), err)
	}
	out := event.NewWriter(env.Stdout)
	var discovery *scan.DiscoverySpec
	if why == nil {
		// Privileged: ping as Nmap does as root.
		discovery = methods.Ping(c.Bool("PP"))
	}
	// Unset is the method's default; set, it must be a count.
	concurrency := c.Int("concurrency")
	if c.IsSet("concurrency") && concurrency < 1 {
		return app.Usagef("bad --concurrency %d: must be at least 1", concurrency)
	}
	opts := scan.Options{
		Targets:      targets,
		InputList:    inputList,
		Exclude:      c.StringSlice("exclude"),
		ExcludeFile:  c.String("exclude-file"),
		Ports:        c.String("p"),
		TopPorts:     c.Int("top-ports"),
		ExcludePorts: c.String("exclude-ports"),
		ServicesFile: c.String("servicedb"),
		Method:       method,
		PingMethod:   tcpDefault,
		PingOnly:     c.Bool("ping-only"),
		YesLarge:     c.Bool("yes-large"),
		ResolveAll:   c.Bool("resolve-all"),
		IPv6:         c.Bool("6"),
		Discovery:    discovery,
		Methods:      methods.List(),
		NoPing:       c.Bool("Pn"),
		NoDNS:        c.Bool("n"),
		Concurrency:  concurrency,
		Rate:         c.Float64("rate"),
		MinRate:      c.Float64("min-rate"),
		MaxHostRate:  c.Float64("max-host-rate"),
		Retries:      c.Int("retries"),
		Timeout:      c.Duration("timeout"),
		MinRTT:       c.Duration("min-rtt-timeout"),
		MaxRTT:       c.Duration("max-rtt-timeout"),
		AllStates:    c.Bool("all-states"),
		Seed:         c.Uint64("seed"),
		Shard:        shard,
		Shards:       shards,
		ShardKey:     c.String("shard-key"),
		Stdin:        env.Stdin,
		Out:          out,
		Log:          env.Log,
		Now:          env.Now,
		Tool:         event.Tool{Name: "picket-probe", Version: app.Version()},
	}
	cfg, err := scan.Setup(ctx, opts)
	if err != nil {
		return setupError(err)
	}
	if env.StderrTerminal && !c.Bool("quiet") {
		cfg.Progress = progressLine(env.Stderr)
	}
	env.Log.Debug("scan setup", "addresses", cfg.Targets.Len(), "ports", cfg.Ports.Len(),
		"method", opts.Method, "rate", cfg.Rate, "seed", cfg.Seed)
	env.Log.Log(ctx, app.LevelTrace, "scan scope", "targets", strings.Join(cfg.Scope.Targets, ","),
		"exclude", strings.Join(cfg.Scope.Exclude, ","), "ports", cfg.Scope.Ports)
	stats, err := scan.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if stats.HostsTotal == 0 && ctx.Err() == nil {
		env.Log.Warn("no targets to scan: every target is excluded or the target list is empty; 0 hosts scanned")
	}
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return nil
}

// flagOf names the flag of each scan.Options field that Setup may
// complain about.
var flagOf = map[string]string{
	"Method":       "--method",
	"Ports":        "-p",
	"TopPorts":     "--top-ports",
	"ExcludePorts": "--exclude-ports",
	"Concurrency":  "--concurrency",
	"Rate":         "--rate",
	"MinRate":      "--min-rate",
	"MaxHostRate":  "--max-host-rate",
	"Retries":      "--retries",
	"Timeout":      "--timeout",
	"MinRTT":       "--min-rtt-timeout",
	"MaxRTT":       "--max-rtt-timeout",
	"Shard":        "--shard",
	"PingOnly":     "--ping-only",
	"YesLarge":     "--yes-large",
	"ShardKey":     "--shard-key",
}

// setupError gives a Setup error its exit code: a mistake in the flags
// or specs is a usage error (2), naming the flag; anything else, such as
// a name that does not resolve or a target file that cannot be read, is
// a runtime error (1).
func setupError(err error) error {
	var ue *scan.UsageError
	if !errors.As(err, &ue) {
		return err
	}
	if ue.Option == "" {
		return app.WithCode(app.ExitUsage, ue.Err)
	}
	flag := flagOf[ue.Option]
	if flag == "" {
		flag = ue.Option
	}
	if ue.Value == "" {
		return app.Usagef("%s: %v", flag, ue.Err)
	}
	return app.Usagef("bad %s %s: %v", flag, ue.Value, ue.Err)
}

// parseShard reads --shard: "I/N", or "auto/N" with I from the
// JOB_COMPLETION_INDEX that Kubernetes gives each pod of an Indexed Job
// (0-based, so I is that plus 1). "" means no sharding.
func parseShard(s string, getenv func(string) string) (shard, shards int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, errors.New("want I/N or auto/N")
	}
	shards, err = strconv.Atoi(n)
	if err != nil || shards < 1 || shards > 1<<20 {
		return 0, 0, fmt.Errorf("shard count %q is not a number from 1 to %d", n, 1<<20)
	}
	if i == "auto" {
		jci := getenv("JOB_COMPLETION_INDEX")
		if jci == "" {
			return 0, 0, errors.New("auto needs JOB_COMPLETION_INDEX in the environment")
		}
		k, err := strconv.Atoi(jci)
		if err != nil || k < 0 || k >= shards {
			return 0, 0, fmt.Errorf("JOB_COMPLETION_INDEX %q is not from 0 to %d", jci, shards-1)
		}
		return k + 1, shards, nil
	}
	shard, err = strconv.Atoi(i)
	if err != nil || shard < 1 || shard > shards {
		return 0, 0, fmt.Errorf("shard %q is not from 1 to %d", i, shards)
	}
	return shard, shards, nil
}

// methodHelp lists the probe methods for --help.
func methodHelp() string {
	var b strings.Builder
	for i, m := range methods.List() {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", m.Name, m.Doc)
	}
	return b.String()
}

// progressLine returns a progress callback that redraws one line on a
// terminal: probes done of total, rate, time left and open ports found.
func progressLine(w io.Writer) func(scan.Progress) {
	return func(p scan.Progress) {
		secs := p.Elapsed.Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(p.Done) / secs
		}
		eta := "-"
		if rate > 0 && p.Total >= p.Done {
			eta = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
		}
		pct := 0.0
		if p.Total > 0 {
			pct = 100 * float64(p.Done) / float64(p.Total)
		}
		fmt.Fprintf(w, "\r\x1b[Kprobe: %s %d/%d (%.1f%%) %.0f/s ETA %s open %d", p.Phase, p.Done, p.Total, pct, rate, eta, p.Open)
		if p.Final {
			fmt.Fprint(w, "\r\x1b[K")
		}
	}
}
