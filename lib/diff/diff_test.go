package diff

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/baseline"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)

// readScan builds a Scan from NDJSON fixture files read in order.
func readScan(t testing.TB, names ...string) *state.Scan {
	t.Helper()
	b := state.NewBuilder()
	for _, name := range names {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		r := event.NewReader(f, name, event.ReaderOptions{Strict: true})
		for {
			l, err := r.Next()
			if err != nil {
				break
			}
			if err := b.AddLine(l); err != nil {
				t.Fatalf("%s:%d: %v", name, l.Num, err)
			}
		}
		f.Close()
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allowOnly is a test policy: only the listed ports are allowed.
type allowOnly map[uint16]bool

func (a allowOnly) Allowed(_ netip.Addr, _, _ string, port uint16, _ *event.Service) (bool, string) {
	return a[port], "test"
}

func key(x event.Change) string {
	s := x.Kind + " " + x.IP
	if x.Proto != "" {
		s += fmt.Sprintf(":%d", x.Port)
	}
	return s
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		cur  []string
		opts Options
		want []string // kind ip:port, in output order
	}{
		{"kinds", []string{"kinds.ndjson"}, Options{CertWarn: 30 * 24 * time.Hour}, []string{
			"service-changed 192.0.2.1:22",
			"port-closed 192.0.2.1:23",
			"service-moved 192.0.2.1:8443",
			"port-state 192.0.2.2:25",
			"port-state 192.0.2.2:80",
			"port-opened 192.0.2.2:3389",
			"host-down 192.0.2.3",
			"host-up 192.0.2.4",
			"port-opened 192.0.2.4:443",
			"tls-expiring 192.0.2.4:443",
			"port-opened 192.0.2.4:993",
			"tls-expiring 192.0.2.4:993",
		}},
		{"tls", []string{"tls.ndjson"}, Options{CertWarn: 30 * 24 * time.Hour}, []string{
			"port-closed 192.0.2.1:23",
			"tls-changed 192.0.2.1:443",
		}},
		{"same", []string{"same.ndjson"}, Options{}, nil},
		{"narrow", []string{"narrow.ndjson"}, Options{}, []string{"port-closed 192.0.2.2:80"}},
		{"narrow-unknown", []string{"narrow.ndjson"}, Options{ReportUnknown: true}, []string{
			"unknown 192.0.2.1:23",
			"unknown 192.0.2.1:443",
			"port-closed 192.0.2.2:80",
			"unknown 192.0.2.2:8080",
			"unknown 192.0.2.3:53",
		}},
		{"wider", []string{"wider.ndjson"}, Options{}, []string{"port-opened 192.0.2.1:50000"}},
		{"interrupted", []string{"interrupted.ndjson"}, Options{}, []string{"port-opened 192.0.2.1:5432"}},
		{"incomplete", []string{"incomplete.ndjson"}, Options{}, []string{"port-opened 192.0.2.1:5432"}},
		{"incomplete-unknown", []string{"incomplete.ndjson"}, Options{ReportUnknown: true}, []string{
			"unknown 192.0.2.1:23",
			"unknown 192.0.2.1:443",
			"port-opened 192.0.2.1:5432",
			"unknown 192.0.2.2:80",
			"unknown 192.0.2.2:8080",
			"unknown 192.0.2.3:53",
		}},
		{"one-shard", []string{"shard1.ndjson"}, Options{}, nil},
		{"shards", []string{"shard1.ndjson", "shard2.ndjson"}, Options{}, []string{
			"port-closed 192.0.2.1:23",
			"host-down 192.0.2.3",
		}},
		{"policy", []string{"same.ndjson"}, Options{Policy: allowOnly{22: true, 443: true, 80: true, 8080: true}}, []string{
			"policy-violation 192.0.2.1:23",
			"policy-violation 192.0.2.3:53",
		}},
		{"policy-new-only", []string{"kinds.ndjson"}, Options{Policy: allowOnly{22: true}, PolicyNewOnly: true}, []string{
			"service-changed 192.0.2.1:22",
			"port-closed 192.0.2.1:23",
			"service-moved 192.0.2.1:8443",
			"policy-violation 192.0.2.1:8443",
			"port-state 192.0.2.2:25",
			"port-state 192.0.2.2:80",
			"port-opened 192.0.2.2:3389",
			"policy-violation 192.0.2.2:3389",
			"host-down 192.0.2.3",
			"host-up 192.0.2.4",
			"port-opened 192.0.2.4:443",
			"policy-violation 192.0.2.4:443",
			"port-opened 192.0.2.4:993",
			"policy-violation 192.0.2.4:993",
		}},
	}
	base := state.FromScan(readScan(t, "base.ndjson"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Now = now
			res := Compare(base, readScan(t, tt.cur...), tt.opts)
			var got []string
			var text bytes.Buffer
			for _, x := range res.Changes {
				got = append(got, key(x))
				fmt.Fprintf(&text, "%-8s %-16s %-10s %s first_seen=%s\n", x.Severity, x.Kind, x.IP, x.Summary, x.FirstSeen)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tt.want)
			}
			golden(t, filepath.Join("testdata", tt.name+".golden.txt"), text.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestCompareKeepsWhatItDidNotSee checks the merged baseline: ports and
// hosts the scan did not look at are carried over unchanged, and first_seen
// survives for ports that stayed open.
func TestCompareKeepsWhatItDidNotSee(t *testing.T) {
	base := state.FromScan(readScan(t, "base.ndjson"))
	for _, cur := range []string{"narrow.ndjson", "interrupted.ndjson", "shard1.ndjson"} {
		t.Run(cur, func(t *testing.T) {
			res := Compare(base, readScan(t, cur), Options{Now: now})
			if got, want := res.Baseline.PortCount(), base.PortCount(); got < want-1 {
				t.Errorf("merged baseline has %d ports, baseline %d", got, want)
			}
			for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
				h := res.Baseline.Hosts[netip.MustParseAddr(a)]
				if h == nil || h.State != state.HostUp {
					t.Fatalf("host %s lost or not up: %+v", a, h)
				}
			}
			p := res.Baseline.Hosts[netip.MustParseAddr("192.0.2.1")].Port("tcp", 22)
			if p == nil || p.FirstSeen != "2026-11-01T02:00:00.000000000Z" {
				t.Errorf("22/tcp first_seen not kept: %+v", p)
			}
			if p.Service == nil || p.Service.Version != "8.9p1" {
				t.Errorf("known service dropped when the scan had none: %+v", p.Service)
			}
		})
	}
}

// TestConfirm walks a sequence of scans through --confirm 2: a change is
// reported on the second consecutive scan that sees it, a flap is never
// reported, and the pending count lives in the baseline.
func TestConfirm(t *testing.T) {
	base := state.FromScan(readScan(t, "base.ndjson"))
	steps := []struct {
		cur  string
		want []string
	}{
		{"tls.ndjson", nil},  // 23 closed, new cert: pending 1
		{"same.ndjson", nil}, // back to normal: the flap is forgotten
		{"tls.ndjson", nil},  // pending 1 again
		{"tls.ndjson", []string{"port-closed 192.0.2.1:23", "tls-changed 192.0.2.1:443"}},
		{"tls.ndjson", nil},         // confirmed: nothing new
		{"interrupted.ndjson", nil}, // incomplete: neither reports nor counts
	}
	for i, s := range steps {
		res := Compare(base, readScan(t, s.cur), Options{Now: now, Confirm: 2})
		var got []string
		for _, x := range res.Changes {
			got = append(got, key(x))
		}
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s): got %q, want %q", i+1, s.cur, got, s.want)
		}
		if readScan(t, s.cur).Complete() {
			base = roundTrip(t, res.Baseline)
		}
	}
	p := base.Hosts[netip.MustParseAddr("192.0.2.1")].Port("tcp", 23)
	if p == nil || p.State != state.StateClosed || p.Pending != nil {
		t.Errorf("23/tcp after confirmation: %+v", p)
	}
}

// roundTrip writes a baseline and reads it back, as ndiff --update does
// between runs.
func roundTrip(t *testing.T, b *state.Baseline) *state.Baseline {
	t.Helper()
	var buf bytes.Buffer
	if err := baseline.Write(&buf, b, "now"); err != nil {
		t.Fatal(err)
	}
	got, err := baseline.Read(&buf, "baseline")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestConfirmNewHost checks that a host never seen before waits for
// --confirm too, and that its pending record survives the baseline file.
func TestConfirmNewHost(t *testing.T) {
	base := state.FromScan(readScan(t, "base.ndjson"))
	var got [][]string
	for range 3 {
		res := Compare(base, readScan(t, "kinds.ndjson"), Options{Now: now, Confirm: 3})
		var kinds []string
		for _, x := range res.Changes {
			if x.IP == "192.0.2.4" {
				kinds = append(kinds, x.Kind)
			}
		}
		got = append(got, kinds)
		base = roundTrip(t, res.Baseline)
	}
	if len(got[0]) != 0 || len(got[1]) != 0 || !slices.Contains(got[2], event.KindHostUp) || !slices.Contains(got[2], event.KindPortOpened) {
		t.Errorf("new host under --confirm 3: %q", got)
	}
}

func TestSummaryEscapes(t *testing.T) {
	x := event.Change{Kind: event.KindPortOpened, Port: 80, Proto: "tcp",
		After: &event.Observed{State: "open", Service: &event.Service{Name: "http", Product: "evil\n+22/tcp open"}}}
	if s := Summary(&x); strings.Contains(s, "\n") {
		t.Errorf("summary holds a newline: %q", s)
	}
}

func TestEmit(t *testing.T) {
	base := state.FromScan(readScan(t, "base.ndjson"))
	cur := readScan(t, "kinds.ndjson")
	want := Compare(base, cur, Options{Now: now})
	var got []event.Change
	res := Compare(base, cur, Options{Now: now, Emit: func(x *event.Change) error { got = append(got, *x); return nil }})
	if len(res.Changes) != 0 || res.Count != len(want.Changes) || res.Baseline == nil {
		t.Fatalf("with Emit: %d held, count %d", len(res.Changes), res.Count)
	}
	for i := range got {
		if key(got[i]) != key(want.Changes[i]) || got[i].Summary != want.Changes[i].Summary {
			t.Fatalf("change %d: %s, want %s", i, key(got[i]), key(want.Changes[i]))
		}
	}
	stop := fmt.Errorf("reader gone")
	n := 0
	res = Compare(base, cur, Options{Now: now, Emit: func(*event.Change) error { n++; return stop }})
	if res.Err != stop || res.Baseline != nil || n != 1 {
		t.Errorf("a failing Emit: err %v, baseline %v, %d calls", res.Err, res.Baseline != nil, n)
	}
}
