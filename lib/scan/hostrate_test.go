package scan

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/ports"
)

// silentProbe is an injected method that answers nothing: every probe
// times out. It records when each probe to each address left, and how
// many were sent before the first timeout came due.
type silentProbe struct {
	mu       sync.Mutex
	sends    map[netip.Addr][]time.Time
	total    int
	expired  bool
	preFirst int // probes sent before the first Expire
}

func (m *silentProbe) Proto() ports.Proto                           { return ports.TCP }
func (m *silentProbe) Start(context.Context, Sink) (Session, error) { return m, nil }
func (m *silentProbe) Close() error                                 { return nil }
func (m *silentProbe) Send(p Probe) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sends == nil {
		m.sends = map[netip.Addr][]time.Time{}
	}
	m.sends[p.Dst.Addr()] = append(m.sends[p.Dst.Addr()], time.Now())
	m.total++
	if !m.expired {
		m.preFirst++
	}
	return Result{}, false
}
func (m *silentProbe) Expire(Probe, bool) (Result, bool) {
	m.mu.Lock()
	m.expired = true
	m.mu.Unlock()
	return Result{}, false
}

// TestMaxHostRate checks that no two probes to one host leave closer
// than --max-host-rate allows, for retries as for first tries, while
// the scan as a whole goes faster (several hosts at once).
func TestMaxHostRate(t *testing.T) {
	m := &silentProbe{}
	cfg, _ := testConfig(t, m, "1-20", "192.0.2.1-4")
	cfg.Timing.MinGap = 20 * time.Millisecond // --max-host-rate 50
	cfg.Timing.InitialRTO = 30 * time.Millisecond
	cfg.Retries = 2
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if len(m.sends) != 4 {
		t.Fatalf("probed %d hosts, want 4", len(m.sends))
	}
	for addr, ts := range m.sends {
		if len(ts) < 40 {
			t.Errorf("%s: %d probes, want 20 ports tried at least twice", addr, len(ts))
		}
		// The engine spaces the probes as it hands them out; a sender
		// delayed between that and Send may bunch one with the next,
		// hence the slack of one.
		if n := maxInWindow(ts, 100*time.Millisecond); n > 100/20+2 {
			t.Errorf("%s: %d probes within 100 ms, want at most %d", addr, n, 100/20+2)
		}
	}
}

// TestMinRate checks that --min-rate sends past the concurrency limit:
// with one probe allowed in flight and a host that answers nothing, a
// scan without it sends exactly one probe before the first timeout, and
// with it many.
func TestMinRate(t *testing.T) {
	for _, tt := range []struct {
		minRate float64
		atLeast int
		atMost  int
	}{
		{0, 1, 1},
		{2000, 10, 1 << 20},
	} {
		m := &silentProbe{}
		cfg, _ := testConfig(t, m, "1-20", "192.0.2.1")
		cfg.Concurrency = 1
		cfg.Retries = 0
		cfg.Timing.InitialRTO = 100 * time.Millisecond
		cfg.MinRate, cfg.MaxInFlight = tt.minRate, 1024
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if m.preFirst < tt.atLeast || m.preFirst > tt.atMost {
			t.Errorf("min rate %v: %d probes before the first timeout, want %d to %d", tt.minRate, m.preFirst, tt.atLeast, tt.atMost)
		}
		if m.total != 20 {
			t.Errorf("min rate %v: %d probes, want 20", tt.minRate, m.total)
		}
	}
}
