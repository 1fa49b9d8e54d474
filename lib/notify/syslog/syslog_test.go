package syslog

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/notifytest"
)

var clock = func() time.Time { return time.Date(2026, 11, 27, 6, 0, 0, 123456000, time.UTC) }

// rfc5424 matches a record: PRI, version, timestamp, host, app, procid,
// msgid, one SD element, and a one-line MSG.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[picket@32473(?: [a-z_]+="(?:[^"\\\]]|\\["\\\]])*")*\]) ([^\r\n]*)$`)

func checkRecords(t *testing.T, recs []string) {
	t.Helper()
	if len(recs) != 2 {
		t.Fatalf("%d records: %q", len(recs), recs)
	}
	for _, r := range recs {
		m := rfc5424.FindStringSubmatch(r)
		if m == nil {
			t.Fatalf("not RFC 5424: %q", r)
		}
		if m[2] != "2026-11-27T06:00:00.123456Z" || m[3] != "scanner1" || m[4] != "picket" || m[6] != "change" {
			t.Errorf("header of %q", r)
		}
		if strings.ContainsAny(r, "\x1b\x07\r\n") {
			t.Errorf("control characters in %q", r)
		}
	}
	// daemon (3) * 8 + crit (2) for the critical change, + warning (4).
	if !strings.HasPrefix(recs[0], "<26>1 ") || !strings.HasPrefix(recs[1], "<28>1 ") {
		t.Errorf("priorities: %q", recs)
	}
	if !strings.Contains(recs[0], `key="S1/digest"`) || !strings.Contains(recs[0], "10.0.0.7:8080/tcp +8080/tcp open http") {
		t.Errorf("record %q", recs[0])
	}
}

func alert() []string {
	return []string{notifytest.Hostile, notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := New(Options{Network: "udp", Addr: pc.LocalAddr().String(), Hostname: "scanner1", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), notifytest.Alert("S1/digest", alert()...)); err != nil {
		t.Fatal(err)
	}
	var recs []string
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(recs) < 2 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(buf[:n]))
	}
	checkRecords(t, recs)
}

// readFramed reads octet-counted records (RFC 6587) from a stream.
func readFramed(t *testing.T, l net.Listener, n int) []string {
	t.Helper()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	var recs []string
	for len(recs) < n {
		lenStr, err := br.ReadString(' ')
		if err != nil {
			t.Fatal(err)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
		if err != nil {
			t.Fatalf("bad frame length %q", lenStr)
		}
		rec := make([]byte, size)
		if _, err := io.ReadFull(br, rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(rec))
	}
	return recs
}

func TestSyslogTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, _ := New(Options{Network: "tcp", Addr: l.Addr().String(), Hostname: "scanner1", Now: clock})
	done := make(chan []string)
	go func() { done <- readFramed(t, l, 2) }()
	if err := s.Send(context.Background(), notifytest.Alert("S1/digest", alert()...)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, <-done)
}

func TestSyslogUnixDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	network, addr, err := ParseAddr("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(Options{Network: network, Addr: addr, Hostname: "scanner1", Now: clock})
	if err := s.Send(context.Background(), notifytest.Alert("S1/digest", alert()...)); err != nil {
		t.Fatal(err)
	}
	var recs []string
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(recs) < 2 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(buf[:n]))
	}
	checkRecords(t, recs)
}

func TestSyslogUnixStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, _ := New(Options{Network: "unix", Addr: path, Hostname: "scanner1", Now: clock})
	done := make(chan []string)
	go func() { done <- readFramed(t, l, 2) }()
	if err := s.Send(context.Background(), notifytest.Alert("S1/digest", alert()...)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, <-done)
}

func TestSyslogDown(t *testing.T) {
	s, _ := New(Options{Network: "tcp", Addr: "127.0.0.1:1", Now: clock})
	if err := s.Send(context.Background(), notifytest.Alert("k", alert()...)); err == nil {
		t.Fatal("no error with nobody listening")
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct{ in, network, addr string }{
		{"udp://127.0.0.1:514", "udp", "127.0.0.1:514"},
		{"tcp://[::1]:6514", "tcp", "[::1]:6514"},
		{"unix:///dev/log", "unix", "/dev/log"},
		{"/dev/log", "unix", "/dev/log"},
	}
	for _, tc := range tests {
		n, a, err := ParseAddr(tc.in)
		if err != nil || n != tc.network || a != tc.addr {
			t.Errorf("ParseAddr(%q) = %q %q %v", tc.in, n, a, err)
		}
	}
	for _, bad := range []string{"", "udp://host", "http://x:1", "unix://", "tcp://h:1/path", "127.0.0.1:514"} {
		if _, _, err := ParseAddr(bad); err == nil {
			t.Errorf("ParseAddr(%q): no error", bad)
		}
	}
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"udp://127.0.0.1:514", "unix:///dev/log", "/x", "tcp://[::1]:1", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, a, err := ParseAddr(s)
		if err == nil && (a == "" || (n != "udp" && n != "tcp" && n != "unix")) {
			t.Fatalf("ParseAddr(%q) = %q %q", s, n, a)
		}
	})
}

func TestSyslogLongBanner(t *testing.T) {
	s, _ := New(Options{Network: "udp", Addr: "127.0.0.1:514", Now: clock})
	long := strings.Replace(notifytest.Hostile, "+8080/tcp", "+8080/tcp "+strings.Repeat("é", 5000), 1)
	for _, r := range s.Records(notifytest.Alert("k", long)) {
		if len(r) > 2048 || !strings.HasSuffix(r, "…") {
			t.Errorf("record of %d bytes", len(r))
		}
	}
}
