package baseline

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

// million is a baseline of 1,000 hosts × 1,000 open ports.
func million() *state.Baseline {
	b := state.NewBaseline()
	b.ScanID, b.Time = "01SCAN", "2026-11-01T02:00:00.000000000Z"
	svc := &event.Service{Name: "http", Product: "nginx", Version: "1.22"}
	for h := range 1000 {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(h >> 8), byte(h)})
		host := &state.Host{Addr: addr, State: "up", Reason: "syn-ack", FirstSeen: b.Time, LastSeen: b.Time}
		for p := range 1000 {
			host.Ports = append(host.Ports, state.Port{Num: uint16(1 + 2*p), Proto: "tcp", State: "open", Reason: "syn-ack",
				Service: svc, FirstSeen: b.Time, LastSeen: b.Time})
		}
		b.Hosts[addr] = host
	}
	return b
}

// BenchmarkWrite writes a 1,000,000-port baseline (about 190 MB).
func BenchmarkWrite(b *testing.B) {
	base := million()
	var buf bytes.Buffer
	if err := Write(&buf, base, "now"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, base, "now"); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// BenchmarkRead reads a 1,000,000-port baseline, checksum included.
func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, million(), "now"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(buf.Bytes()), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
