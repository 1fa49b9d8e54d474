package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// readAll reads every line of r, collecting reported errors.
func readAll(t *testing.T, r io.Reader, name string, opts ReaderOptions) ([]Line, []*LineError, *Reader) {
	t.Helper()
	var reported []*LineError
	opts.Report = func(e *LineError) { reported = append(reported, e) }
	rd := NewReader(r, name, opts)
	var lines []Line
	for {
		l, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		lines = append(lines, l)
	}
	return lines, reported, rd
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestPassthrough reads the golden input and writes every line back: the
// output must be the input byte for byte, plus the final newline the last
// line lacks.
func TestPassthrough(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "passthrough.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if in[len(in)-1] == '\n' {
		t.Fatal("golden input must end without a newline")
	}
	lines, reported, rd := readAll(t, bytes.NewReader(in), "passthrough.ndjson", ReaderOptions{Strict: true})
	if len(reported) != 0 || rd.Skipped() != 0 {
		t.Fatalf("reported %v, skipped %d", reported, rd.Skipped())
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	for i, l := range lines {
		if l.Num != i+1 {
			t.Errorf("line %d: Num = %d", i+1, l.Num)
		}
		if want := gjsonType(l.Raw); l.Type != want {
			t.Errorf("line %d: Type = %q, want %q", i+1, l.Type, want)
		}
		if err := w.WriteLine(l.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := append(in, '\n')
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from input:\ngot:\n%s\nwant:\n%s", out.Bytes(), want)
	}
	if n := bytes.Count(in, []byte{'\n'}) + 1; len(lines) != n {
		t.Errorf("read %d lines, want %d", len(lines), n)
	}
}

func gjsonType(raw []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "(" + err.Error() + ")"
	}
	var s string
	_ = json.Unmarshal(m["type"], &s)
	return s
}

// TestMixedGolden reads an input of good, blank and bad lines and compares
// the lines written and the errors reported with golden files.
func TestMixedGolden(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "mixed.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, reported, rd := readAll(t, f, "mixed.ndjson", ReaderOptions{})
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, l := range lines {
		if err := w.WriteLine(l.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "mixed.golden.ndjson"), out.Bytes())

	var rep bytes.Buffer
	for _, e := range reported {
		fmt.Fprintln(&rep, e)
	}
	fmt.Fprintln(&rep, rd.Summary())
	checkGolden(t, filepath.Join("testdata", "mixed.golden.txt"), rep.Bytes())
	if rd.Skipped() != len(reported) {
		t.Errorf("Skipped = %d, reported %d", rd.Skipped(), len(reported))
	}
}

// lineResult is one outcome of Next, as the table tests expect them.
type lineResult struct {
	num    int
	typ    string // for a good line
	raw    string // for a good line; "" means the same as the input line
	reason string // for a bad line
}

func TestReaderLines(t *testing.T) {
	long := `{"type":"x","pad":"` + strings.Repeat("a", 100) + `"}`
	tests := []struct {
		name    string
		in      string
		maxLine int
		want    []lineResult
	}{
		{"empty input", "", 0, nil},
		{"one line", `{"type":"port"}` + "\n", 0, []lineResult{{num: 1, typ: "port"}}},
		{"no final newline", `{"type":"a"}` + "\n" + `{"type":"b"}`, 0,
			[]lineResult{{num: 1, typ: "a"}, {num: 2, typ: "b"}}},
		{"blank lines skipped but counted", "\n \t\n\r\n" + `{"type":"a"}` + "\n\n", 0,
			[]lineResult{{num: 4, typ: "a"}}},
		{"not JSON", "hello\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"array", "[1]\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"string", `"type"` + "\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"number", "42\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"truncated object", `{"type":"a"` + "\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"two objects", `{"type":"a"}{"type":"b"}` + "\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"trailing comma", `{"type":"a",}` + "\n", 0, []lineResult{{num: 1, reason: "not a JSON object"}}},
		{"invalid UTF-8", "{\"type\":\"a\",\"s\":\"\xc3\x28\"}\n", 0, []lineResult{{num: 1, reason: "not valid UTF-8"}}},
		{"missing type", `{"kind":"port"}` + "\n", 0, []lineResult{{num: 1, reason: `missing "type" field`}}},
		{"nested type only", `{"x":{"type":"port"}}` + "\n", 0, []lineResult{{num: 1, reason: `missing "type" field`}}},
		{"type number", `{"type":1}` + "\n", 0, []lineResult{{num: 1, reason: `"type" field is not a string`}}},
		{"type null", `{"type":null}` + "\n", 0, []lineResult{{num: 1, reason: `"type" field is not a string`}}},
		{"type object", `{"type":{"a":"b"}}` + "\n", 0, []lineResult{{num: 1, reason: `"type" field is not a string`}}},
		{"empty type", `{"type":""}` + "\n", 0, []lineResult{{num: 1, reason: `"type" field is empty`}}},
		{"escaped type value", `{"type":"p\u006frt"}` + "\n", 0, []lineResult{{num: 1, typ: "port"}}},
		{"CRLF stripped", `{"type":"a"}` + "\r\n" + `{"type":"b"}` + "\r\n", 0,
			[]lineResult{{num: 1, typ: "a", raw: `{"type":"a"}`}, {num: 2, typ: "b", raw: `{"type":"b"}`}}},
		{"only one CR stripped", `{"type":"a"}` + "\r\r\n", 0,
			[]lineResult{{num: 1, typ: "a", raw: `{"type":"a"}` + "\r"}}},
		{"CR at end of input", `{"type":"a"}` + "\r", 0,
			[]lineResult{{num: 1, typ: "a", raw: `{"type":"a"}`}}},
		{"surrounding spaces kept", ` {"type":"a"} ` + "\n", 0, []lineResult{{num: 1, typ: "a"}}},
		{"over-long in the middle", `{"type":"a"}` + "\n" + long + "\n" + `{"type":"b"}` + "\n", 64,
			[]lineResult{{num: 1, typ: "a"}, {num: 2, reason: "line longer than 64 bytes"}, {num: 3, typ: "b"}}},
		{"over-long at the end without newline", `{"type":"a"}` + "\n" + long, 64,
			[]lineResult{{num: 1, typ: "a"}, {num: 2, reason: "line longer than 64 bytes"}}},
		{"over-long at the end with newline", long + "\n", 64,
			[]lineResult{{num: 1, reason: "line longer than 64 bytes"}}},
		{"several over-long in a row", long + "\n" + long + "\n" + long + "\n" + `{"type":"c"}`, 64,
			[]lineResult{{num: 1, reason: "line longer than 64 bytes"}, {num: 2, reason: "line longer than 64 bytes"},
				{num: 3, reason: "line longer than 64 bytes"}, {num: 4, typ: "c"}}},
		{"exactly at the limit", `{"type":"abcde"}` + "\n" + `{"type":"abcdef"}` + "\n", 16,
			[]lineResult{{num: 1, typ: "abcde"}, {num: 2, reason: "line longer than 16 bytes"}}},
		{"CR does not count toward the limit", `{"type":"abcde"}` + "\r\n" + `{"type":"abcdef"}` + "\r\n", 16,
			[]lineResult{{num: 1, typ: "abcde", raw: `{"type":"abcde"}`}, {num: 2, reason: "line longer than 16 bytes"}}},
		{"CR does not count toward the limit at the end of the input", `{"type":"abcde"}` + "\r", 16,
			[]lineResult{{num: 1, typ: "abcde", raw: `{"type":"abcde"}`}}},
		{"CRLF line longer than the read buffer", `{"type":"big","pad":"` + strings.Repeat("a", 3*readSize) + `"}` + "\r\n" + `{"type":"b"}` + "\n", 0,
			[]lineResult{{num: 1, typ: "big", raw: `{"type":"big","pad":"` + strings.Repeat("a", 3*readSize) + `"}`}, {num: 2, typ: "b"}}},
		{"byte order mark on line 1", "\xef\xbb\xbf" + `{"type":"a"}` + "\r\n" + `{"type":"b"}`, 0,
			[]lineResult{{num: 1, typ: "a", raw: `{"type":"a"}`}, {num: 2, typ: "b"}}},
		{"byte order mark does not count toward the limit", "\xef\xbb\xbf" + `{"type":"abcde"}`, 16,
			[]lineResult{{num: 1, typ: "abcde", raw: `{"type":"abcde"}`}}},
		{"byte order mark alone on line 1", "\xef\xbb\xbf\n" + `{"type":"a"}`, 0,
			[]lineResult{{num: 2, typ: "a"}}},
		{"byte order mark on line 2", `{"type":"a"}` + "\n\xef\xbb\xbf" + `{"type":"b"}`, 0,
			[]lineResult{{num: 1, typ: "a"}, {num: 2, reason: "starts with a UTF-8 byte order mark (accepted on line 1 only)"}}},
		{"two byte order marks on line 1", "\xef\xbb\xbf\xef\xbb\xbf" + `{"type":"a"}`, 0,
			[]lineResult{{num: 1, reason: "starts with a UTF-8 byte order mark (accepted on line 1 only)"}}},
		{"type twice", `{"type":"port","ip":"::1","type":"host"}` + "\n", 0,
			[]lineResult{{num: 1, reason: `key "type" appears twice`}}},
		{"type twice, once escaped", `{"\u0074ype":"port","type":"host"}` + "\n", 0,
			[]lineResult{{num: 1, reason: `key "type" appears twice`}}},
		{"other key twice", `{"type":"port","port":22,"port":23}` + "\n", 0,
			[]lineResult{{num: 1, reason: `key "port" appears twice`}}},
		{"key twice after many keys", `{"type":"x",` + manyKeys(40) + `,"k7":1}` + "\n", 0,
			[]lineResult{{num: 1, reason: `key "k7" appears twice`}}},
		{"many distinct keys", `{"type":"x",` + manyKeys(40) + `}` + "\n", 0,
			[]lineResult{{num: 1, typ: "x"}}},
		{"same key nested is fine", `{"type":"a","x":{"type":"b"},"y":[{"type":"c"}]}` + "\n", 0,
			[]lineResult{{num: 1, typ: "a"}}},
		{"keys differing only by escapes are the same", `{"type":"a","\u00e9":1,"é":2}` + "\n", 0,
			[]lineResult{{num: 1, reason: `key "é" appears twice`}}},
		{"escaped empty type", `{"type":""}` + "\n", 0, []lineResult{{num: 1, reason: `"type" field is empty`}}},
		{"limit below bufio minimum", `{"type":"a"}` + "\n" + `{"type":"ab"}` + "\n", 12,
			[]lineResult{{num: 1, typ: "a"}, {num: 2, reason: "line longer than 12 bytes"}}},
		{"too deep", `{"type":"a","x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + "}\n", 0,
			[]lineResult{{num: 1, reason: "nested deeper than 10000 levels"}}},
		{"deep but allowed", `{"type":"a","x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + "}\n", 0,
			[]lineResult{{num: 1, typ: "a"}}},
	}
	for _, tt := range tests {
		for _, strict := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/strict=%v", tt.name, strict), func(t *testing.T) {
				var reported []*LineError
				rd := NewReader(strings.NewReader(tt.in), "in", ReaderOptions{
					MaxLine: tt.maxLine, Strict: strict,
					Report: func(e *LineError) { reported = append(reported, e) },
				})
				inLines := strings.Split(tt.in, "\n")
				var got []lineResult
				for {
					l, err := rd.Next()
					if err == io.EOF {
						break
					}
					var lerr *LineError
					switch {
					case errors.As(err, &lerr):
						if !strict {
							t.Fatalf("non-strict Next returned %v", err)
						}
						got = append(got, lineResult{num: lerr.Num, reason: lerr.Reason})
					case err != nil:
						t.Fatalf("Next: %v", err)
					default:
						raw := string(l.Raw)
						if l.Num <= len(inLines) && raw == inLines[l.Num-1] {
							raw = ""
						}
						got = append(got, lineResult{num: l.Num, typ: l.Type, raw: raw})
					}
					if len(got) > 100 {
						t.Fatal("too many results")
					}
				}
				if !strict {
					for _, e := range reported {
						if e.Input != "in" {
							t.Errorf("Input = %q", e.Input)
						}
						got = insertByNum(got, lineResult{num: e.Num, reason: e.Reason})
					}
				} else if len(reported) > 0 {
					t.Errorf("strict mode reported %v", reported)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
				bad := 0
				for _, w := range tt.want {
					if w.reason != "" {
						bad++
					}
				}
				if rd.Skipped() != bad {
					t.Errorf("Skipped = %d, want %d", rd.Skipped(), bad)
				}
				// EOF stays.
				if _, err := rd.Next(); err != io.EOF {
					t.Errorf("Next after EOF = %v", err)
				}
			})
		}
	}
}

// manyKeys returns n distinct fields "k0":0,"k1":1,... for an object.
func manyKeys(n int) string {
	fs := make([]string, n)
	for i := range fs {
		fs[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	return strings.Join(fs, ",")
}

func insertByNum(rs []lineResult, r lineResult) []lineResult {
	i := 0
	for i < len(rs) && rs[i].num < r.num {
		i++
	}
	return append(rs[:i], append([]lineResult{r}, rs[i:]...)...)
}

func TestLineError(t *testing.T) {
	tests := []struct {
		name string
		err  LineError
		want string
	}{
		{"stdin", LineError{"-", 3, "not a JSON object"}, "-:3: not a JSON object"},
		{"file", LineError{"scan.ndjson", 7, "line longer than 1048576 bytes"}, "scan.ndjson:7: line longer than 1048576 bytes"},
		{"missing type", LineError{"x.ndjson", 2, `missing "type" field`}, `x.ndjson:2: missing "type" field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"none", `{"type":"a"}` + "\n", ""},
		{"one", `{"type":"a"}` + "\nx\n", "-: skipped 1 bad line (line 2)"},
		{"several", "\n\n" + `{"type":"a"}` + "\nx\n[]\n{}\n", "-: skipped 3 bad lines (first at line 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, rd := readAll(t, strings.NewReader(tt.in), "-", ReaderOptions{})
			if got := rd.Summary(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReaderStrictContinues checks that a strict caller can look at the
// error and go on reading.
func TestReaderStrictContinues(t *testing.T) {
	rd := NewReader(strings.NewReader("{}\n"+`{"type":"a"}`+"\n"), "x.ndjson", ReaderOptions{Strict: true})
	_, err := rd.Next()
	var lerr *LineError
	if !errors.As(err, &lerr) {
		t.Fatalf("err = %v, want *LineError", err)
	}
	if got := err.Error(); got != `x.ndjson:1: missing "type" field` {
		t.Errorf("err = %q", got)
	}
	l, err := rd.Next()
	if err != nil || l.Type != "a" || l.Num != 2 {
		t.Fatalf("Next = %+v, %v", l, err)
	}
}

// TestReaderFreshRaw checks that each Raw is its own copy, not a view of
// the read buffer.
func TestReaderFreshRaw(t *testing.T) {
	rd := NewReader(strings.NewReader(`{"type":"a"}`+"\n"+`{"type":"b"}`+"\n"), "-", ReaderOptions{})
	l1, _ := rd.Next()
	l2, _ := rd.Next()
	if string(l1.Raw) != `{"type":"a"}` || string(l2.Raw) != `{"type":"b"}` {
		t.Fatalf("got %q %q", l1.Raw, l2.Raw)
	}
	if cap(l1.Raw) != len(l1.Raw) {
		t.Errorf("Raw has spare capacity %d: appending to it could clobber", cap(l1.Raw))
	}
}

type errReader struct {
	data  []byte
	err   error
	reads int
}

func (r *errReader) Read(p []byte) (int, error) {
	r.reads++
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	return 0, r.err
}

func TestReaderIOError(t *testing.T) {
	boom := errors.New("boom")
	src := &errReader{data: []byte(`{"type":"a"}` + "\n" + `{"type":"partial`), err: boom}
	rd := NewReader(src, "scan.ndjson", ReaderOptions{})
	if l, err := rd.Next(); err != nil || l.Type != "a" {
		t.Fatalf("Next = %+v, %v", l, err)
	}
	for range 2 {
		_, err := rd.Next()
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if got := err.Error(); got != "read scan.ndjson: boom" {
			t.Errorf("err = %q", got)
		}
	}
}

// TestReaderEOFSticky checks that once the input ended the Reader does not
// read again: on a terminal that would wait for more input.
func TestReaderEOFSticky(t *testing.T) {
	src := &errReader{data: []byte(`{"type":"a"}`), err: io.EOF}
	rd := NewReader(src, "-", ReaderOptions{})
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("err = %v", err)
		}
	}
	if src.reads != 2 {
		t.Errorf("underlying Read called %d times, want 2", src.reads)
	}
}

// patternReader yields n bytes of one long line followed by tail, without
// holding the line in memory.
type patternReader struct {
	head, tail []byte
	fill       byte
	n          int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		switch {
		case len(r.head) > 0:
			c := copy(p, r.head)
			r.head, p, total = r.head[c:], p[c:], total+c
		case r.n > 0:
			c := min(int64(len(p)), r.n)
			for i := range c {
				p[i] = r.fill
			}
			r.n -= c
			p, total = p[c:], total+int(c)
		case len(r.tail) > 0:
			c := copy(p, r.tail)
			r.tail, p, total = r.tail[c:], p[c:], total+c
		default:
			if total == 0 {
				return 0, io.EOF
			}
			return total, nil
		}
	}
	return total, nil
}

// TestReaderLongLineMemory feeds a 50 MiB line and checks that the Reader
// skips it while allocating little more than its own buffer.
func TestReaderLongLineMemory(t *testing.T) {
	const size = 50 << 20
	for _, tc := range []struct {
		name string
		tail string
		want int
	}{
		{"middle", "\"}\n" + `{"type":"after"}` + "\n", 1},
		{"end", "\"}", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &patternReader{head: []byte(`{"type":"big","pad":"`), fill: 'a', n: size, tail: []byte(tc.tail)}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			lines, reported, _ := readAll(t, src, "-", ReaderOptions{})
			runtime.ReadMemStats(&after)
			if len(reported) != 1 || reported[0].Num != 1 {
				t.Errorf("reported %v", reported)
			}
			if len(lines) != tc.want || tc.want == 1 && (lines[0].Type != "after" || lines[0].Num != 2) {
				t.Errorf("lines %+v", lines)
			}
			// The line buffer doubles up to the limit (and stops there),
			// about twice the limit in all, plus the read buffer.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*DefaultMaxLine {
				t.Errorf("allocated %d bytes for a %d-byte line, want at most %d", alloc, size, 3*DefaultMaxLine)
			}
		})
	}
}

// TestReaderLazyBuffer checks that a large line limit costs no memory
// until long lines come: the buffer grows as they need.
func TestReaderLazyBuffer(t *testing.T) {
	in := strings.Repeat(`{"type":"port","port":22}`+"\n", 100)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	lines, _, _ := readAll(t, strings.NewReader(in), "-", ReaderOptions{MaxLine: MaxMaxLine})
	runtime.ReadMemStats(&after)
	if len(lines) != 100 {
		t.Fatalf("read %d lines", len(lines))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*readSize {
		t.Errorf("allocated %d bytes with a %d-byte limit for short lines, want at most %d", alloc, MaxMaxLine, 2*readSize)
	}
}

// TestReaderNotice checks the one message about a dropped byte order mark.
func TestReaderNotice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"\xef\xbb\xbf" + `{"type":"a"}` + "\n" + `{"type":"b"}`, []string{"in:1: dropped the UTF-8 byte order mark at the start of the input"}},
		{`{"type":"a"}` + "\n\xef\xbb\xbf" + `{"type":"b"}`, nil},
		{`{"type":"a"}`, nil},
	} {
		var got []string
		rd := NewReader(strings.NewReader(tc.in), "in", ReaderOptions{Notice: func(m string) { got = append(got, m) }})
		for {
			if _, err := rd.Next(); err == io.EOF {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: notices %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLineField checks that Field takes a key literally where Get takes
// a gjson path.
func TestLineField(t *testing.T) {
	raw := `{"type":"port","a.b":1,"a":{"b":2},"*":3,"#":4,"@this":5,"":6,"q\"k":7,"\u00e9":8,"x|y":9,"port":22}`
	lines, _, _ := readAll(t, strings.NewReader(raw), "-", ReaderOptions{Strict: true})
	if len(lines) != 1 {
		t.Fatalf("read %d lines", len(lines))
	}
	l := lines[0]
	for _, tc := range []struct {
		key  string
		want string
	}{
		{"a.b", "1"}, {"a", `{"b":2}`}, {"*", "3"}, {"#", "4"}, {"@this", "5"}, {"", "6"}, {`q"k`, "7"},
		{"é", "8"}, {"x|y", "9"}, {"port", "22"}, {"type", `"port"`},
	} {
		got := l.Field(tc.key)
		if !got.Exists() || got.Raw != tc.want {
			t.Errorf("Field(%q) = %q (exists %v), want %q", tc.key, got.Raw, got.Exists(), tc.want)
		}
	}
	if got := l.Field("b"); got.Exists() {
		t.Errorf("Field(b) = %q, want none", got.Raw)
	}
	if got := l.Get("a.b").Raw; got != "2" {
		t.Errorf("Get(a.b) = %q, want the path's 2", got)
	}
	if l.Field("port").Int() != 22 || l.Field("type").String() != "port" {
		t.Error("typed accessors")
	}
}

// TestReaderAllocs checks that reading a line allocates only its Raw
// copy (and nothing for the common types).
func TestReaderAllocs(t *testing.T) {
	line := []byte(`{"type":"port","time":"2026-01-02T03:04:05.123456789Z","ip":"127.0.0.1","port":22,"state":"open"}` + "\n")
	src := &repeatReader{line: line}
	rd := NewReader(src, "-", ReaderOptions{})
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per line, want 1", allocs)
	}
}

// repeatReader yields line forever.
type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	const lines = 100_000
	for i := range lines {
		fmt.Fprintf(&buf, `{"type":"port","time":"2026-01-02T03:04:05.%09dZ","scan_id":"01JGZ7Q8K4X3V5M2N9P6R8T0WA","ip":"127.0.%d.%d","port":%d,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"rtt_ms":0.%03d}`+"\n",
			i, i/256%256, i%256, i%65536, i%1000)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rd := NewReader(bytes.NewReader(data), "-", ReaderOptions{})
		n := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != lines {
			b.Fatalf("read %d lines", n)
		}
	}
}

// FuzzReader reads arbitrary input and checks every line the Reader
// returns against the input and an independent JSON validator.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"type":"port","ip":"127.0.0.1","port":22}` + "\n",
		"\n \r\n" + `{"type":"a"}` + "\r\n" + `{"type":"b"}`,
		`{"type":""}` + "\n[1]\n\"s\"\n{}\n" + `{"type":7}`,
		"{\"type\":\"\xff\"}\n",
		`{"\u0074ype":"x","type":"y"}`,
		"\xef\xbb\xbf" + `{"type":"bom","a.b":1}` + "\r\n\xef\xbb\xbf{}",
		`{"type":"a","k":1,"k":2,"x":{"k":3}}`,
		`{"type":"a","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	} {
		f.Add([]byte(s), uint16(0))
	}
	f.Add([]byte(`{"type":"longer than the limit"}`+"\n"+`{"type":"a"}`), uint16(20))
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16) {
		var reported []*LineError
		rd := NewReader(bytes.NewReader(data), "fuzz", ReaderOptions{
			MaxLine: int(maxLine),
			Report:  func(e *LineError) { reported = append(reported, e) },
		})
		limit := int(maxLine)
		if limit == 0 {
			limit = DefaultMaxLine
		}
		inLines := bytes.Split(data, []byte{'\n'})
		if len(inLines) > 0 && len(inLines[len(inLines)-1]) == 0 {
			inLines = inLines[:len(inLines)-1]
		}
		// content is an input line as the Reader sees it: without its
		// "\r" and, on line 1, without a byte order mark.
		content := func(num int) []byte {
			c := bytes.TrimSuffix(inLines[num-1], []byte{'\r'})
			if num == 1 {
				c = bytes.TrimPrefix(c, []byte("\xef\xbb\xbf"))
			}
			return c
		}
		seen := map[int]bool{}
		last := 0
		for {
			l, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if l.Num <= last || l.Num > len(inLines) {
				t.Fatalf("Num %d after %d, input has %d lines", l.Num, last, len(inLines))
			}
			last = l.Num
			seen[l.Num] = true
			if bytes.IndexByte(l.Raw, '\n') >= 0 {
				t.Fatalf("Raw contains a newline: %q", l.Raw)
			}
			if want := content(l.Num); !bytes.Equal(l.Raw, want) {
				t.Fatalf("line %d: Raw %q, input %q", l.Num, l.Raw, want)
			}
			if len(l.Raw) > limit {
				t.Fatalf("line %d of %d bytes returned, limit %d", l.Num, len(l.Raw), limit)
			}
			if hasDupKeys(l.Raw) {
				t.Fatalf("line %d repeats a key and was returned: %q", l.Num, l.Raw)
			}
			var m map[string]json.RawMessage
			if !json.Valid(l.Raw) || json.Unmarshal(l.Raw, &m) != nil {
				t.Fatalf("line %d is not a JSON object: %q", l.Num, l.Raw)
			}
			if l.Type == "" || l.Type != gjson.GetBytes(l.Raw, "type").Str {
				t.Fatalf("line %d: Type %q in %q", l.Num, l.Type, l.Raw)
			}
			var typ string
			if json.Unmarshal(m["type"], &typ) != nil || typ != l.Type {
				t.Fatalf("line %d: encoding/json finds type %q in %q, the Reader %q", l.Num, typ, l.Raw, l.Type)
			}
			// Field finds every key as encoding/json decodes it.
			for k, v := range m {
				if got := l.Field(k); !got.Exists() || got.Raw != string(v) {
					t.Fatalf("line %d: Field(%q) = %q, encoding/json %q", l.Num, k, got.Raw, v)
				}
			}
		}
		for _, e := range reported {
			if seen[e.Num] || e.Num < 1 || e.Num > len(inLines) {
				t.Fatalf("bad line %d reported twice or out of range", e.Num)
			}
			seen[e.Num] = true
		}
		if rd.Skipped() != len(reported) {
			t.Fatalf("Skipped %d, reported %d", rd.Skipped(), len(reported))
		}
		// Every line neither returned nor reported must be blank, and
		// every short, well-formed event must have been returned.
		for i, in := range inLines {
			num := i + 1
			line := content(num)
			if !seen[num] && len(bytes.Trim(line, " \t\r")) != 0 {
				t.Fatalf("line %d %q neither returned nor reported", num, in)
			}
			if len(line) <= limit && len(line) <= maxDepth && utf8.Valid(line) && json.Valid(line) {
				var m map[string]json.RawMessage
				if json.Unmarshal(line, &m) == nil && !seen[num] {
					t.Fatalf("valid object on line %d %q dropped silently", num, in)
				}
				if json.Unmarshal(line, &m) == nil && !hasDupKeys(line) {
					var typ string
					ok := json.Unmarshal(m["type"], &typ) == nil && typ != ""
					wasBad := false
					for _, e := range reported {
						if e.Num == num {
							wasBad = true
						}
					}
					if ok == wasBad {
						t.Fatalf("line %d %q: good event %v, reported bad %v", num, in, ok, wasBad)
					}
				}
			}
		}
	})
}

// hasDupKeys reports whether the object line repeats a top-level key, where
// gjson (first wins) and encoding/json (last wins) disagree.
func hasDupKeys(line []byte) bool {
	keys := map[string]bool{}
	dup := false
	gjson.ParseBytes(line).ForEach(func(k, _ gjson.Result) bool {
		dup = dup || keys[k.String()]
		keys[k.String()] = true
		return !dup
	})
	return dup
}
