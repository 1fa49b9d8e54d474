package ports_test

import (
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/ports"
)

// FuzzParse checks that Parse never panics and that every list it returns
// is non-empty, strictly ascending in At order, and round-trips through
// String whatever the default protocols.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"22", "T:80,443,U:53,161", "-", "0-", "http*,U:snmp", "22,,80", "T:"} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, spec string, defaults uint8) {
		var def []ports.Proto
		if defaults&1 != 0 {
			def = append(def, ports.TCP)
		}
		if defaults&2 != 0 {
			def = append(def, ports.UDP)
		}
		l, err := ports.Parse(spec, ports.ParseOptions{Default: def})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad port spec ") {
				t.Fatalf("Parse(%q) error %q lacks the bad port spec prefix", spec, err)
			}
			return
		}
		n := l.Len()
		if n == 0 {
			t.Fatalf("Parse(%q) succeeded with an empty list", spec)
		}
		checkAscending(t, l, spec)
		again, err := ports.Parse(l.String(), ports.ParseOptions{Default: []ports.Proto{ports.UDP}})
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", l, spec, err)
		}
		if !again.Equal(l) || again.Len() != n {
			t.Fatalf("re-parse of %q (from %q) = %q", l, spec, again)
		}
		if rest := l.Without(l); rest.Len() != 0 {
			t.Fatalf("%q without itself = %q", l, rest)
		}
	})
}

// checkAscending walks l with At and checks that ports ascend strictly,
// protocol first. Long lists are sampled every step ports, which keeps each
// fuzz run fast: with unique ascending ports, entries step apart differ by at
// least step within one protocol.
func checkAscending(t *testing.T, l ports.List, spec string) {
	t.Helper()
	n := l.Len()
	step := 1
	if n > 4096 {
		step = 97
	}
	prev := l.At(0)
	for i := step; i < n; i += step {
		cur := l.At(i)
		if !(cur.Proto > prev.Proto || cur.Proto == prev.Proto && int(cur.Num)-int(prev.Num) >= step) {
			t.Fatalf("Parse(%q): At(%d)=%v does not follow %v", spec, i, cur, prev)
		}
		if !l.Contains(cur) {
			t.Fatalf("Parse(%q): At(%d)=%v is not contained", spec, i, cur)
		}
		prev = cur
	}
	if last := l.At(n - 1); !l.Contains(last) {
		t.Fatalf("Parse(%q): last port %v is not contained", spec, last)
	}
}

// FuzzParseServicesFile checks that ParseServicesFile never panics and that
// whatever it accepts answers lookups, including wildcards, without panics.
func FuzzParseServicesFile(f *testing.F) {
	f.Add(sampleServices, "a*")
	f.Add("ssh 22/tcp\n", "ssh")
	f.Add("x 70000/udp\n", "*")
	f.Fuzz(func(t *testing.T, input, pattern string) {
		n, err := ports.ParseServicesFile(strings.NewReader(input))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "services line ") && !strings.HasPrefix(err.Error(), "read services line ") {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		for _, p := range []ports.Proto{ports.TCP, ports.UDP} {
			all := map[uint16]bool{}
			for _, port := range n.Lookup("*", p) {
				all[port] = true
			}
			for _, port := range n.Lookup(pattern, p) {
				if !all[port] {
					t.Fatalf("Lookup(%q) port %d is not among all ports", pattern, port)
				}
			}
		}
	})
}
