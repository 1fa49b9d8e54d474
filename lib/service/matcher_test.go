package service

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, src string) *ProbeSet {
	t.Helper()
	set, err := Parse("test", []byte(src), ParseOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestMatch(t *testing.T) {
	set := mustParse(t, sample)
	m := NewMatcher(set)
	null, get := set.Probes[0], set.Probes[1]
	tests := []struct {
		name    string
		probe   *Probe
		answer  string
		only    string
		service string
		soft    bool
		info    Info
	}{
		{"openssh", null, "SSH-2.0-OpenSSH_9.2p1\r\n", "", "ssh", false,
			Info{Product: "OpenSSH", Version: "9.2p1", Info: "protocol 2.0", CPE: []string{"cpe:/a:openbsd:openssh:9.2p1"}}},
		{"softmatch ignores case", null, "220 Welcome to the FTP server\r\n", "", "ftp", true, Info{}},
		{"high bytes", null, "\xff\xfe\x01\x02rest", "", "bin", false, Info{Product: "Binary", Version: "258"}},
		{"dot matches newline with s", null, "\xff\xfe\n\x00", "", "bin", false, Info{Product: "Binary", Version: "2560"}},
		{"backtracking engine", null, "abc", "", "look", false, Info{Product: "Lookahead"}},
		{"fallback to NULL lines", get, "SSH-1.99-OpenSSH_3.9\n", "", "ssh", false,
			Info{Product: "OpenSSH", Version: "3.9", Info: "protocol 1.99", CPE: []string{"cpe:/a:openbsd:openssh:3.9"}}},
		{"templates", get, "HTTP/1.1 200 OK\r\nServer: thing/1.2.3\r\n", "", "http", false,
			Info{Product: "Thing", Version: "1_2_3", Hostname: "1.2.3", OS: "Linux", Device: "router"}},
		{"only narrows", get, "SSH-2.0-OpenSSH_9.2p1\r\n", "http", "", false, Info{}},
		{"no match", null, "hello", "", "", false, Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hard, soft := m.Match(tt.probe, []byte(tt.answer), tt.only, 0)
			hit := hard
			if tt.soft {
				if hard != nil {
					t.Fatalf("hard match %s, want a softmatch", hard.Match.Source)
				}
				hit = soft
			}
			if tt.service == "" {
				if hard != nil || soft != nil {
					t.Fatalf("matched %v %v, want nothing", hard, soft)
				}
				return
			}
			if hit == nil {
				t.Fatalf("no match, want %s", tt.service)
			}
			if hit.Match.Service != tt.service {
				t.Errorf("service %q, want %q", hit.Match.Service, tt.service)
			}
			if !tt.soft && !infoEqual(hit.Info, tt.info) {
				t.Errorf("info %+v, want %+v", hit.Info, tt.info)
			}
		})
	}
}

func infoEqual(a, b Info) bool {
	return a.Product == b.Product && a.Version == b.Version && a.Info == b.Info && a.Hostname == b.Hostname &&
		a.OS == b.OS && a.Device == b.Device && slices.Equal(a.CPE, b.CPE)
}

func TestCanMatch(t *testing.T) {
	set := mustParse(t, sample)
	m := NewMatcher(set)
	if !m.CanMatch(set.Probes[1], "http") || m.CanMatch(set.Probes[1], "smtp") {
		t.Error("GetRequest should be able to match http and not smtp")
	}
}

// TestHostileAnswerBounded checks that an answer built to make
// backtracking patterns explode costs a bounded amount of work: each
// hostile line runs into its match timeout, and once the budget is spent
// no further backtracking line is tried at all. The last line would
// match the answer; it is reached with an ample budget and skipped with
// a small one, which shows the budget, not a clock in the test, ends
// the work.
func TestHostileAnswerBounded(t *testing.T) {
	src := "Probe TCP NULL q||\n"
	for range 8 {
		src += "match evil m|^(a+)+(?=b)c| p/x/\n"
	}
	src += "match good m|^a+(?=!)| p/good/\n"
	set := mustParse(t, src)
	m := NewMatcher(set)
	answer := []byte(strings.Repeat("a", 4000) + "!")
	for _, tt := range []struct {
		budget time.Duration
		want   string // the service matched, "" for none
	}{
		{time.Minute, "good"},
		{time.Nanosecond, ""},
		{2 * DefaultMatchTimeout, ""},
	} {
		hard, soft := m.Match(set.Probes[0], answer, "", tt.budget)
		got := ""
		if hard != nil {
			got = hard.Match.Service
		}
		if got != tt.want || soft != nil {
			t.Errorf("budget %v: matched %q (soft %v), want %q", tt.budget, got, soft, tt.want)
		}
	}
}

func TestDollarBeforeFinalNewline(t *testing.T) {
	set := mustParse(t, "Probe TCP NULL q||\nmatch x m|^hello (\\w+)$| v/$1/\nmatch y m|^bye\\Z|\n")
	m := NewMatcher(set)
	for _, tt := range []struct{ answer, service, version string }{
		{"hello world", "x", "world"},
		{"hello world\n", "x", "world"},
		{"hello world\n\n", "", ""},
		{"bye\n", "y", ""},
	} {
		hard, _ := m.Match(set.Probes[0], []byte(tt.answer), "", 0)
		switch {
		case tt.service == "" && hard != nil:
			t.Errorf("%q matched %s", tt.answer, hard.Match.Service)
		case tt.service != "" && (hard == nil || hard.Match.Service != tt.service || hard.Info.Version != tt.version):
			t.Errorf("%q: got %+v, want %s %s", tt.answer, hard, tt.service, tt.version)
		}
	}
}

func TestExpand(t *testing.T) {
	groups := [][]byte{[]byte("all"), []byte("1.2.3"), []byte("a\x01b\xffc"), {0x01, 0x02}, nil}
	tests := []struct{ tmpl, want string }{
		{"plain", "plain"},
		{"v$1", "v1.2.3"},
		{"$2", `a\x01b\xffc`},
		{"$P(2)", "abc"},
		{`$SUBST(1,".","-")`, "1-2-3"},
		{`$SUBST(1,"","-")`, "1.2.3"},
		{`$I(3,">")`, "258"},
		{`$I(3,"<")`, "513"},
		{`$I(3,"?")`, `$I(3,"?")`},
		{"$9 missing", "missing"},
		{"$4", ""},
		{"$", "$"},
		{"$P(", "$P("},
		{"$SUBST(1,\"a\")", "$SUBST(1,\"a\")"},
		{"cost $$1", "cost $1.2.3"},
	}
	for _, tt := range tests {
		if got := expand(tt.tmpl, groups); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
	long := expand("$1"+strings.Repeat("x", 1000), groups)
	if len(long) > maxField {
		t.Errorf("expanded field of %d bytes, want at most %d", len(long), maxField)
	}
	if got := expandCPE("a:Some Vendor:prod:$1", groups); got != "cpe:/a:some_vendor:prod:1.2.3" {
		t.Errorf("cpe %q", got)
	}
}

// TestLiteralPrefix checks the prefilter: patterns anchored on a literal
// skip answers without it, in either case when the pattern ignores case,
// and patterns without such a prefix are always run.
func TestLiteralPrefix(t *testing.T) {
	src := "Probe TCP NULL q||\n" +
		"match a m|^Hello World (\\d+)| v/$1/\n" +
		"match b m|^h\\xe9llo\\xff(\\d)|i v/$1/\n" +
		"match c m=^(?:x|y)z(\\d)= v/$1/\n" +
		"match d m|mid(\\d)| v/$1/\n"
	set := mustParse(t, src)
	m := NewMatcher(set)
	tests := []struct{ answer, service, version string }{
		{"Hello World 42", "a", "42"},
		{"hello world 42", "", ""},
		{"HÉLLO\xff7", "", ""}, // É is two bytes here, not the Latin-1 byte
		{"H\xe9LLO\xff7", "b", "7"},
		{"h\xc9llo\xff8", "b", "8"},
		{"yz5", "c", "5"},
		{"xxmid3", "d", "3"},
		{"Hello", "", ""},
	}
	for _, tt := range tests {
		hard, _ := m.Match(set.Probes[0], []byte(tt.answer), "", 0)
		switch {
		case tt.service == "" && hard != nil:
			t.Errorf("%q matched %s", tt.answer, hard.Match.Source)
		case tt.service != "" && (hard == nil || hard.Match.Service != tt.service || hard.Info.Version != tt.version):
			t.Errorf("%q: got %+v, want %s %s", tt.answer, hard, tt.service, tt.version)
		}
	}
	for i, want := range []bool{true, true, false, false} {
		rm := set.Probes[0].Matches[i].re.(*re2Matcher)
		if got := len(rm.prefix) > 0; got != want {
			t.Errorf("match %d: prefix %q, want one: %v", i, string(rm.prefix), want)
		}
	}
}
