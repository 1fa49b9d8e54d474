package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestNormalizeArgs(t *testing.T) {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "p"},
		&cli.StringFlag{Name: "iL"},
		&cli.BoolFlag{Name: "Pn"},
		&cli.BoolFlag{Name: "n"},
		&cli.IntFlag{Name: "rate"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
		cli.HelpFlag,
	}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flags first stay", []string{"probe", "-p", "22", "10.0.0.1"}, []string{"probe", "-p", "22", "--", "10.0.0.1"}},
		{"flags after operands move", []string{"probe", "10.0.0.1", "-p", "22", "-Pn"}, []string{"probe", "-p", "22", "-Pn", "--", "10.0.0.1"}},
		{"attached one-letter value", []string{"probe", "-p-", "h"}, []string{"probe", "-p", "-", "--", "h"}},
		{"attached digits", []string{"probe", "h", "-p22,80"}, []string{"probe", "-p", "22,80", "--", "h"}},
		{"bool one-letter flag is not split", []string{"probe", "-n", "h"}, []string{"probe", "-n", "--", "h"}},
		{"equals form", []string{"probe", "h", "--rate=5"}, []string{"probe", "--rate=5", "--", "h"}},
		{"double dash ends flags", []string{"probe", "--", "-p", "x"}, []string{"probe", "--", "-p", "x"}},
		{"lone dash is an operand", []string{"probe", "-iL", "-", "-"}, []string{"probe", "-iL", "-", "--", "-"}},
		{"unknown flag kept for the parser", []string{"probe", "--bogus", "h"}, []string{"probe", "--bogus", "--", "h"}},
		{"value flag at the end stays last", []string{"probe", "h", "-p"}, []string{"probe", "-p"}},
		{"no operands", []string{"probe", "--version"}, []string{"probe", "--version"}},
		{"help after operands", []string{"probe", "-n", "-p", "22", "127.0.0.1", "--help"}, []string{"probe", "--help"}},
		{"-h anywhere", []string{"probe", "127.0.0.1", "-h", "-p", "22"}, []string{"probe", "--help"}},
		{"help beside a bad flag", []string{"probe", "--bogus", "-help"}, []string{"probe", "--help"}},
		{"help as the only operand", []string{"probe", "-n", "help"}, []string{"probe", "--help"}},
		{"a host named help after --", []string{"probe", "--", "help"}, []string{"probe", "--", "help"}},
		{"help among other operands is a host", []string{"probe", "help", "h"}, []string{"probe", "--", "help", "h"}},
		{"--help after -- is an operand", []string{"probe", "--", "--help"}, []string{"probe", "--", "--help"}},
		{"-vv repeats", []string{"probe", "h", "-vv"}, []string{"probe", "-v", "-v", "--", "h"}},
		{"-vvv repeats", []string{"probe", "-vvv"}, []string{"probe", "-v", "-v", "-v"}},
		{"-nv is not expanded", []string{"probe", "-nv"}, []string{"probe", "-nv"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := normalizeArgs(tc.in, flags); !slices.Equal(got, tc.want) {
				t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		ctx      func() context.Context
		action   error
		args     []string
		code     int
		stderrIs string
	}{
		{"success", context.Background, nil, nil, 0, ""},
		{"runtime error", context.Background, errors.New("disk on fire"), nil, 1, "t: disk on fire\n"},
		{"usage error", context.Background, Usagef("bad thing"), nil, 2, "t: bad thing\nRun 't --help' for usage.\n"},
		{"closed stdout is quiet", context.Background, syscall.EPIPE, nil, 0, ""},
		{"signal", func() context.Context {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(&SignalError{Signal: syscall.SIGTERM})
			return ctx
		}, &SignalError{Signal: syscall.SIGTERM}, nil, 143, ""},
		{"unknown flag", context.Background, nil, []string{"--nope"}, 2, ""},
		{"flag without its value", context.Background, nil, []string{"--log-format"}, 2, ""},
		{"bad flag value", context.Background, nil, []string{"--quiet=maybe"}, 2, ""},
		{"help after operands", context.Background, errors.New("action must not run"), []string{"x", "--help"}, 0, ""},
		{"help command", context.Background, errors.New("action must not run"), []string{"help"}, 0, ""},
		{"version", context.Background, errors.New("action must not run"), []string{"--version"}, 0, ""},
		{"quiet and verbose", context.Background, nil, []string{"-q", "-v"}, 2, "t: -q and -v contradict each other: give one\nRun 't --help' for usage.\n"},
		{"a code cli chose itself", context.Background, cli.Exit("no help topic", 3), nil, 2, ""},
		{"json log format", context.Background, Usagef("bad thing"), []string{"--log-format", "json"}, 2, ""},
		{"status is silent", context.Background, Status(1), nil, 1, ""},
		{"no usage hint", context.Background, &ExitError{Code: 2, Err: errors.New("corrupt"), NoUsageHint: true}, nil, 2, "t: corrupt\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			tl := Tool{Name: "t", Action: func(context.Context, *cli.Context, *Env) error { return tc.action }}
			code := Run(tc.ctx(), tl, append([]string{"t"}, tc.args...), strings.NewReader(""), &out, &errb)
			if code != tc.code {
				t.Fatalf("code %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if tc.stderrIs != "" && errb.String() != tc.stderrIs {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderrIs)
			}
			if tc.name == "status is silent" && errb.Len() != 0 {
				t.Errorf("stderr %q, want nothing for a result code", errb.String())
			}
			if tc.name == "json log format" {
				var rec map[string]any
				if err := json.Unmarshal(errb.Bytes(), &rec); err != nil || rec["msg"] != "bad thing" || rec["level"] != "ERROR" || rec["exit"] != 2.0 {
					t.Errorf("stderr %q, want one JSON record of the error", errb.String())
				}
			}
		})
	}
}

func TestLogFormats(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var errb bytes.Buffer
			tl := Tool{Name: "t", Action: func(_ context.Context, _ *cli.Context, env *Env) error {
				env.Log.Warn("name did not resolve", "target", "bad host\nforged")
				return nil
			}}
			if code := Run(context.Background(), tl, []string{"t", "--log-format", format}, nil, &bytes.Buffer{}, &errb); code != 0 {
				t.Fatalf("code %d", code)
			}
			got := errb.String()
			if strings.Count(got, "\n") != 1 {
				t.Fatalf("want exactly one line, got %q", got)
			}
			want := map[string]string{
				"text": "t: warning: name did not resolve target=\"bad host\\nforged\"\n",
				"json": `"level":"WARN","msg":"name did not resolve","tool":"t","target":"bad host\nforged"}`,
			}[format]
			if !strings.Contains(got, want) {
				t.Errorf("got %q, want it to contain %q", got, want)
			}
		})
	}
}

// TestHelpAndVersionOutput checks where help, version and -v output go:
// help and --version on stdout when asked, -v records on stderr only.
func TestHelpAndVersionOutput(t *testing.T) {
	tl := Tool{Name: "t", Flags: []cli.Flag{&cli.StringFlag{Name: "iL"}, &cli.BoolFlag{Name: "Pn"}},
		Action: func(_ context.Context, _ *cli.Context, env *Env) error {
			env.Log.Debug("a debug record")
			env.Log.Log(context.Background(), LevelTrace, "a trace record")
			return nil
		}}
	run := func(args ...string) (string, string) {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), tl, append([]string{"t"}, args...), nil, &out, &errb); code != 0 {
			t.Fatalf("%q: code %d (stderr %q)", args, code, errb.String())
		}
		return out.String(), errb.String()
	}
	out, _ := run("host", "--help")
	for _, want := range []string{"USAGE:", "-iL value", "-Pn ", "--verbose, -v", "--version"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--iL") || strings.Contains(out, "--Pn") {
		t.Errorf("help shows Nmap's flags with two dashes:\n%s", out)
	}
	if out, errOut := run("--version"); !strings.HasPrefix(out, "t version ") || errOut != "" {
		t.Errorf("--version: stdout %q, stderr %q", out, errOut)
	}
	for _, tc := range []struct {
		args        []string
		debug, more bool
	}{{nil, false, false}, {[]string{"-v"}, true, false}, {[]string{"-vv"}, true, true}, {[]string{"-v", "-v"}, true, true}} {
		out, errOut := run(tc.args...)
		if out != "" {
			t.Errorf("%q wrote %q on stdout", tc.args, out)
		}
		if got := strings.Contains(errOut, "a debug record"); got != tc.debug {
			t.Errorf("%q: debug record shown %v, want %v (%q)", tc.args, got, tc.debug, errOut)
		}
		if got := strings.Contains(errOut, "a trace record"); got != tc.more {
			t.Errorf("%q: trace record shown %v, want %v (%q)", tc.args, got, tc.more, errOut)
		}
	}
}
