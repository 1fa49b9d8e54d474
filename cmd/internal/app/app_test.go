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
		{"value flag at the end", []string{"probe", "h", "-p"}, []string{"probe", "-p", "--", "h"}},
		{"no operands", []string{"probe", "--version"}, []string{"probe", "--version"}},
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
