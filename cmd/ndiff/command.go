package main

import (
	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/cmd/internal/app"
)

func command() app.Tool {
	return app.Tool{
		Name:      "ndiff",
		Usage:     "compare a scan with a baseline and write change events",
		ArgsUsage: "[OLD] [NEW...]",
		Description: `ndiff compares the current scan with a baseline and writes one change event
per difference ({"type":"change","kind":...}) after passing every input line
through. With --baseline FILE the current scan comes on stdin (or from the
NEW files) and --update merges it into FILE. Without --baseline, ndiff OLD
NEW compares two files, like Nmap's Ndiff. Each input may be Picket's NDJSON
events, Nmap XML (-oX) or, for OLD, a baseline file: the format is found
from the content. Several NEW inputs are read as one scan; shards of one
split scan are merged.

Only what the current scan looked at is compared: a port outside its scope,
or one an interrupted scan never answered, is carried over from the baseline
(and reported as "unknown" with --report-unknown), never reported closed.

Kinds: host-up, host-down, port-opened, port-closed, port-state,
service-changed, service-moved, tls-changed, tls-expiring, policy-violation,
unknown.`,
		Examples: []string{
			"probe -n 10.0.0.0/24 | fingerprint | ndiff --baseline state.ndjson --update | notify --file alerts.ndjson",
			"ndiff --format text yesterday.xml today.xml",
			"nmap -sV -oX - 10.0.0.0/24 | ndiff --baseline state.ndjson --update --changes-only",
			"ndiff --baseline state.ndjson --update --confirm 2 --history /var/lib/picket/history < scan.ndjson",
			"ndiff --baseline state.ndjson --policy allowed.txt --policy-new-only < scan.ndjson",
		},
		ExitCodes: []string{
			"0    no differences",
			"1    differences found",
			"2    error (bad flags or input, unreadable or corrupt baseline, failed update)",
		},
		Flags:  flags(),
		Action: action,
	}
}

func flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "baseline", Aliases: []string{"b"}, Usage: "compare with the baseline in `FILE` (the current scan comes on stdin or from NEW)"},
		&cli.BoolFlag{Name: "update", Aliases: []string{"u"}, Usage: "merge a complete scan into the baseline file (atomically, under a lock)"},
		&cli.StringFlag{Name: "history", Usage: "keep a copy of each baseline written in `DIR`"},
		&cli.IntFlag{Name: "history-keep", Value: 10, Usage: "keep the last `N` copies in --history"},
		&cli.IntFlag{Name: "confirm", Value: 1, Usage: "report a change only once `N` consecutive complete scans saw it"},
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "ndjson", Usage: "output `FORMAT`: ndjson (input lines, then change events), text or xml (Ndiff's)"},
		&cli.BoolFlag{Name: "changes-only", Usage: "write only the change events, not the input lines"},
		&cli.StringFlag{Name: "policy", Usage: "check open ports against the allowed-ports policy in `FILE`"},
		&cli.BoolFlag{Name: "policy-new-only", Usage: "report policy violations only for ports that just opened"},
		&cli.IntFlag{Name: "cert-warn-days", Value: 30, Usage: "report certificates that expire within `DAYS` (0: never)"},
		&cli.BoolFlag{Name: "report-unknown", Usage: "report baseline ports the scan did not look at as kind unknown"},
		&cli.TimestampFlag{Name: "at", Layout: "2006-01-02T15:04:05Z07:00", Usage: "compare as of `TIME` (RFC 3339) instead of now: the changes' time and certificate expiry"},
	}, app.InputFlags()...)
}
