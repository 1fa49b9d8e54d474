package service

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("Probe UDP DNS q|\\0\\x01\\xff| no-payload\nrarity 9\nmatch dns m|^..\\x81|s p/x/ v/$I(1,\"<\")/\n"))
	f.Add([]byte("Exclude T:1-5,U:9\nProbe TCP NULL q||\nmatch a m=(?<=x)y=i cpe:/a:b:c/a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Longer inputs only repeat lines; capping them keeps each run
		// short, so CI's fixed count of inputs takes seconds.
		if len(data) > 2048 {
			return
		}
		set, err := Parse("fuzz", data, ParseOptions{Report: func(e *LineError) {
			if !strings.HasPrefix(e.Error(), "fuzz:") {
				t.Fatalf("report without file:line: %q", e.Error())
			}
		}})
		if err != nil {
			t.Fatalf("non-strict Parse failed: %v", err)
		}
		m := NewMatcher(set)
		for _, p := range set.Probes {
			m.Match(p, data, "", 0)
		}
	})
}

func FuzzExpand(f *testing.F) {
	f.Add("v$1 $P(2) $SUBST(1,\".\",\"_\") $I(3,\">\")", []byte("1.2.3"), []byte("a\x00b"), []byte{1, 2})
	f.Add("$", []byte{}, []byte{0xff}, []byte{})
	f.Add("$I(1,\"<\")$SUBST(", []byte("12345678"), []byte("x"), []byte("y"))
	f.Fuzz(func(t *testing.T, tmpl string, g1, g2, g3 []byte) {
		got := expand(tmpl, [][]byte{nil, g1, g2, g3})
		if !utf8.ValidString(got) {
			t.Fatalf("expand(%q) gave invalid UTF-8 %q", tmpl, got)
		}
		if len(got) > 4*maxField {
			t.Fatalf("expand(%q) gave %d bytes", tmpl, len(got))
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("expand(%q) left a control byte in %q", tmpl, got)
			}
		}
	})
}
