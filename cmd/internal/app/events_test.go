package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/picketscan/picket/lib/event"
)

// passStage is the smallest event-reading stage: it copies every event
// through unchanged, adding a field to port events.
func passStage() Tool {
	return Tool{
		Name:  "pass",
		Flags: InputFlags(),
		Action: func(ctx context.Context, c *cli.Context, env *Env) error {
			w := event.NewWriter(env.Stdout)
			defer w.Flush()
			return ReadEvents(ctx, c, env, c.Args().Slice(), func(l event.Line) error {
				raw := l.Raw
				if l.Type == event.TypePort {
					var err error
					if raw, err = event.SetField(raw, "seen", true); err != nil {
						return err
					}
				}
				return w.WriteLine(raw)
			})
		},
	}
}

func TestReadEvents(t *testing.T) {
	good1 := `{"type":"scan","phase":"start","x-custom":{"a":[1,2]}}`
	good2 := `{"type":"port","port":22,  "state":"open"}`
	good3 := `{"type":"mine","z":1}`
	input := good1 + "\n" + "not json\n" + good2 + "\n" + `{"no":"type"}` + "\n" + good3 + "\n"
	dir := t.TempDir()
	file := filepath.Join(dir, "scan.ndjson")
	if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	wantOut := good1 + "\n" + `{"type":"port","port":22,  "state":"open","seen":true}` + "\n" + good3 + "\n"
	long := `{"type":"big","pad":"` + strings.Repeat("a", 70000) + `"}`
	longFile := filepath.Join(dir, "long.ndjson")
	if err := os.WriteFile(longFile, []byte(long+"\n"+good3+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file as Windows tools write it: a byte order mark and CRLF.
	windows := filepath.Join(dir, "windows.ndjson")
	if err := os.WriteFile(windows, []byte("\xef\xbb\xbf"+good1+"\r\n"+good3+"\r\n"+`{"type":"port","type":"host"}`+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		stdout    string
		stderr    []string
		stderrNot []string
	}{
		{"file: bad lines reported, counted, skipped", []string{file}, "", 0, wantOut,
			[]string{file + ":2: not a JSON object", file + `:4: missing "type" field`, file + ": skipped 2 bad lines (first at line 2)"}, nil},
		{"stdin by default", nil, input, 0, wantOut, []string{"-:2: not a JSON object", "-: skipped 2 bad lines"}, nil},
		{"stdin as -", []string{"-"}, input, 0, wantOut, []string{"-:4:"}, nil},
		{"strict stops at the first bad line", []string{"--strict", file}, "", 2, good1 + "\n",
			[]string{"pass: " + file + ":2: not a JSON object"}, []string{":4:", "skipped"}},
		{"line limit", []string{"--max-line", "65536", longFile}, "", 0, good3 + "\n",
			[]string{longFile + ":1: line longer than 65536 bytes"}, nil},
		{"line limit raised", []string{"--max-line", "100000", longFile}, "", 0, long + "\n" + good3 + "\n", nil, []string{"longer"}},
		{"line limit too small", []string{"--max-line", "30", file}, "", 2, "",
			[]string{"pass: bad --max-line 30: must be from 65536 (64 KiB) to 67108864 (64 MiB)"}, nil},
		{"line limit too large", []string{"--max-line", "1000000000", file}, "", 2, "", []string{"bad --max-line 1000000000"}, nil},
		{"byte order mark and CRLF", []string{windows}, "", 0, good1 + "\n" + good3 + "\n",
			[]string{"pass: " + windows + ":1: dropped the UTF-8 byte order mark", windows + `:3: key "type" appears twice`}, nil},
		{"missing file", []string{filepath.Join(dir, "nope.ndjson")}, "", 2, "", []string{"nope.ndjson: no such file"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), passStage(), append([]string{"pass"}, tc.args...), strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if out.String() != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), tc.stdout)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			for _, s := range tc.stderrNot {
				if strings.Contains(errb.String(), s) {
					t.Errorf("stderr has %q:\n%s", s, errb.String())
				}
			}
		})
	}
}
