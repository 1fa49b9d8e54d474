package service

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const sample = `# a comment
Exclude T:9100-9102,U:53,7

Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w.]+)\r?\n| p/OpenSSH/ v/$2/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/a
softmatch ftp m=^220 .*ftp=i
match bin m|^\xff\xfe(..)|s p/Binary/ v/$I(1,">")/
match look m|^(?=abc)(a)bc| p/Lookahead/

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80,8000-8010, 8080
sslports 443
fallback NULL,Nope

match ssl/http m|^HTTP/1\.1 200 OK\r\nServer: thing/([\d.]+)\r\n| p/Thing/ v/$SUBST(1,".","_")/ h/$P(1)/ o/Linux/ d/router/
`

func TestParseSample(t *testing.T) {
	var reports []*LineError
	set, err := Parse("sample", []byte(sample), ParseOptions{Report: func(e *LineError) { reports = append(reports, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 0 {
		t.Fatalf("reports: %v", reports)
	}
	if got := len(set.Probes); got != 2 {
		t.Fatalf("%d probes, want 2", got)
	}
	null, get := set.Probes[0], set.Probes[1]
	if null.Name != "NULL" || null.Proto != TCP || len(null.Payload) != 0 || null.TotalWait != 6*time.Second || null.TCPWrapped != 3*time.Second {
		t.Errorf("NULL probe: %+v", null)
	}
	if len(null.Matches) != 4 || !null.Matches[1].Soft || null.Matches[1].Service != "ftp" {
		t.Errorf("NULL matches: %+v", null.Matches)
	}
	if null.Matches[3].Backtracking() == false || null.Matches[0].Backtracking() {
		t.Errorf("engines: lookahead should backtrack, the plain pattern should not")
	}
	if string(get.Payload) != "GET / HTTP/1.0\r\n\r\n" || get.Rarity != 1 {
		t.Errorf("GetRequest: payload %q rarity %d", get.Payload, get.Rarity)
	}
	for _, p := range []uint16{80, 8000, 8005, 8010, 8080} {
		if !get.Ports.Contains(p) {
			t.Errorf("ports should contain %d", p)
		}
	}
	for _, p := range []uint16{79, 81, 7999, 8011, 443} {
		if get.Ports.Contains(p) {
			t.Errorf("ports should not contain %d", p)
		}
	}
	if !get.SSLPorts.Contains(443) {
		t.Error("sslports should contain 443")
	}
	if len(get.Fallbacks) != 1 || get.Fallbacks[0] != null {
		t.Errorf("fallbacks %v, want NULL only (Nope does not exist)", get.Fallbacks)
	}
	m := get.Matches[0]
	if m.Service != "http" || !m.SSL {
		t.Errorf("ssl/http parsed as %q ssl=%v", m.Service, m.SSL)
	}
	if !set.ExcludeTCP.Contains(9101) || set.ExcludeTCP.Contains(53) || !set.ExcludeUDP.Contains(53) || !set.ExcludeUDP.Contains(7) {
		t.Errorf("exclude: tcp %v udp %v", set.ExcludeTCP, set.ExcludeUDP)
	}
	if set.Stats.Matches != 5 || set.Stats.Backtrack != 1 || set.Stats.Skipped != 0 {
		t.Errorf("stats %+v", set.Stats)
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name, line, reason string
	}{
		{"before probe", "match x m|a|", `"match" before the first Probe line`},
		{"unknown directive", "Probe TCP NULL q||\nfrobnicate 3", `unknown directive "frobnicate"`},
		{"bad proto", "Probe SCTP X q||", `protocol "SCTP"`},
		{"unclosed payload", "Probe TCP X q|abc", "payload not closed"},
		{"bad hex", `Probe TCP X q|\xZZ|`, `\xZZ is not a hex byte`},
		{"short hex", `Probe TCP X q|\x4|`, `\x needs two hex digits`},
		{"bad option", "Probe TCP X q|| payload", `unknown option "payload"`},
		{"rarity", "Probe TCP NULL q||\nrarity 12", "rarity"},
		{"wait", "Probe TCP NULL q||\ntotalwaitms soon", "totalwaitms"},
		{"ports", "Probe TCP NULL q||\nports 80,x", `"x" is not a port`},
		{"port range", "Probe TCP NULL q||\nports 90-80", `"90-80"`},
		{"big port", "Probe TCP NULL q||\nports 70000", `"70000"`},
		{"no pattern", "Probe TCP NULL q||\nmatch ssh", "pattern must be m"},
		{"unclosed pattern", "Probe TCP NULL q||\nmatch ssh m|abc", "pattern not closed"},
		{"bad flag", "Probe TCP NULL q||\nmatch ssh m|abc|x", "unknown pattern flag"},
		{"bad regex", "Probe TCP NULL q||\nmatch ssh m|a(b|", "does not compile"},
		{"bad field", "Probe TCP NULL q||\nmatch ssh m|a| z/b/", `unknown version field "z"`},
		{"unclosed field", "Probe TCP NULL q||\nmatch ssh m|a| p/b", "not closed"},
		{"twice", "Probe TCP NULL q||\nmatch ssh m|a| p/b/ p/c/", "given twice"},
		{"exclude", "Exclude T:abc", "Exclude"},
		{"after bad probe", "Probe TCP\nmatch ssh m|a|", "Probe: want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reports []*LineError
			_, err := Parse("f.probes", []byte(tt.line), ParseOptions{Report: func(e *LineError) { reports = append(reports, e) }})
			if err != nil {
				t.Fatalf("non-strict Parse failed: %v", err)
			}
			if len(reports) == 0 {
				t.Fatalf("no report for %q", tt.line)
			}
			want := "f.probes:" + strconv.Itoa(strings.Count(tt.line, "\n")+1) + ": "
			if tt.name == "after bad probe" {
				want = "f.probes:1: "
			}
			if got := reports[0].Error(); !strings.HasPrefix(got, want) || !strings.Contains(got, tt.reason) {
				t.Errorf("report %q, want prefix %q containing %q", got, want, tt.reason)
			}
			_, err = Parse("f.probes", []byte(tt.line), ParseOptions{Strict: true})
			var le *LineError
			if !errors.As(err, &le) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("strict Parse: %v, want a *LineError", err)
			}
		})
	}
}

func TestParseStatsReasons(t *testing.T) {
	src := "Probe TCP NULL q||\nmatch a m|(|\nmatch b m|ok|\nmatch c m|[|\nbogus 1\n"
	set, err := Parse("x", []byte(src), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := set.Stats
	if st.Matches != 1 || st.Skipped != 3 || st.Reasons[reasonCompile] != 2 || st.Reasons["unknown directive"] != 1 {
		t.Errorf("stats %+v", st)
	}
	if s := st.String(); !strings.Contains(s, "1 match lines loaded") || !strings.Contains(s, "2 regex does not compile") {
		t.Errorf("summary %q", s)
	}
}

func TestEmbeddedParses(t *testing.T) {
	set, err := Parse(EmbeddedName, Embedded(), ParseOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, p := range set.Probes {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, "NULL") || set.Stats.Matches == 0 {
		t.Errorf("embedded file: probes %v, %d matches", names, set.Stats.Matches)
	}
}

func TestMerge(t *testing.T) {
	a, _ := Parse("a", []byte("Probe TCP NULL q||\nmatch a m|^a|\n"), ParseOptions{})
	b, _ := Parse("b", []byte("Probe TCP NULL q||\nmatch b m|^b|\nProbe TCP Other q|x|\nfallback NULL\nmatch c m|^c|\n"), ParseOptions{})
	a.Merge(b)
	if len(a.Probes) != 2 || len(a.Probes[0].Matches) != 2 || a.Stats.Matches != 3 {
		t.Fatalf("merged: %d probes, %d NULL matches, stats %+v", len(a.Probes), len(a.Probes[0].Matches), a.Stats)
	}
	if a.Probes[1].Fallbacks[0] != a.Probes[0] {
		t.Error("fallback not relinked to the merged NULL probe")
	}
}

func TestFallbackAcrossProtocols(t *testing.T) {
	src := "Probe UDP DNS q|x|\nmatch domain m|version| p/BIND/\nProbe TCP DNSTCP q|y|\nfallback DNS\n"
	set := mustParse(t, src)
	tcp := set.Probes[1]
	if len(tcp.Fallbacks) != 1 || tcp.Fallbacks[0] != set.Probes[0] {
		t.Fatalf("fallbacks %v, want the UDP probe", tcp.Fallbacks)
	}
	hard, _ := NewMatcher(set).Match(tcp, []byte("\x00\x10version"), "", 0)
	if hard == nil || hard.Info.Product != "BIND" {
		t.Errorf("answer to the TCP probe not matched by its UDP fallback: %+v", hard)
	}
}
