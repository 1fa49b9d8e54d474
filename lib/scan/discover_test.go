package scan

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
)

// phaseProbe is an injected method for one phase of a scan with
// discovery: it refuses every probe (the host is up, the port closed),
// after a pause, and tells the test about each probe it sends.
type phaseProbe struct {
	pause  time.Duration
	onSend func(netip.AddrPort)
}

func (m *phaseProbe) Proto() ports.Proto                           { return ports.TCP }
func (m *phaseProbe) Start(context.Context, Sink) (Session, error) { return m, nil }
func (m *phaseProbe) Expire(Probe, bool) (Result, bool)            { return Result{}, false }
func (m *phaseProbe) Close() error                                 { return nil }
func (m *phaseProbe) Send(p Probe) (Result, bool) {
	if m.onSend != nil {
		m.onSend(p.Dst)
	}
	if m.pause > 0 {
		time.Sleep(m.pause)
	}
	return Result{State: StateClosed, Reason: ReasonConnRefused}, true
}

// TestDiscoveryOverlapsPortScan checks that hosts found up are
// port-scanned while discovery goes on, and that discovery waits when
// the hosts it found pile up: however slow the port scan, no more than
// the queue's limit (and the hosts in flight in each phase) are held
// between the phases. Before the overlap, every target was pinged before
// the first port probe left, and every host found up was held at once.
func TestDiscoveryOverlapsPortScan(t *testing.T) {
	var (
		mu       sync.Mutex
		pinged   = map[netip.Addr]bool{}
		scanned  = map[netip.Addr]bool{}
		most     int // pinged but not yet port-scanned, at its highest
		overlap  atomic.Bool
		pingDone atomic.Int64
	)
	const hosts = 16384 // 10.0.0.0/18: no packet leaves, the methods are injected
	ping := &phaseProbe{onSend: func(d netip.AddrPort) {
		mu.Lock()
		pinged[d.Addr()] = true
		mu.Unlock()
		pingDone.Add(1)
	}}
	portScan := &phaseProbe{pause: 100 * time.Microsecond, onSend: func(d netip.AddrPort) {
		mu.Lock()
		defer mu.Unlock()
		if !scanned[d.Addr()] {
			scanned[d.Addr()] = true
			if len(pinged) < hosts {
				overlap.Store(true) // a port probe left before discovery was done
			}
		}
		most = max(most, len(pinged)-len(scanned))
	}}
	cfg, buf := testConfig(t, portScan, "1", "10.0.0.0/18")
	cfg.Discovery, cfg.DiscoveryPorts = ping, []uint16{80}
	cfg.Concurrency = 16
	cfg.AllStates = true // closed ports are written, to check their order
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.HostsUp != hosts || len(scanned) != hosts {
		t.Fatalf("%d hosts up, %d port-scanned; want %d", stats.HostsUp, len(scanned), hosts)
	}
	if !overlap.Load() {
		t.Error("no port probe left before discovery had pinged every target")
	}
	// The queue, the hosts being pinged and those being port-scanned.
	if bound := upQueueLimit + 2*cfg.Concurrency + finisherCount; most > bound {
		t.Errorf("%d hosts found up waited for the port scan at once; want at most %d", most, bound)
	}
	// Every host's event is there, before its port.
	if got, ports := hostsBeforePorts(t, buf.Bytes()); got != hosts || ports != hosts {
		t.Errorf("%d host events and %d port events, want %d of each", got, ports, hosts)
	}
}

// TestPortScanFailureStopsDiscovery checks that discovery does not run on
// (or wait forever on a full queue) when the port scan's method cannot
// start.
func TestPortScanFailureStopsDiscovery(t *testing.T) {
	var pings atomic.Int64
	ping := &phaseProbe{onSend: func(netip.AddrPort) { pings.Add(1) }}
	cfg, buf := testConfig(t, failingMethod{}, "1", "10.0.0.0/16")
	cfg.Discovery, cfg.DiscoveryPorts = ping, []uint16{80}
	done := make(chan struct{})
	var stats event.Stats
	go func() {
		defer close(done)
		stats, _ = Run(context.Background(), cfg)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the scan did not end after the port scan failed to start")
	}
	if stats.Errors == 0 || !bytes.Contains(buf.Bytes(), []byte(`"complete":false`)) {
		t.Errorf("want an incomplete scan with an error, got %+v", stats)
	}
}

// failingMethod cannot start, as a raw socket without the right does.
type failingMethod struct{}

func (failingMethod) Proto() ports.Proto { return ports.TCP }
func (failingMethod) Start(context.Context, Sink) (Session, error) {
	return nil, errNoStart
}

var errNoStart = errors.New("open raw socket: operation not permitted")
