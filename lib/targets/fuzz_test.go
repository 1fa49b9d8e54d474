package targets

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0-3.1.1-254", "2001:db8::/120", "example.com/28", "fe80::1%eth0", "*.1.-.5-", "10.0.0.300"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSpec(text)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if s.String() != text {
			t.Fatalf("String() = %q, want %q", s.String(), text)
		}
		n, ok := s.Len()
		switch s.Kind() {
		case KindName:
			if ok || s.Name() == "" {
				t.Fatalf("name spec: Len %d %v, Name %q", n, ok, s.Name())
			}
			return
		case KindAddr, KindRange:
			if !ok {
				t.Fatalf("%v spec has no length", s.Kind())
			}
		case KindPrefix:
			if !ok && s.Bits() >= 65 {
				t.Fatalf("prefix /%d has no length", s.Bits())
			}
		default:
			t.Fatalf("kind %v", s.Kind())
		}
		if !ok {
			return
		}
		if n == 0 {
			t.Fatal("Len is 0")
		}
		for _, i := range []uint64{0, n / 2, n - 1} {
			a := s.At(i)
			if !a.IsValid() || !s.Contains(a) {
				t.Fatalf("At(%d) = %v is not inside %q", i, a, text)
			}
			// Every address the spec yields parses back to itself.
			back, err := ParseSpec(a.String())
			if err != nil || back.Kind() != KindAddr || back.Addr() != a.Unmap() {
				t.Fatalf("At(%d) = %v does not round-trip: %v %v", i, a, back.Addr(), err)
			}
		}
		if a := s.At(n); a.IsValid() {
			t.Fatalf("At(Len) = %v", a)
		}
		if n > 1 && s.At(0).Compare(s.At(n-1)) >= 0 {
			t.Fatalf("first %v not before last %v", s.At(0), s.At(n-1))
		}
	})
}

func FuzzReadList(f *testing.F) {
	f.Add([]byte("10.0.0.1\n# comment\n10.0.0.0/24 example.com\t2001:db8::1#x\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadList(bytes.NewReader(data), "f")
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		prev, total := 0, 0
		for _, src := range got {
			if src.Text == "" || len(src.Text) > MaxEntry || strings.ContainsAny(src.Text, " \t\n\r\v\f#") {
				t.Fatalf("bad entry %q", src.Text)
			}
			ln, err := strconv.Atoi(strings.TrimPrefix(src.Where, "f:"))
			if err != nil || ln < prev || ln > lines {
				t.Fatalf("bad Where %q after line %d of %d", src.Where, prev, lines)
			}
			prev = ln
			total += len(src.Text) + 1
		}
		if total > len(data)+1 {
			t.Fatalf("entries hold %d bytes, more than the %d of the input", total, len(data))
		}
	})
}
