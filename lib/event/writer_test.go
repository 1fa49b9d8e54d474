package event

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWriterEncode(t *testing.T) {
	ttl := 64
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"port event", Port{Type: TypePort, Time: FormatTime(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)),
			ScanID: "S", IP: "127.0.0.1", Port: 22, Proto: "tcp", State: "open", Reason: "syn-ack", TTL: &ttl, RTTms: 0.5},
			`{"type":"port","time":"2026-01-02T03:04:05.000000006Z","scan_id":"S","ip":"127.0.0.1","port":22,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"rtt_ms":0.5}`},
		{"html not escaped", map[string]string{"type": "x", "s": "<a href=\"?a&b\">"}, `{"s":"<a href=\"?a&b\">","type":"x"}`},
		{"newline escaped", map[string]string{"type": "x", "s": "a\nb\r"}, `{"s":"a\nb\r","type":"x"}`},
		{"unicode kept", map[string]string{"type": "ü"}, `{"type":"ü"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			if err := w.Encode(tt.v); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("got  %q\nwant %q", got, tt.want+"\n")
			}
		})
	}
}

func TestWriterEncodeErrorWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Encode(map[string]any{"type": "x", "c": make(chan int)}); err == nil {
		t.Fatal("no error for an unencodable value")
	}
	if err := w.WriteLine([]byte(`{"type":"ok"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != `{"type":"ok"}`+"\n" {
		t.Errorf("got %q", got)
	}
}

func TestWriterWriteLine(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteLine([]byte("{\"a\":\n1}")); !errors.Is(err, ErrNewline) {
		t.Errorf("err = %v, want ErrNewline", err)
	}
	big := []byte(`{"type":"big","pad":"` + strings.Repeat("x", 3*writerBufSize) + `"}`)
	for _, l := range [][]byte{[]byte(`{"type":"a"}`), big, []byte(`{}`), nil} {
		if err := w.WriteLine(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"a"}` + "\n" + string(big) + "\n{}\n\n"
	if buf.String() != want {
		t.Errorf("output differs (%d bytes, want %d)", buf.Len(), len(want))
	}
}

// TestWriterBuffers checks that small output waits for Flush.
func TestWriterBuffers(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteLine([]byte(`{"type":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes before Flush", buf.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Error("Flush wrote nothing")
	}
}

// TestWriterBrokenPipe writes to a pipe whose reading end is closed: the
// error must let a caller recognise EPIPE.
func TestWriterBrokenPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	pr.Close()
	w := NewWriter(pw)
	if err := w.WriteLine([]byte(`{"type":"a"}`)); err != nil {
		t.Fatalf("buffered write failed early: %v", err)
	}
	err = w.Flush()
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Flush = %v, want EPIPE", err)
	}
	if err := w.WriteLine(bytes.Repeat([]byte("x"), 2*writerBufSize)); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("WriteLine after EPIPE = %v", err)
	}
	if err := w.Encode(1); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Encode after EPIPE = %v", err)
	}
}
