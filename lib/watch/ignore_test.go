package watch

import (
	"strings"
	"syscall"
	"testing"
)

func TestRuleMatch(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		isDir   bool
		want    bool
	}{
		{"*.swp", ".targets.txt.swp", false, true},
		{"*.swp", "sub/dir/x.swp", false, true},
		{"*.swp", "x.swpx", false, false},
		{"*~", "targets.txt~", false, true},
		{".#*", "sub/.#targets.txt", false, true},
		{`\#*#`, "#notes#", false, true},
		{"#*#", "#notes#", false, false}, // a comment
		{"4913", "a/4913", false, true},
		{"4913", "49130", false, false},
		{".git/", ".git", true, true},
		{".git/", ".git", false, false},
		{".git/", "a/.git", true, true},
		{"/build", "build", true, true},
		{"/build", "a/build", true, false},
		{"doc/*.txt", "doc/a.txt", false, true},
		{"doc/*.txt", "doc/sub/a.txt", false, false},
		{"doc/*.txt", "x/doc/a.txt", false, false},
		{"**/logs", "logs", true, true},
		{"**/logs", "a/b/logs", true, true},
		{"logs/**", "logs", true, false},
		{"logs/**", "logs/a/b.txt", false, true},
		{"a/**/b", "a/b", false, true},
		{"a/**/b", "a/x/y/b", false, true},
		{"a/**/b", "a/x/y/c", false, false},
		{"[ab].txt", "b.txt", false, true},
		{"[ab].txt", "c.txt", false, false},
		{"?.txt", "x.txt", false, true},
		{`\#lit`, "#lit", false, true},
		{`\!lit`, "!lit", false, true},
		{"trail   ", "trail", false, true},
		{`sp\ `, "sp ", false, true},
		{"a//b", "a/b", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.path, func(t *testing.T) {
			r, ok, err := ParsePattern(tt.pattern)
			if err != nil {
				t.Fatalf("ParsePattern(%q): %v", tt.pattern, err)
			}
			if !ok {
				if tt.want {
					t.Fatalf("ParsePattern(%q) read a comment or a blank line", tt.pattern)
				}
				return
			}
			if got := r.Match(tt.path, tt.isDir); got != tt.want {
				t.Errorf("%q matches %q (dir %v) = %v, want %v", tt.pattern, tt.path, tt.isDir, got, tt.want)
			}
		})
	}
}

func TestParseIgnore(t *testing.T) {
	data := "# editor files\n*.swp\n\n!keep.swp\nbuild/\r\n  \n/out\n"
	rules, err := ParseIgnore("ignore.txt", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.String())
	}
	if want := "*.swp|!keep.swp|build/|/out"; strings.Join(got, "|") != want {
		t.Errorf("rules = %q, want %q", strings.Join(got, "|"), want)
	}
	if !rules[1].Negate || !rules[2].DirOnly {
		t.Errorf("flags not parsed: %+v", rules)
	}
}

func TestParseIgnoreErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"ok\n[unclosed\n", "x.ignore:2: bad pattern \"[unclosed\""},
		{"/\n", "x.ignore:1: pattern \"/\" matches nothing"},
		{"!\n", "x.ignore:1: pattern \"!\" matches nothing"},
		{strings.Repeat("a/", 70) + "b\n", "more than 64 segments"},
		{strings.Repeat("a", maxPatternLen+10) + "\n", "x.ignore:1:"},
	}
	for _, tt := range tests {
		_, err := ParseIgnore("x.ignore", []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseIgnore(%.30q) error = %v, want %q", tt.data, err, tt.want)
		}
	}
}

func mustRules(t *testing.T, pats ...string) []Rule {
	t.Helper()
	rules, err := parsePatterns(pats, "test")
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func TestFilter(t *testing.T) {
	f := &Filter{
		Ignore: []Ruleset{
			{Base: "/", Rules: mustRules(t, DefaultIgnores...)},
			{Base: "/w", Rules: mustRules(t, "out/", "*.log", "!keep.log")},
			{Base: "/w/sub", Rules: mustRules(t, "/local.txt")},
		},
	}
	tests := []struct {
		path  string
		isDir bool
		want  bool // ignored
	}{
		{"/w/targets.txt", false, false},
		{"/w/.targets.txt.swp", false, true},
		{"/w/targets.txt~", false, true},
		{"/w/.git", true, true},
		{"/w/.git/index", false, true},
		{"/w/out/x.txt", false, true}, // inside an ignored folder
		{"/w/out", true, true},
		{"/w/a.log", false, true},
		{"/w/keep.log", false, false}, // re-included
		{"/w/out/keep.log", false, true},
		{"/w/sub/local.txt", false, true},
		{"/w/local.txt", false, false}, // anchored to /w/sub
		{"/w/sub/deeper/local.txt", false, false},
	}
	for _, tt := range tests {
		if got := f.Ignored("/w", tt.path, tt.isDir); got != tt.want {
			t.Errorf("Ignored(%s, dir %v) = %v, want %v", tt.path, tt.isDir, got, tt.want)
		}
	}
	g := &Filter{Include: []Ruleset{{Base: "/w", Rules: mustRules(t, "*.txt", "conf/*.yaml")}}}
	for path, want := range map[string]bool{
		"/w/a.txt": true, "/w/d/a.txt": true, "/w/a.log": false,
		"/w/conf/p.yaml": true, "/w/x/conf/p.yaml": false, "/elsewhere/a.txt": false,
	} {
		if got := g.Included(path, false); got != want {
			t.Errorf("Included(%s) = %v, want %v", path, got, want)
		}
	}
}

func FuzzParseIgnore(f *testing.F) {
	f.Add([]byte("*.swp\n!keep.swp\nbuild/\n/out\na/**/b\n"), "a/x/b")
	f.Add([]byte("[\n"), "x")
	f.Add([]byte("\\#x \\ \n**/**/**\n"), "#x")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		rules, err := ParseIgnore("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error without its place: %v", err)
			}
			return
		}
		for _, r := range rules {
			if len(r.segments) == 0 || len(r.segments) > maxSegments {
				t.Fatalf("rule %q has %d segments", r.text, len(r.segments))
			}
			r.Match(path, false)
			r.Match(path, true)
		}
	})
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
		ok   bool
	}{
		{"TERM", syscall.SIGTERM, true},
		{"SIGTERM", syscall.SIGTERM, true},
		{"int", syscall.SIGINT, true},
		{"hup", syscall.SIGHUP, true},
		{"9", syscall.SIGKILL, true},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"NOPE", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if SignalName(syscall.SIGTERM) != "SIGTERM" {
		t.Errorf("SignalName(SIGTERM) = %q", SignalName(syscall.SIGTERM))
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "SIGKILL", "15", "0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err == nil && (sig <= 0 || sig > 64) {
			t.Fatalf("ParseSignal(%q) = %d", s, sig)
		}
	})
}
