package exec

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/notifytest"
	"github.com/picketscan/picket/lib/notify"
)

func TestExecGetsAlertOnStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "got.json")
	// The alert's text never reaches a shell: the only shell here is
	// the test's own fixed script, and the alert comes on stdin.
	s, err := New(Options{Argv: []string{"sh", "-c", `cat > "$1"`, "sh", out}})
	if err != nil {
		t.Fatal(err)
	}
	a := notifytest.Alert("S1/port-opened/10.0.0.7/8080/tcp", strings.Replace(notifytest.Hostile, "+8080", "$(touch pwned) `touch pwned2`; +8080", 1))
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var p notify.Payload
	if err := json.Unmarshal(data, &p); err != nil || !strings.HasSuffix(string(data), "}\n") {
		t.Fatalf("stdin %q: %v", data, err)
	}
	if p.Key != a.Key || len(p.Changes) != 1 {
		t.Errorf("payload %+v", p)
	}
	for _, f := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was created", f)
		}
	}
}

func TestExecFailures(t *testing.T) {
	a := notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.1", 22))
	s, _ := New(Options{Argv: []string{"sh", "-c", "echo boom >&2; exit 3"}})
	err := s.Send(context.Background(), a)
	if err == nil || notify.IsPermanent(err) || !strings.Contains(err.Error(), "exit status 3: boom") {
		t.Errorf("exit 3: %v", err)
	}
	s, _ = New(Options{Argv: []string{filepath.Join(t.TempDir(), "no-such-program")}})
	if err := s.Send(context.Background(), a); !notify.IsPermanent(err) {
		t.Errorf("missing program: %v, want permanent", err)
	}
	s, _ = New(Options{Argv: []string{"sleep", "10"}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Send(ctx, a); err == nil || notify.IsPermanent(err) {
		t.Errorf("timeout: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the command outlived its timeout")
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"mail -s alert ops@example.com", []string{"mail", "-s", "alert", "ops@example.com"}},
		{`logger -t 'picket notify' "a \"b\" c" d\ e`, []string{"logger", "-t", "picket notify", `a "b" c`, "d e"}},
		{`echo $HOME ; rm -rf / | x`, []string{"echo", "$HOME", ";", "rm", "-rf", "/", "|", "x"}},
		{`a''b ""`, []string{"ab", ""}},
		{"  ", nil},
	}
	for _, tc := range tests {
		got, err := SplitArgs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`, `a\`} {
		if _, err := SplitArgs(bad); err == nil {
			t.Errorf("SplitArgs(%q): no error", bad)
		}
	}
}

func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{`a 'b c' "d \" e" f\ g`, `'`, `"\`, "x\ty\nz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := SplitArgs(s)
		if err != nil {
			return
		}
		// Words without quotes, blanks or backslashes split back the same.
		for _, a := range args {
			if a != "" && !strings.ContainsAny(a, " \t\n'\"\\") {
				if again, err := SplitArgs(a); err != nil || len(again) != 1 || again[0] != a {
					t.Fatalf("word %q of %q does not split back", a, s)
				}
			}
		}
	})
}
