package diff

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

// bigPair builds a baseline and a complete scan of hosts × ports open
// ports each (in 10.0.0.0/8, scope T:1-65535), with every 100th port
// moved by one between them and every 50th service upgraded, as a
// nightly scan of a large network might differ.
func bigPair(tb testing.TB, hosts, ports int) (*state.Baseline, *state.Scan) {
	tb.Helper()
	base := state.NewBaseline()
	base.ScanID, base.Time = "OLD", "2026-11-01T00:00:00.000000000Z"
	b := state.NewBuilder()
	b.Start("NEW", "2026-11-02T00:00:00.000000000Z", &event.Scope{Targets: []string{"10.0.0.0/8"}, Ports: "T:1-65535"})
	svc := []*event.Service{{Name: "http", Product: "nginx", Version: "1.22"}, {Name: "http", Product: "nginx", Version: "1.24"}}
	for h := range hosts {
		addr := netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)})
		bh := &state.Host{Addr: addr, State: state.HostUp, Reason: "syn-ack", FirstSeen: base.Time, LastSeen: base.Time, Ports: make([]state.Port, 0, ports)}
		b.HostSeen("NEW", state.Host{Addr: addr, State: state.HostUp, Reason: "syn-ack"})
		for p := range ports {
			num := uint16(1 + p*2)
			bh.Ports = append(bh.Ports, state.Port{Num: num, Proto: "tcp", State: state.StateOpen, Reason: "syn-ack", Service: svc[0], FirstSeen: base.Time, LastSeen: base.Time})
			cur := state.Port{Num: num, Proto: "tcp", State: state.StateOpen, Reason: "syn-ack", Service: svc[0]}
			if p%100 == 99 {
				cur.Num++
			}
			if p%50 == 0 {
				cur.Service = svc[1]
			}
			b.PortSeen("NEW", addr, "", cur)
		}
		base.Hosts[addr] = bh
	}
	b.End("NEW", true)
	s, err := b.Scan()
	if err != nil {
		tb.Fatal(err)
	}
	return base, s
}

// BenchmarkCompareMillion compares a 1,000,000-port baseline with a
// 1,000,000-port scan (1,000 hosts × 1,000 ports). live-MB is the heap in
// use with both inputs and the result alive.
func BenchmarkCompareMillion(b *testing.B) {
	base, cur := bigPair(b, 1000, 1000)
	opts := Options{Now: now}
	b.ReportAllocs()
	b.ResetTimer()
	var res Result
	cpu0 := cpuTime()
	for b.Loop() {
		res = Compare(base, cur, opts)
	}
	b.StopTimer()
	// CPU time is reported too: on a shared machine the wall time
	// includes waiting for a core.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if n := len(res.Changes); n != 1000*(10+20) {
		b.Fatalf("%d changes", n)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "live-MB")
	runtime.KeepAlive(res)
	runtime.KeepAlive(base)
	runtime.KeepAlive(cur)
}
