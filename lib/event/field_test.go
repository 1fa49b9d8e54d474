package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

func goldenLines(t testing.TB) [][]byte {
	t.Helper()
	in, err := os.ReadFile(filepath.Join("testdata", "passthrough.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(in, []byte{'\n'})
}

// closingBrace finds the closing brace of a one-object line independently
// of the code under test: the last '}' of the line.
func closingBrace(raw []byte) int { return bytes.LastIndexByte(raw, '}') }

// TestSetFieldAddKeepsBytes adds a field to every golden line and checks
// that the bytes before and after the insertion are the original ones.
func TestSetFieldAddKeepsBytes(t *testing.T) {
	keys := []struct {
		name, key, enc string
	}{
		{"plain", "banner", `"banner"`},
		{"dots", "a.b.c", `"a.b.c"`},
		{"wildcards", "*?", `"*?"`},
		{"quote and backslash", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"unicode", "schlüssel 鍵", `"schlüssel 鍵"`},
		{"html", "<&>", `"<&>"`},
		{"control", "tab\there", `"tab\there"`},
		{"gjson syntax", "#|@this", `"#|@this"`},
		{"empty", "", `""`},
	}
	value := map[string]any{"name": "ssh", "ok": true}
	const encValue = `{"name":"ssh","ok":true}`
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			for i, raw := range goldenLines(t) {
				if gjson.GetBytes(raw, gjson.Escape(k.key)).Exists() && k.key != "" {
					t.Fatalf("line %d already has %q", i+1, k.key)
				}
				out, err := SetField(raw, k.key, value)
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				c := closingBrace(raw)
				ins := k.enc + ":" + encValue
				if !bytes.HasPrefix(out, raw[:c]) {
					t.Fatalf("line %d: prefix changed:\n%s\n%s", i+1, raw, out)
				}
				if !bytes.HasSuffix(out, raw[c:]) {
					t.Fatalf("line %d: suffix changed:\n%s\n%s", i+1, raw, out)
				}
				mid := string(out[c : len(out)-len(raw)+c])
				if mid != ","+ins {
					t.Errorf("line %d: inserted %q, want %q", i+1, mid, ","+ins)
				}
				if !json.Valid(out) {
					t.Errorf("line %d: result is not valid JSON: %s", i+1, out)
				}
				if k.key != "" {
					if got := gjson.GetBytes(out, gjson.Escape(k.key)).Raw; got != encValue {
						t.Errorf("line %d: gjson finds %q", i+1, got)
					}
				}
			}
		})
	}
}

// TestSetFieldReplace replaces an existing field and checks that only that
// value's bytes changed.
func TestSetFieldReplace(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		key   string
		value any
		want  string
	}{
		{"string by number", `{"type":"port","state":"open","port":22}`, "state", 5,
			`{"type":"port","state":5,"port":22}`},
		{"object by string", `{"type":"p", "svc" : {"a":[1,{"b":"}"}]} , "z":1}`, "svc", "x",
			`{"type":"p", "svc" : "x" , "z":1}`},
		{"last field", `{"type":"p","n":1.5e3}`, "n", "long value",
			`{"type":"p","n":"long value"}`},
		{"first field", `{"type":"p","n":1}`, "type", "q",
			`{"type":"q","n":1}`},
		{"nested key of the same name untouched", `{"x":{"k":1},"k":2}`, "k", 3,
			`{"x":{"k":1},"k":3}`},
		{"key in a string value untouched", `{"a":"\"k\":1","k":true}`, "k", false,
			`{"a":"\"k\":1","k":false}`},
		{"escaped key name matches", `{"\u0074ype":"p","x":1}`, "type", "q",
			`{"\u0074ype":"q","x":1}`},
		{"escaped surrogate pair key", `{"\ud83e\udd80":1}`, "🦀", 2,
			`{"\ud83e\udd80":2}`},
		{"escaped quote key", `{"a\"b":1}`, `a"b`, 2,
			`{"a\"b":2}`},
		{"dotted key is one name", `{"a":{"b":1},"a.b":2}`, "a.b", 3,
			`{"a":{"b":1},"a.b":3}`},
		{"duplicates all replaced", `{"k":1,"x":0,"k":2}`, "k", 9,
			`{"k":9,"x":0,"k":9}`},
		{"null value", `{"k":null}`, "k", nil, `{"k":null}`},
		{"html not escaped", `{"k":1}`, "k", "<a&b>", `{"k":"<a&b>"}`},
		{"add to empty object", `{}`, "k", 1, `{"k":1}`},
		{"add to empty object with spaces", " { \t} ", "k", 1, " { \t\"k\":1} "},
		{"prefix of a key does not match", `{"kk":1}`, "k", 2, `{"kk":1,"k":2}`},
		{"key is a prefix of the name", `{"k":1}`, "kk", 2, `{"k":1,"kk":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetField([]byte(tt.raw), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}

// TestSetFieldReplaceKeepsBytes replaces each top-level field of each
// golden line and checks the bytes around the value.
func TestSetFieldReplaceKeepsBytes(t *testing.T) {
	for i, raw := range goldenLines(t) {
		res := gjson.ParseBytes(raw)
		res.ForEach(func(key, val gjson.Result) bool {
			out, err := SetRawField(raw, key.String(), []byte(`"NEW"`))
			if err != nil {
				t.Fatalf("line %d key %s: %v", i+1, key.Raw, err)
			}
			// gjson's Index is the value's offset when raw holds no
			// duplicates of the key before it.
			start := val.Index
			if start <= 0 || string(raw[start:start+len(val.Raw)]) != val.Raw {
				t.Fatalf("line %d: bad index for %s", i+1, key.Raw)
			}
			end := start + len(val.Raw)
			if countKey(raw, key.String()) > 1 {
				return true // covered by the duplicates table case
			}
			want := string(raw[:start]) + `"NEW"` + string(raw[end:])
			if string(out) != want {
				t.Errorf("line %d key %s:\ngot  %s\nwant %s", i+1, key.Raw, out, want)
			}
			return true
		})
	}
}

func countKey(raw []byte, key string) int {
	n := 0
	gjson.ParseBytes(raw).ForEach(func(k, _ gjson.Result) bool {
		if k.String() == key {
			n++
		}
		return true
	})
	return n
}

func TestSetFieldErrors(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		key   string
		value any
		want  error
	}{
		{"array", `[1,2]`, "k", 1, ErrNotObject},
		{"string", `"s"`, "k", 1, ErrNotObject},
		{"empty", ``, "k", 1, ErrNotObject},
		{"spaces", `   `, "k", 1, ErrNotObject},
		{"truncated", `{"a":1`, "k", 1, ErrNotObject},
		{"garbage after", `{"a":1} x`, "k", 1, ErrNotObject},
		{"two objects", `{}{}`, "k", 1, ErrNotObject},
		{"too deep", `{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, "k", 1, ErrNotObject},
		{"unencodable value", `{}`, "k", make(chan int), nil},
		{"invalid UTF-8 key", `{}`, "\xff", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetField([]byte(tt.raw), tt.key, tt.value)
			if err == nil {
				t.Fatalf("no error, got %s", out)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSetRawField(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr bool
	}{
		{"object", `{"a":[1,2]}`, `{"type":"p","v":{"a":[1,2]}}`, false},
		{"number", `-0`, `{"type":"p","v":-0}`, false},
		{"spaces kept", ` true `, `{"type":"p","v": true }`, false},
		{"empty", ``, "", true},
		{"invalid", `{"a":}`, "", true},
		{"two values", `1 2`, "", true},
		{"newline", "{\n}", "", true},
		{"carriage return", "{\r}", "", true},
		{"invalid UTF-8", "\"\xff\"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SetRawField([]byte(`{"type":"p"}`), "v", []byte(tt.value))
			if tt.wantErr {
				if !errors.Is(err, ErrBadValue) {
					t.Errorf("err = %v, got %s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got  %s\nwant %s", out, tt.want)
			}
		})
	}
}

// TestSetFieldDoesNotModifyInput checks that raw is left alone even when
// it has spare capacity.
func TestSetFieldDoesNotModifyInput(t *testing.T) {
	buf := make([]byte, 0, 64)
	buf = append(buf, `{"a":1}`...)
	out, err := SetField(buf, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf) != `{"a":1}` || string(buf[:cap(buf)][:7]) != `{"a":1}` {
		t.Errorf("input changed: %s", buf)
	}
	if &out[0] == &buf[0] {
		t.Error("result shares the input's memory")
	}
}

func BenchmarkSetField(b *testing.B) {
	raw := []byte(`{"type":"port","time":"2026-01-02T03:04:05.123456789Z","scan_id":"01JGZ7Q8K4X3V5M2N9P6R8T0WA","ip":"127.0.0.1","port":22,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"rtt_ms":0.042}`)
	svc := map[string]any{"name": "ssh", "product": "OpenSSH", "version": "9.6p1"}
	b.Run("add", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SetField(raw, "service", svc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("replace", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SetField(raw, "state", "closed"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		v := []byte(`{"name":"ssh","product":"OpenSSH","version":"9.6p1"}`)
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SetRawField(raw, "service", v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzSetField sets a field on arbitrary input and checks that the result
// is valid JSON holding the value under the key, with every other
// top-level field as it was, in the same order.
func FuzzSetField(f *testing.F) {
	f.Add([]byte(`{"type":"port","port":22}`), "service", "ssh")
	f.Add([]byte(`{"type":"port","state":"open"}`), "state", "closed")
	f.Add([]byte(` { } `), "a.b", "x")
	f.Add([]byte(`{"\u0074ype":"x","k":1,"k":{"k":2}}`), "k", "*")
	f.Add([]byte(`{"a\"b":[1,"]"],"c":-0,"d":1e400}`), `a"b`, "<&>")
	f.Add([]byte(`[1]`), "k", "v")
	f.Fuzz(func(t *testing.T, raw []byte, key, value string) {
		out, err := SetField(raw, key, value)
		if err != nil {
			if checkObject(raw) == nil && utf8.ValidString(key) {
				t.Fatalf("SetField(%q, %q): %v", raw, key, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("result is not valid JSON: %q", out)
		}
		enc, _ := marshal(value)
		// Field, the literal-key reader, finds what SetField set, on a
		// line the Reader accepts.
		if _, reason := validate(out); reason == "" {
			l := Line{Raw: out}
			if got := l.Field(key).Raw; got != string(enc) {
				t.Fatalf("Field(%q) = %q in %q, want %q", key, got, out, enc)
			}
		}
		if key != "" {
			if got := gjson.GetBytes(out, gjson.Escape(key)).Raw; got != string(enc) {
				t.Fatalf("gjson finds %q under %q in %q, want %q", got, key, out, enc)
			}
		}
		type field struct{ key, raw string }
		list := func(b []byte) (fs []field) {
			gjson.ParseBytes(b).ForEach(func(k, v gjson.Result) bool {
				fs = append(fs, field{k.String(), v.Raw})
				return true
			})
			return fs
		}
		before, after := list(raw), list(out)
		found := false
		for i := range before {
			if before[i].key == key {
				before[i].raw = string(enc)
				found = true
			}
		}
		if !found {
			before = append(before, field{key, string(enc)})
		}
		if len(before) != len(after) {
			t.Fatalf("fields before %q, after %q", before, after)
		}
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("field %d: want %q, got %q\nin  %q\nout %q", i, before[i], after[i], raw, out)
			}
		}
	})
}
