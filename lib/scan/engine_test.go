package scan

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/targets"
)

// recorder is an injected method that counts its probes: it answers
// nothing (every probe times out), or refuses at once with refuse. It
// sends no packets; the engine's bookkeeping is what is under test.
type recorder struct {
	refuse bool
	// onSend, if set, runs inside each Send with the running count.
	onSend func(n int)

	mu     sync.Mutex
	starts []time.Time
	ctx    context.Context
	late   int       // Sends that began after the scan was stopped
	stop   time.Time // when the scan's context ended
}

func (r *recorder) Proto() ports.Proto { return ports.TCP }

func (r *recorder) Start(ctx context.Context, _ Sink) (Session, error) {
	// Discovery and the port scan may start it side by side.
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.stop = time.Now()
		r.mu.Unlock()
	})
	return r, nil
}

func (r *recorder) Send(p Probe) (Result, bool) {
	now := time.Now()
	r.mu.Lock()
	r.starts = append(r.starts, now)
	n := len(r.starts)
	if !r.stop.IsZero() && now.Sub(r.stop) > time.Millisecond {
		r.late++
	}
	r.mu.Unlock()
	if r.onSend != nil {
		r.onSend(n)
	}
	if r.refuse {
		return Result{State: StateClosed, Reason: ReasonConnRefused}, true
	}
	return Result{}, false
}

func (r *recorder) Expire(Probe, bool) (Result, bool) { return Result{}, false }
func (r *recorder) Close() error                      { return nil }

func (r *recorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts)
}

func testTargets(t *testing.T, specs ...string) *targets.Set {
	t.Helper()
	set, err := targets.Build(context.Background(), targets.Config{Targets: targets.Args(specs, "argument")})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func testConfig(t *testing.T, m Method, portSpec string, specs ...string) (Config, *bytes.Buffer) {
	t.Helper()
	pl, err := ports.Parse(portSpec, ports.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	timing := DefaultTiming()
	timing.InitialRTO = 50 * time.Millisecond
	timing.FinalWait = 50 * time.Millisecond
	var buf bytes.Buffer
	return Config{
		Targets: testTargets(t, specs...), Ports: pl, Method: m,
		Concurrency: 512, Retries: 1, Timing: &timing, Seed: 1,
		Out: event.NewWriter(&buf), ScanID: "test",
	}, &buf
}

// maxInWindow is the most start times in any window of length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// TestRateIsAnUpperBound counts the probes that start in every 100 ms
// window: never more than rate×0.1 plus the burst, also when many probes
// time out together and free their slots at once.
func TestRateIsAnUpperBound(t *testing.T) {
	for _, rate := range []float64{200, 1000} {
		rec := &recorder{}
		cfg, _ := testConfig(t, rec, "1-100", "192.0.2.1-3")
		cfg.Rate = rate
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		ts := rec.times()
		if len(ts) < 600 {
			t.Fatalf("rate %g: %d probes, want at least 600 (every port tried twice)", rate, len(ts))
		}
		burst := newBucket(rate).burst
		limit := int(rate*0.1 + burst)
		if got := maxInWindow(ts, 100*time.Millisecond); got > limit {
			t.Errorf("rate %g: %d probes started within 100 ms, want at most %d", rate, got, limit)
		}
	}
}

// TestNothingSentAfterStop stops the scan from inside the method's
// 300th Send, with hundreds of probes waiting for slots, and counts the
// probes begun after the stop.
func TestNothingSentAfterStop(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	rec := &recorder{onSend: func(n int) {
		if n == 300 {
			cancel(errors.New("SIGINT"))
		}
	}}
	cfg, buf := testConfig(t, rec, "1-1000", "192.0.2.1-4")
	cfg.Concurrency = 64
	stats, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rec.late != 0 {
		t.Errorf("%d probes were sent after the stop", rec.late)
	}
	if n := len(rec.times()); stats.Probes != uint64(n) || n < 300 || n > 300+64 {
		t.Errorf("stats.probes %d, method saw %d; want about 300", stats.Probes, n)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"complete":false,"interrupted":"SIGINT"`)) {
		t.Errorf("no interrupted scan end:\n%s", buf.Bytes())
	}
}

// TestExcludedCountedWhenInterrupted stops scans of 1000 targets with no
// exclusions early: targets not reached are not excluded.
func TestExcludedCountedWhenInterrupted(t *testing.T) {
	for _, discover := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		rec := &recorder{refuse: true, onSend: func(n int) {
			if n == 50 {
				cancel()
			}
		}}
		cfg, _ := testConfig(t, rec, "1", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/25")
		cfg.Concurrency = 4
		if discover {
			cfg.Discovery = rec
			cfg.DiscoveryPorts = []uint16{80}
		}
		stats, err := Run(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if stats.Excluded != 0 || stats.HostsTotal == 0 || stats.HostsTotal >= 800 {
			t.Errorf("discovery %v: excluded %d, hosts_total %d; want 0 excluded and a few hosts reached", discover, stats.Excluded, stats.HostsTotal)
		}
	}
	// With exclusions, each excluded address is counted once reached.
	set, err := targets.Build(context.Background(), targets.Config{
		Targets: targets.Args([]string{"192.0.2.0/28"}, "argument"),
		Exclude: targets.Args([]string{"192.0.2.0/30"}, "--exclude"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, discover := range []bool{false, true} {
		rec := &recorder{refuse: true}
		cfg, _ := testConfig(t, rec, "1", "192.0.2.1")
		cfg.Targets = set
		if discover {
			cfg.Discovery = rec
		}
		stats, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Excluded != 4 || stats.HostsTotal != 12 || stats.HostsUp != 12 {
			t.Errorf("discovery %v: %+v, want 4 excluded, 12 hosts", discover, stats)
		}
	}
}

// TestMappedTargetsReportedAsIPv4 scans targets spelled ::ffff:a.b.c.d:
// events carry the IPv4 form.
func TestMappedTargetsReportedAsIPv4(t *testing.T) {
	rec := &recorder{refuse: true}
	cfg, buf := testConfig(t, rec, "1", "::ffff:192.0.2.7")
	cfg.AllStates = true
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("::ffff:")) || !bytes.Contains(buf.Bytes(), []byte(`"ip":"192.0.2.7","port":1`)) {
		t.Errorf("want the IPv4 form in events:\n%s", buf.Bytes())
	}
}

// TestHostEventBeforePorts checks, over many hosts found up in a random
// order, that each host's event comes before its port events.
func TestHostEventBeforePorts(t *testing.T) {
	for _, discover := range []bool{false, true} {
		rec := &recorder{refuse: true}
		cfg, buf := testConfig(t, rec, "1-20", "192.0.2.0/26")
		cfg.AllStates = true
		if discover {
			cfg.Discovery = rec
		}
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		hosts, ports := hostsBeforePorts(t, buf.Bytes())
		if hosts != 64 || ports != 64*20 {
			t.Errorf("discovery %v: %d hosts and %d ports, want 64 and 1280", discover, hosts, ports)
		}
	}
}

// hostsBeforePorts reads a scan's events and fails the test at a port
// event before its host's event or at a second event of one host; it
// returns how many hosts and ports the events report.
func hostsBeforePorts(t *testing.T, out []byte) (hosts, ports int) {
	t.Helper()
	rd := event.NewReader(bytes.NewReader(out), "out", event.ReaderOptions{Strict: true})
	seen := map[string]bool{}
	for {
		l, err := rd.Next()
		if err != nil {
			break
		}
		ip := l.Get("ip").String()
		switch l.Type {
		case "host":
			if seen[ip] {
				t.Fatalf("two host events for %s", ip)
			}
			seen[ip] = true
		case "port":
			ports++
			if !seen[ip] {
				t.Fatalf("port event of %s before its host event", ip)
			}
		}
	}
	return len(seen), ports
}

// TestSeedInScanStart checks that the start event records the seed.
func TestSeedInScanStart(t *testing.T) {
	cfg, buf := testConfig(t, &recorder{refuse: true}, "1", "192.0.2.1")
	cfg.Seed = 1<<53 - 1
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	if !bytes.Contains(first, []byte(`"phase":"start"`)) || !bytes.Contains(first, []byte(`"seed":9007199254740991`)) {
		t.Errorf("scan start lacks the seed: %s", first)
	}
}

// TestSameSeedSameOrder replays a scan's order from its seed.
func TestSameSeedSameOrder(t *testing.T) {
	order := func(seed uint64) []netip.AddrPort {
		var got []netip.AddrPort
		m := &orderRecorder{got: &got}
		cfg, _ := testConfig(t, m, "1-50", "192.0.2.1-8")
		cfg.Seed, cfg.Concurrency = seed, 1
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b, c := order(42), order(42), order(43)
	if !slices.Equal(a, b) || len(a) != 400 {
		t.Error("the same seed gave another order")
	}
	if slices.Equal(a, c) {
		t.Error("another seed gave the same order")
	}
}

type orderRecorder struct {
	mu  sync.Mutex
	got *[]netip.AddrPort
}

func (o *orderRecorder) Proto() ports.Proto                           { return ports.TCP }
func (o *orderRecorder) Start(context.Context, Sink) (Session, error) { return o, nil }
func (o *orderRecorder) Send(p Probe) (Result, bool) {
	o.mu.Lock()
	*o.got = append(*o.got, p.Dst)
	o.mu.Unlock()
	return Result{State: StateClosed, Reason: ReasonConnRefused}, true
}
func (o *orderRecorder) Expire(Probe, bool) (Result, bool) { return Result{}, false }
func (o *orderRecorder) Close() error                      { return nil }

// BenchmarkEngine runs the engine over all ports of one host with a
// method that refuses every probe at once: the engine's own cost per
// probe (ordering, timing, bookkeeping, events), without the kernel's.
func BenchmarkEngine(b *testing.B) {
	pl, _ := ports.Parse("-", ports.ParseOptions{})
	set, _ := targets.Build(context.Background(), targets.Config{Targets: targets.Args([]string{"192.0.2.1"}, "argument")})
	for b.Loop() {
		var buf bytes.Buffer
		cfg := Config{Targets: set, Ports: pl, Method: &orderRecorder{got: new([]netip.AddrPort)},
			Concurrency: 512, Retries: 1, Seed: 1, Out: event.NewWriter(&buf), ScanID: "bench"}
		if _, err := Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*65535), "ns/probe")
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestNothingSentAfterClosedStdout: when the output fails (the reader
// went away), the scan stops as on a signal and sends nothing more.
func TestNothingSentAfterClosedStdout(t *testing.T) {
	rec := &recorder{}
	cfg, _ := testConfig(t, rec, "1-1000", "192.0.2.1-4")
	cfg.AllStates = true
	cfg.Out = event.NewWriter(brokenPipe{})
	_, err := Run(context.Background(), cfg)
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("err = %v, want EPIPE", err)
	}
	if rec.late != 0 || len(rec.times()) > 600 {
		t.Errorf("%d probes in all, %d after the output failed; want none after", len(rec.times()), rec.late)
	}
}
