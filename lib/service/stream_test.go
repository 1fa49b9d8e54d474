package service

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// ftpBanner serves a fixed vsftpd banner on a new loopback port.
func ftpBanner(t *testing.T) uint16 {
	return serve(t, func(c net.Conn) {
		_, _ = c.Write([]byte("220 (vsFTPd 3.0.3)\r\n"))
		_, _ = io.Copy(io.Discard, c)
	})
}

// runStream feeds input through a Stream and returns the output.
func runStream(t *testing.T, cfg StreamConfig, input string) string {
	t.Helper()
	var out bytes.Buffer
	cfg.Out = event.NewWriter(&out)
	if cfg.Engine == nil {
		cfg.Engine = testEngine(t)
	}
	s := NewStream(context.Background(), cfg)
	rd := event.NewReader(strings.NewReader(input), "input", event.ReaderOptions{})
	for {
		line, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Submit(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestStreamGolden checks that lines the stage does not handle, and the
// fields it does not know, come out byte for byte and in order, and that
// open TCP ports gain a service object.
func TestStreamGolden(t *testing.T) {
	labnet.Require(t)
	port := strconv.Itoa(int(ftpBanner(t)))
	input, err := os.ReadFile("testdata/stream/input.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	got := runStream(t, StreamConfig{Concurrency: 4}, strings.ReplaceAll(string(input), "FTPPORT", port))
	got = strings.ReplaceAll(got, ":"+port+",", ":FTPPORT,")
	const golden = "testdata/stream/output.golden.ndjson"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	// Every line that is not an open port is the input line unchanged
	// (the reader drops only the line ends and the blank lines).
	in := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(input), "FTPPORT", "1")), "\n")
	outLines := strings.Split(strings.TrimSpace(strings.ReplaceAll(got, "FTPPORT", "1")), "\n")
	if len(in) != len(outLines) {
		t.Fatalf("%d lines in, %d out", len(in), len(outLines))
	}
	for i := range in {
		if strings.Contains(in[i], `"state":"open"`) && strings.Contains(in[i], `"type":"port"`) {
			if !strings.HasPrefix(outLines[i], strings.TrimSuffix(strings.SplitN(in[i], `"service"`, 2)[0], "}")) {
				t.Errorf("line %d: enriched line lost its prefix:\n%s\n%s", i+1, in[i], outLines[i])
			}
			continue
		}
		if in[i] != outLines[i] {
			t.Errorf("line %d changed:\n in %s\nout %s", i+1, in[i], outLines[i])
		}
	}
}

// orderInput builds lines for hosts 127.0.0.1 (a silent port first, then
// a fast one) and 127.0.0.2 (fast), framed by a scan start and end.
func orderInput(slow, fast uint16) string {
	l := func(ip string, port uint16, tag string) string {
		return `{"type":"port","ip":"` + ip + `","port":` + strconv.Itoa(int(port)) + `,"proto":"tcp","state":"open","tag":"` + tag + `"}` + "\n"
	}
	return `{"type":"scan","phase":"start","tag":"start"}` + "\n" +
		l("127.0.0.1", slow, "a1") + l("127.0.0.1", fast, "a2") +
		l("127.0.0.2", fast, "b1") +
		`{"type":"host","ip":"127.0.0.2","state":"up","tag":"b2"}` + "\n" +
		`{"type":"scan","phase":"end","tag":"end"}` + "\n"
}

func tags(out string) string {
	var ts []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		_, after, _ := strings.Cut(line, `"tag":"`)
		tag, _, _ := strings.Cut(after, `"`)
		ts = append(ts, tag)
	}
	return strings.Join(ts, " ")
}

func TestStreamOrder(t *testing.T) {
	labnet.Require(t)
	slow := serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	fast := ftpBanner(t)
	// 127.0.0.2 has nothing listening on the fast port: the connection is
	// refused at once, so its lines are ready long before 127.0.0.1's
	// silent port.
	input := orderInput(slow, fast)
	cfg := StreamConfig{Concurrency: 8, HostTimeout: time.Second}
	start := time.Now()
	if got := tags(runStream(t, cfg, input)); got != "start a1 a2 b1 b2 end" {
		t.Errorf("ordered: %s", got)
	}
	if d := time.Since(start); d > cfg.HostTimeout+3*time.Second {
		t.Errorf("a silent port held the stream for %v with a host timeout of %v", d, cfg.HostTimeout)
	}
	cfg.Unordered = true
	if got := tags(runStream(t, cfg, input)); got != "start b1 b2 a1 a2 end" {
		t.Errorf("unordered: %s, want host 127.0.0.2 first, host 127.0.0.1 in order, start and end in place", got)
	}
}

// TestStreamSmallWindow pushes many lines through a window of two.
func TestStreamSmallWindow(t *testing.T) {
	labnet.Require(t)
	fast := ftpBanner(t)
	var in, want strings.Builder
	for i := range 50 {
		if i%5 == 0 {
			in.WriteString(`{"type":"port","ip":"127.0.0.1","port":` + strconv.Itoa(int(fast)) + `,"proto":"tcp","state":"open","n":` + strconv.Itoa(i) + "}\n")
		} else {
			in.WriteString(`{"type":"note","ip":"127.0.0.` + strconv.Itoa(i%3+1) + `","n":` + strconv.Itoa(i) + "}\n")
		}
		want.WriteString(strconv.Itoa(i) + " ")
	}
	for _, unordered := range []bool{false, true} {
		out := runStream(t, StreamConfig{Concurrency: 3, Window: 2, Unordered: unordered}, in.String())
		var got strings.Builder
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			_, after, _ := strings.Cut(line, `"n":`)
			n, _, _ := strings.Cut(after, "}")
			n, _, _ = strings.Cut(n, ",")
			got.WriteString(n + " ")
		}
		if !unordered && got.String() != want.String() {
			t.Errorf("order %s", got.String())
		}
		if n := strings.Count(out, `"service":{"name":"ftp"`); n != 10 {
			t.Errorf("unordered=%v: %d ftp services, want 10", unordered, n)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("reader went away") }

// TestStreamWriteError checks that a failed output ends the stream
// without hanging.
func TestStreamWriteError(t *testing.T) {
	s := NewStream(context.Background(), StreamConfig{Engine: testEngine(t), Out: event.NewWriter(failWriter{}), Window: 1})
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = s.Submit(event.Line{Raw: bytes.Repeat([]byte("x"), 70000), Type: "note"})
	}
	cerr := s.Close()
	if err == nil || cerr == nil || !strings.Contains(cerr.Error(), "reader went away") {
		t.Errorf("submit %v, close %v; want the write error", err, cerr)
	}
}

// BenchmarkStreamPassThrough measures the cost per line that fingerprint
// does not probe: reorder window, writer and all.
func BenchmarkStreamPassThrough(b *testing.B) {
	line := []byte(`{"type":"host","time":"2026-11-25T17:08:25.507860866Z","scan_id":"01M89TW58Z5CKXSW2X4KS13FZ3","ip":"127.0.0.1","state":"up","reason":"conn-refused","rtt_ms":0.146}`)
	s := NewStream(context.Background(), StreamConfig{Engine: testEngine(b), Out: event.NewWriter(io.Discard)})
	for b.Loop() {
		if err := s.Submit(event.Line{Raw: line, Type: "host"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIdentifyBanner measures one port whose service talks first
// and matches at once (a vsftpd banner), through the whole engine.
func BenchmarkIdentifyBanner(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte("220 (vsFTPd 3.0.3)\r\n"))
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	e := testEngine(b)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	for b.Loop() {
		if r := e.Identify(context.Background(), Target{IP: "127.0.0.1", Port: port, Proto: TCP}); r.Service.Name != "ftp" {
			b.Fatalf("service %+v", r.Service)
		}
	}
}

// TestStreamCancel cancels the stream while a silent port is being
// probed: the stream must end promptly, and the line comes out unchanged.
func TestStreamCancel(t *testing.T) {
	labnet.Require(t)
	silent := serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	s := NewStream(ctx, StreamConfig{Engine: testEngine(t), Out: event.NewWriter(&out)})
	line := []byte(`{"type":"port","ip":"127.0.0.1","port":` + strconv.Itoa(int(silent)) + `,"proto":"tcp","state":"open"}`)
	if err := s.Submit(event.Line{Raw: line, Type: "port"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v after the cancel", d)
	}
	if got := out.String(); got != string(line)+"\n" {
		t.Errorf("output %q, want the line unchanged", got)
	}
}
