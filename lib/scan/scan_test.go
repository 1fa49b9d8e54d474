package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

func TestMain(m *testing.M) { labnet.Main(m) }

type result struct {
	start event.ScanStart
	end   event.ScanEnd
	hosts []event.Host
	ports []event.Port
	raw   []string
}

// portState returns the reported state of ip:port, or "" if none.
func (r result) portState(ip string, port uint16) string {
	for _, p := range r.ports {
		if p.IP == ip && p.Port == port {
			return p.State + "/" + p.Reason
		}
	}
	return ""
}

func parse(t *testing.T, out []byte) result {
	t.Helper()
	var r result
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		r.raw = append(r.raw, string(line))
		var head struct{ Type, Phase string }
		if err := json.Unmarshal(line, &head); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, line)
		}
		var err error
		switch {
		case head.Type == "scan" && head.Phase == "start":
			err = json.Unmarshal(line, &r.start)
		case head.Type == "scan" && head.Phase == "end":
			err = json.Unmarshal(line, &r.end)
		case head.Type == "host":
			var h event.Host
			err = json.Unmarshal(line, &h)
			r.hosts = append(r.hosts, h)
		case head.Type == "port":
			var p event.Port
			err = json.Unmarshal(line, &p)
			r.ports = append(r.ports, p)
		default:
			t.Fatalf("line %d has unexpected type %q", i+1, head.Type)
		}
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	if r.start.ScanID == "" || r.end.ScanID != r.start.ScanID {
		t.Fatalf("scan start/end missing or with different ids:\n%s", out)
	}
	if r.raw[0] != mustJSON(t, r.start) {
		t.Fatalf("first line is not the scan start: %s", r.raw[0])
	}
	if r.raw[len(r.raw)-1] != mustJSON(t, r.end) {
		t.Fatalf("last line is not the scan end: %s", r.raw[len(r.raw)-1])
	}
	for _, h := range r.hosts {
		if h.ScanID != r.start.ScanID {
			t.Fatalf("host event with another scan id: %+v", h)
		}
	}
	for _, p := range r.ports {
		if p.ScanID != r.start.ScanID || p.Proto != "tcp" {
			t.Fatalf("bad port event: %+v", p)
		}
	}
	return r
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeResolver answers from a fixed table; no DNS traffic leaves the
// test.
type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (f fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	for name, a := range f {
		if a == addr {
			return []string{name + "."}, nil
		}
	}
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

// fastTiming keeps the tests short: a dropped port costs 300 ms.
var fastTiming = func() scan.Timing {
	t := scan.DefaultTiming()
	t.InitialRTO = 300 * time.Millisecond
	t.FinalWait = 300 * time.Millisecond
	return t
}()

func baseOptions(ports string, targets ...string) scan.Options {
	return scan.Options{
		Targets:     targets,
		Ports:       ports,
		NoPing:      true,
		NoDNS:       true,
		Concurrency: 64,
		Retries:     1,
		Timeout:     300 * time.Millisecond,
		Timing:      &fastTiming,
		Methods:     methods.List(),
		Resolver:    fakeResolver{},
		Tool:        event.Tool{Name: "picket-probe", Version: "test"},
	}
}

func runScan(t *testing.T, ctx context.Context, o scan.Options) (result, event.Stats, error) {
	t.Helper()
	labnet.Require(t)
	var buf bytes.Buffer
	o.Out = event.NewWriter(&buf)
	cfg, err := scan.Setup(ctx, o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	stats, err := scan.Run(ctx, cfg)
	return parse(t, buf.Bytes()), stats, err
}

func TestScanReportsPortStates(t *testing.T) {
	labnet.Require(t)
	open1 := labnet.Listen(t, "127.0.0.1:0").Port
	open2 := labnet.Listen(t, "127.0.0.1:0").Port
	closed := labnet.ClosedPort(t)
	filtered := labnet.DropPort(t)
	spec := fmt.Sprintf("%d,%d,%d,%d", open1, open2, closed, filtered)

	tests := []struct {
		name      string
		allStates bool
		want      map[uint16]string
	}{
		{"open only by default", false, map[uint16]string{
			open1: "open/syn-ack", open2: "open/syn-ack", closed: "", filtered: "",
		}},
		{"all states", true, map[uint16]string{
			open1: "open/syn-ack", open2: "open/syn-ack", closed: "closed/conn-refused", filtered: "filtered/no-response",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions(spec, "127.0.0.1")
			o.AllStates = tc.allStates
			r, stats, err := runScan(t, context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			for port, want := range tc.want {
				if got := r.portState("127.0.0.1", port); got != want {
					t.Errorf("port %d: got %q, want %q", port, got, want)
				}
			}
			wantPorts := 2
			if tc.allStates {
				wantPorts = 4
			}
			if len(r.ports) != wantPorts {
				t.Errorf("got %d port events, want %d:\n%v", len(r.ports), wantPorts, r.raw)
			}
			if !r.end.Complete || r.end.Interrupted != "" {
				t.Errorf("scan end: complete=%v interrupted=%q, want a complete scan", r.end.Complete, r.end.Interrupted)
			}
			want := event.Stats{HostsTotal: 1, HostsUp: 1, Open: 2, Closed: 1, Filtered: 1, Probes: 5, Retries: 1}
			stats.ElapsedMS = 0
			if stats != want {
				t.Errorf("stats = %+v, want %+v", stats, want)
			}
			if len(r.hosts) != 1 || r.hosts[0].State != "up" || r.hosts[0].IP != "127.0.0.1" {
				t.Errorf("host events = %+v, want 127.0.0.1 up", r.hosts)
			}
			sc := r.start.Scope
			if sc.Method != "connect" || sc.Discovery != "none" || !slices.Equal(sc.Targets, []string{"127.0.0.1"}) {
				t.Errorf("scope = %+v", sc)
			}
			if r.start.Schema != event.SchemaVersion || r.start.Tool.Name != "picket-probe" {
				t.Errorf("scan start = %+v", r.start)
			}
		})
	}
}

func TestScanHonoursExclusions(t *testing.T) {
	labnet.Require(t)
	// One listener on every loopback address; it records which
	// addresses were reached.
	ln := labnet.Listen(t, "0.0.0.0:0")
	o := baseOptions(strconv.Itoa(int(ln.Port)), "127.0.0.1-6")
	o.Exclude = []string{"127.0.0.2", "127.0.0.4-5"}
	r, stats, err := runScan(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.ports {
		got = append(got, p.IP)
	}
	slices.Sort(got)
	want := []string{"127.0.0.1", "127.0.0.3", "127.0.0.6"}
	if !slices.Equal(got, want) {
		t.Errorf("open on %v, want %v", got, want)
	}
	for _, a := range ln.Hits() {
		if s := a.String(); s == "127.0.0.2" || s == "127.0.0.4" || s == "127.0.0.5" {
			t.Errorf("excluded address %s was probed", s)
		}
	}
	if stats.Excluded != 3 || stats.HostsTotal != 3 {
		t.Errorf("stats: excluded=%d hosts_total=%d, want 3 and 3", stats.Excluded, stats.HostsTotal)
	}
	if !slices.Equal(r.start.Scope.Exclude, []string{"127.0.0.2", "127.0.0.4-5"}) {
		t.Errorf("scope exclude = %v", r.start.Scope.Exclude)
	}
}

func TestScanDiscoveryAndNames(t *testing.T) {
	labnet.Require(t)
	port := labnet.Listen(t, "0.0.0.0:0").Port
	o := baseOptions(strconv.Itoa(int(port)), "lab.test", "127.0.0.2")
	o.NoPing = false
	o.NoDNS = false
	o.Resolver = fakeResolver{"lab.test": "127.0.0.1", "two.lab.test": "127.0.0.2"}
	r, stats, err := runScan(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.start.Scope.Discovery != "tcp-connect:80,443" {
		t.Errorf("discovery = %q", r.start.Scope.Discovery)
	}
	hosts := map[string]event.Host{}
	for _, h := range r.hosts {
		hosts[h.IP] = h
	}
	// Ports 80 and 443 are closed in the namespace: a refused connect
	// proves the host is up.
	if h := hosts["127.0.0.1"]; h.State != "up" || h.Reason != "conn-refused" || h.Hostname != "lab.test" {
		t.Errorf("host 127.0.0.1 = %+v", h)
	}
	if h := hosts["127.0.0.2"]; h.State != "up" || h.Hostname != "two.lab.test" {
		t.Errorf("host 127.0.0.2 = %+v, want up with its reverse name", h)
	}
	// Port events carry the name the target was given as.
	for _, p := range r.ports {
		want := map[string]string{"127.0.0.1": "lab.test", "127.0.0.2": ""}[p.IP]
		if p.Hostname != want {
			t.Errorf("port event %s hostname %q, want %q", p.IP, p.Hostname, want)
		}
	}
	// A ping stops at its first answer: one or two probes per host,
	// then one per port.
	if len(r.ports) != 2 || stats.HostsUp != 2 || stats.Probes < 4 || stats.Probes > 6 {
		t.Errorf("ports=%d stats=%+v; want 2 open ports, 2 hosts up, 4 to 6 probes", len(r.ports), stats)
	}
}

func TestScanIPv6(t *testing.T) {
	labnet.Require(t)
	port := labnet.Listen(t, "[::1]:0").Port
	o := baseOptions(fmt.Sprintf("%d,%d", port, labnet.ClosedPort(t)), "::1")
	r, _, err := runScan(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ports) != 1 || r.ports[0].IP != "::1" || r.ports[0].Port != port {
		t.Errorf("ports = %+v, want ::1 port %d open", r.ports, port)
	}
}

// watchWriter collects events and calls fn with each line as it is
// written.
type watchWriter struct {
	bytes.Buffer
	fn func(line []byte)
}

func (w *watchWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSuffix(p, []byte("\n")), []byte("\n")) {
		w.fn(line)
	}
	return w.Buffer.Write(p)
}

// TestScanInterrupted stops a scan while it waits on a dropped port:
// 127.0.0.2 refuses both ports and is written at once; the stop comes on
// its port events, while 127.0.0.1 still waits.
func TestScanInterrupted(t *testing.T) {
	labnet.Require(t)
	open := labnet.Listen(t, "127.0.0.1:0").Port
	filtered := labnet.DropPort(t)
	o := baseOptions(fmt.Sprintf("%d,%d", open, filtered), "127.0.0.1", "127.0.0.2")
	o.AllStates = true
	slow := fastTiming
	slow.InitialRTO, slow.FinalWait = 30*time.Second, 30*time.Second
	o.Timing = &slow
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	w := &watchWriter{fn: func(line []byte) {
		if bytes.Contains(line, []byte(`"ip":"127.0.0.2","port"`)) {
			cancel(errors.New("SIGINT"))
		}
	}}
	o.Out = event.NewWriter(w)
	cfg, err := scan.Setup(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := scan.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("scan took %v; it must stop promptly when cancelled", took)
	}
	r := parse(t, w.Bytes())
	if r.end.Complete || r.end.Interrupted != "SIGINT" {
		t.Errorf("scan end = %+v, want complete=false interrupted=SIGINT", r.end)
	}
	if r.portState("127.0.0.1", open) != "open/syn-ack" {
		t.Errorf("the open port found before the interrupt was not reported: %v", r.raw)
	}
}

// failWriter fails every write, as a closed stdout does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestScanStopsOnWriteError(t *testing.T) {
	labnet.Require(t)
	o := baseOptions("1-2000", "127.0.0.1")
	o.AllStates = true
	o.Out = event.NewWriter(failWriter{})
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := scan.Run(context.Background(), cfg)
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("err = %v, want EPIPE", err)
	}
	if stats.Probes >= 2000 {
		t.Errorf("sent %d probes after the output failed; want the scan to stop", stats.Probes)
	}
}

func TestSetupRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*scan.Options)
		want  string
		usage bool // a *UsageError (exit 2), else a failure of the moment (exit 1)
	}{
		{"unknown method", func(o *scan.Options) { o.Method = "bogus" }, `bad Method bogus: unknown method (available: connect, syn, udp)`, true},
		{"udp ports only", func(o *scan.Options) { o.Ports = "U:53" }, "udp ports need a udp method", true},
		{"bad port", func(o *scan.Options) { o.Ports = "70000" }, "bad port spec", true},
		{"ports and top", func(o *scan.Options) { o.TopPorts = 10 }, "bad TopPorts 10: cannot be used with a port spec", true},
		{"no targets", func(o *scan.Options) { o.Targets = nil }, "no targets", true},
		{"bad target", func(o *scan.Options) { o.Targets = []string{"10.0.0.300"} }, "argument 1", true},
		{"negative concurrency", func(o *scan.Options) { o.Concurrency = -1 }, "bad Concurrency -1", true},
		{"zero timeout", func(o *scan.Options) { o.Timing = nil; o.Timeout = 0 }, "bad Timeout 0s", true},
		{"too large", func(o *scan.Options) { o.Targets = []string{"2001:db8::/66"}; o.Ports = "-" }, "too large to scan", true},
		{"everything excluded ports", func(o *scan.Options) { o.ExcludePorts = "1-100" }, "no ports left", true},
		{"missing list", func(o *scan.Options) { o.InputList = "/nonexistent/list" }, "/nonexistent/list", false},
		{"list is a directory", func(o *scan.Options) { o.InputList = t.TempDir() }, "is a directory", false},
		{"target name does not resolve", func(o *scan.Options) { o.Targets = []string{"nowhere.test"} }, "no target name resolved", false},
		{"exclusion name does not resolve", func(o *scan.Options) { o.Exclude = []string{"nowhere.test"} }, `resolve exclusion "nowhere.test"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions("80", "127.0.0.1")
			tc.edit(&o)
			o.Out = event.NewWriter(&bytes.Buffer{})
			_, err := scan.Setup(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			var ue *scan.UsageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v: %v", !tc.usage, tc.usage, err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("lib/scan names a flag: %v", err)
			}
		})
	}
}

// TestSetupLeavesOutOtherProtocols scans the TCP part of a spec with
// UDP ports and says so.
func TestSetupLeavesOutOtherProtocols(t *testing.T) {
	var logs bytes.Buffer
	o := baseOptions("T:80,U:53,161", "127.0.0.1")
	o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	o.Out = event.NewWriter(io.Discard)
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Ports.String(); got != "T:80" || cfg.Scope.Ports != "T:80" {
		t.Errorf("ports %q, scope %q; want T:80", got, cfg.Scope.Ports)
	}
	if !strings.Contains(logs.String(), "2 udp ports left out: method connect probes tcp only") {
		t.Errorf("no note about the UDP ports:\n%s", logs.String())
	}
}

func TestScanRateLimit(t *testing.T) {
	labnet.Require(t)
	// 60 closed ports at 40 probes per second cannot finish in less
	// than about a second and a half, however fast the machine.
	o := baseOptions("1-60", "127.0.0.1")
	o.Rate = 40
	began := time.Now()
	_, stats, err := runScan(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Probes != 60 {
		t.Fatalf("probes = %d, want 60", stats.Probes)
	}
	if took := time.Since(began); took < 1200*time.Millisecond {
		t.Errorf("60 probes at --rate 40 took %v; the limit was not applied", took)
	}
}

func TestScanUnreachableHosts(t *testing.T) {
	labnet.Route(t, "unreachable", "127.77.0.0/16")
	labnet.Route(t, "prohibit", "127.78.0.0/16")
	port := labnet.Listen(t, "127.0.0.1:0").Port
	targets := []string{"127.77.0.1", "127.78.0.1", "127.0.0.1"}

	t.Run("discovery reports down hosts", func(t *testing.T) {
		o := baseOptions(strconv.Itoa(int(port)), targets...)
		o.NoPing, o.AllStates = false, true
		r, stats, err := runScan(t, context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, h := range r.hosts {
			got[h.IP] = h.State + "/" + h.Reason
		}
		want := map[string]string{
			"127.77.0.1": "down/host-unreach",
			"127.78.0.1": "down/admin-prohibited",
			"127.0.0.1":  "up/conn-refused",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("hosts = %v, want %v", got, want)
		}
		// Down hosts get no port probes.
		if len(r.ports) != 1 || r.ports[0].IP != "127.0.0.1" || stats.HostsUp != 1 || stats.HostsTotal != 3 {
			t.Errorf("ports %+v stats %+v; want only 127.0.0.1 scanned", r.ports, stats)
		}
		if !r.end.Complete {
			t.Error("an unreachable host is a result, not an error: the scan is complete")
		}
	})
	t.Run("without discovery the ports are filtered", func(t *testing.T) {
		o := baseOptions(strconv.Itoa(int(port)), targets...)
		o.AllStates = true
		r, stats, err := runScan(t, context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.portState("127.77.0.1", port); got != "filtered/host-unreach" {
			t.Errorf("127.77.0.1: %s", got)
		}
		if got := r.portState("127.78.0.1", port); got != "filtered/admin-prohibited" {
			t.Errorf("127.78.0.1: %s", got)
		}
		if got := r.portState("127.0.0.1", port); got != "open/syn-ack" {
			t.Errorf("127.0.0.1: %s", got)
		}
		if stats.HostsUp != 1 || stats.Retries != 0 {
			t.Errorf("stats %+v: want one host up and no retries (an error answer is final)", stats)
		}
	})
}

// silentResolver never answers a reverse lookup; it counts the calls.
type silentResolver struct {
	fakeResolver
	calls atomic.Int32
}

func (r *silentResolver) LookupAddr(ctx context.Context, _ string) ([]string, error) {
	r.calls.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestScanStopsAskingASilentResolver(t *testing.T) {
	labnet.Require(t)
	res := &silentResolver{}
	o := baseOptions("1", "127.0.0.1-20")
	o.NoPing, o.NoDNS = false, false
	o.Concurrency = 2 // one discovery worker: lookups happen one at a time
	o.Resolver = res
	var logs bytes.Buffer
	o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	o.Out = event.NewWriter(io.Discard)
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NameTimeout = 20 * time.Millisecond
	stats, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.HostsUp != 20 {
		t.Fatalf("hosts up = %d, want 20", stats.HostsUp)
	}
	if n := res.calls.Load(); n != 5 {
		t.Errorf("%d reverse lookups, want %d: the scan must stop asking a resolver that times out", n, 5)
	}
	if !strings.Contains(logs.String(), "reverse DNS stopped") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
}
