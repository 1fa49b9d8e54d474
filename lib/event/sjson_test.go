package event

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// setCase is one field to set on one line.
type setCase struct {
	raw        []byte
	key        string
	value, enc []byte // value as JSON
}

// goldenSetCases sets a new field and replaces an existing one on every
// golden line.
func goldenSetCases(tb testing.TB) []setCase {
	var cs []setCase
	svc := []byte(`{"name":"ssh","product":"OpenSSH","version":"9.6p1"}`)
	for _, raw := range goldenLines(tb) {
		cs = append(cs, setCase{raw: raw, key: "service", value: svc}, setCase{raw: raw, key: "type", value: []byte(`"renamed"`)})
	}
	return cs
}

// fuzzSetCases reads FuzzSetField's seed corpus: the checked-in files
// and the seeds the fuzz target adds, keeping those whose input is an
// object, as every line a stage handles is.
func fuzzSetCases(tb testing.TB) []setCase {
	cs := []setCase{
		{raw: []byte(`{"type":"port","port":22}`), key: "service", value: []byte(`"ssh"`)},
		{raw: []byte(`{"type":"port","state":"open"}`), key: "state", value: []byte(`"closed"`)},
		{raw: []byte(` { } `), key: "a.b", value: []byte(`"x"`)},
		{raw: []byte(`{"a\"b":[1,"]"],"c":-0,"d":1e400}`), key: `a"b`, value: []byte(`"<&>"`)},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzSetField", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 4 {
			tb.Fatalf("%s: %d lines", f, len(lines))
		}
		arg := func(s, prefix string) string {
			v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(s, prefix), ")"))
			if err != nil {
				tb.Fatalf("%s: %q: %v", f, s, err)
			}
			return v
		}
		raw := []byte(arg(lines[1], "[]byte("))
		if checkObject(raw) != nil {
			continue
		}
		enc, err := marshal(arg(lines[3], "string("))
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, setCase{raw: raw, key: arg(lines[2], "string("), value: enc})
	}
	return cs
}

// TestSJSONAgrees checks that the cases the benchmark compares are ones
// where sjson gives the field the same value, so the figures compare
// like with like.
func TestSJSONAgrees(t *testing.T) {
	for _, c := range append(goldenSetCases(t), fuzzSetCases(t)...) {
		ours, err := SetRawField(c.raw, c.key, c.value)
		if err != nil {
			t.Fatalf("SetRawField(%q, %q): %v", c.raw, c.key, err)
		}
		theirs, err := sjson.SetRawBytes(bytes.Clone(c.raw), gjson.Escape(c.key), c.value)
		if err != nil {
			continue // sjson refuses some keys (such as ""); ours does not
		}
		if c.key == "" || strings.ContainsAny(c.key, "\\\"") {
			continue
		}
		if got, want := gjson.GetBytes(theirs, gjson.Escape(c.key)).Raw, gjson.GetBytes(ours, gjson.Escape(c.key)).Raw; got != want {
			t.Errorf("%q set %q: sjson %q, ours %q", c.raw, c.key, theirs, ours)
		}
	}
}

// BenchmarkSetterVsSJSON measures the hand-written setter (SetRawField,
// which also validates the line and the value) against
// sjson.SetRawBytes (which validates neither) on the golden lines and on
// FuzzSetField's seed corpus. The figures are quoted in field.go.
func BenchmarkSetterVsSJSON(b *testing.B) {
	for _, set := range []struct {
		name  string
		cases []setCase
	}{{"golden", goldenSetCases(b)}, {"fuzz", fuzzSetCases(b)}} {
		paths := make([]string, len(set.cases))
		for i, c := range set.cases {
			paths[i] = gjson.Escape(c.key)
		}
		b.Run(set.name+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(set.cases)), "fields/op")
			for b.Loop() {
				for _, c := range set.cases {
					if _, err := SetRawField(c.raw, c.key, c.value); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(set.name+"/sjson", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(set.cases)), "fields/op")
			for b.Loop() {
				for i, c := range set.cases {
					// SetRawBytes may write into its input; a stage
					// must keep the line it read, so it copies.
					_, _ = sjson.SetRawBytes(bytes.Clone(c.raw), paths[i], c.value)
				}
			}
		})
	}
}
