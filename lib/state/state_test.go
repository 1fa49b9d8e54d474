package state

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/event"
)

func line(raw string) event.Line {
	typ := "port"
	for _, t := range []string{"scan", "scope", "host", "change"} {
		if strings.Contains(raw, `"type":"`+t+`"`) {
			typ = t
		}
	}
	return event.Line{Raw: []byte(raw), Type: typ}
}

func build(t *testing.T, lines ...string) *Scan {
	t.Helper()
	b := NewBuilder()
	for _, l := range lines {
		if err := b.AddLine(line(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(id, scope string) string {
	return `{"type":"scan","time":"2026-11-01T00:00:00.000000000Z","scan_id":"` + id + `","phase":"start","scope":` + scope + `}`
}

func end(id string, complete bool) string {
	c := "false"
	if complete {
		c = "true"
	}
	return `{"type":"scan","scan_id":"` + id + `","phase":"end","complete":` + c + `}`
}

func TestCoverage(t *testing.T) {
	s := build(t,
		start("A", `{"targets":["192.0.2.0/29","10.0-1.0.1-3","www.example.com","db.example.com/30"],"exclude":["192.0.2.5","skip.example.com"],"ports":"T:22,80,U:53"}`),
		`{"type":"host","scan_id":"A","ip":"198.51.100.7","hostname":"www.example.com","state":"up"}`,
		`{"type":"host","scan_id":"A","ip":"198.51.100.20","hostname":"db.example.com","state":"up"}`,
		end("A", true))
	for _, c := range []struct {
		ip, name string
		want     bool
	}{
		{"192.0.2.1", "", true},
		{"192.0.2.5", "", false},                 // excluded
		{"192.0.2.6", "skip.example.com", false}, // excluded by name
		{"192.0.2.9", "", false},
		{"10.1.0.2", "", true},
		{"10.2.0.2", "", false},
		{"203.0.113.1", "www.example.com", true}, // named target
		{"198.51.100.21", "", true},              // in db.example.com's /30
		{"198.51.100.24", "", false},
	} {
		if got := len(s.Checked(netip.MustParseAddr(c.ip), c.name)) > 0; got != c.want {
			t.Errorf("%s (%s): covered %v, want %v", c.ip, c.name, got, c.want)
		}
	}
	parts := s.Checked(netip.MustParseAddr("192.0.2.1"), "")
	for _, c := range []struct {
		proto string
		num   uint16
		want  bool
	}{{"tcp", 22, true}, {"tcp", 53, false}, {"udp", 53, true}, {"udp", 22, false}, {"sctp", 22, false}} {
		if got := PortChecked(parts, c.proto, c.num); got != c.want {
			t.Errorf("%d/%s: %v", c.num, c.proto, got)
		}
	}
}

func TestCompleteness(t *testing.T) {
	scope := `{"targets":["192.0.2.1"],"ports":"T:22"}`
	shard := func(i int) string {
		return strings.Replace(scope, `"ports"`, `"shard":{"index":`+string(rune('0'+i))+`,"count":2},"ports"`, 1)
	}
	for _, c := range []struct {
		name  string
		lines []string
		want  bool
	}{
		{"complete", []string{start("A", scope), end("A", true)}, true},
		{"no end", []string{start("A", scope)}, false},
		{"complete false", []string{start("A", scope), end("A", false)}, false},
		{"no start", []string{`{"type":"port","scan_id":"A","ip":"192.0.2.1","port":22,"proto":"tcp","state":"open"}`, end("A", true)}, false},
		{"nothing", nil, false},
		{"two scans, one cut", []string{start("A", scope), end("A", true), start("B", scope)}, false},
		{"both shards", []string{start("A", shard(1)), end("A", true), start("B", shard(2)), end("B", true)}, true},
		{"one shard", []string{start("A", shard(1)), end("A", true)}, false},
		{"shard twice", []string{start("A", shard(1)), end("A", true), start("B", shard(1)), end("B", true)}, false},
		{"shard cut", []string{start("A", shard(1)), end("A", true), start("B", shard(2)), end("B", false)}, false},
	} {
		if got := build(t, c.lines...).Complete(); got != c.want {
			t.Errorf("%s: complete %v, want %v", c.name, got, c.want)
		}
	}
	// A ping scan (no ports) covers its hosts and no port.
	ping := build(t, start("P", `{"targets":["192.0.2.0/30"],"ports":""}`), end("P", true))
	if parts := ping.Checked(netip.MustParseAddr("192.0.2.1"), ""); len(parts) != 1 || PortChecked(parts, "tcp", 22) {
		t.Errorf("ping scan coverage: %d parts", len(parts))
	}
	s := build(t, start("A", shard(1)), end("A", true), start("B", shard(2)), end("B", true))
	if len(s.Parts) != 1 || s.Parts[0].Scope.Shard != nil || len(s.Parts[0].Shards) != 2 {
		t.Errorf("shards not merged into one part: %+v", s.Parts)
	}
}

func TestBuilderErrors(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`{"type":"port","ip":"300.0.0.1","port":1,"proto":"tcp"}`, `bad "ip"`},
		{`{"type":"port","ip":"192.0.2.1","port":70000,"proto":"tcp"}`, "out of range"},
		{`{"type":"port","ip":"192.0.2.1","port":"22","proto":"tcp"}`, "not a number"},
		{`{"type":"port","ip":"192.0.2.1","port":22,"proto":"sctp"}`, "not tcp or udp"},
		{`{"type":"host","ip":"192.0.2.1","state":"sideways"}`, "not up or down"},
		{`{"type":"port","ip":"192.0.2.1","port":22,"proto":"tcp","tls":{"key_bits":"x"}}`, `bad "tls"`},
	} {
		err := NewBuilder().AddLine(line(c.raw))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.raw, err, c.want)
		}
	}
	// A scope that does not parse is an error at the end.
	b := NewBuilder()
	b.AddLine(line(start("A", `{"targets":["10.0.0.0/40"],"ports":"T:22"}`)))
	if _, err := b.Scan(); err == nil || !strings.Contains(err.Error(), "scope target 1") {
		t.Errorf("bad scope: %v", err)
	}
}

func TestDecodeService(t *testing.T) {
	rec, err := NewDecoder().DecodeLine([]byte(`{"type":"port","ip":"::1","port":22,"proto":"tcp","state":"open","service":{"name":"ssh","product":"OpenSSH","version":"9.2p1","cpe":["a","b",3],"conf":10,"hostkey":"SHA256:x","extra":{"x":1}},"first_seen":"t1","pending":{"sig":"open","count":2,"since":"t0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := rec.Port.Service
	if s.Name != "ssh" || s.Product != "OpenSSH" || s.Version != "9.2p1" || len(s.CPE) != 2 || s.Conf != 10 || s.HostKey != "SHA256:x" {
		t.Errorf("service %+v", s)
	}
	if rec.Port.FirstSeen != "t1" || rec.Port.Pending == nil || rec.Port.Pending.Count != 2 {
		t.Errorf("port %+v", rec.Port)
	}
}

func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte(`{"type":"port","ip":"192.0.2.1","port":22,"proto":"tcp","state":"open","service":{"name":"ssh","cpe":["x"]},"tls":{"sha256":"ab"}}`))
	f.Add([]byte(`{"type":"host","ip":"2001:db8::1","state":"up","pending":{"sig":"up","count":1}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := NewDecoder().DecodeLine(raw)
		if err != nil {
			return
		}
		if !rec.Addr.IsValid() {
			t.Fatalf("decoded a record without an address")
		}
	})
}

// TestShardHostEvents checks hosts reported by the shards of a split
// scan: every shard reports the host events of the hosts it found up
// (discovery is not split), so duplicates merge into one host, and a
// host one shard found up stays up when another shard, whose half of
// the ports got no answer, reports it down (with -Pn --all-states).
// Between two separate scans the later report still wins.
func TestShardHostEvents(t *testing.T) {
	scope := `{"targets":["192.0.2.1","192.0.2.2"],"ports":"T:22,443"}`
	shard := func(i int) string {
		return strings.Replace(scope, `"ports"`, `"shard":{"index":`+string(rune('0'+i))+`,"count":2},"ports"`, 1)
	}
	host := func(id, ip, state string) string {
		return `{"type":"host","scan_id":"` + id + `","ip":"` + ip + `","state":"` + state + `"}`
	}
	port := func(id, ip string, num int) string {
		return `{"type":"port","scan_id":"` + id + `","ip":"` + ip + `","port":` + strconv.Itoa(num) + `,"proto":"tcp","state":"open"}`
	}
	s := build(t,
		start("A", shard(1)),
		host("A", "192.0.2.1", "up"), port("A", "192.0.2.1", 443),
		host("A", "192.0.2.2", "up"), port("A", "192.0.2.2", 22),
		end("A", true),
		start("B", shard(2)),
		host("B", "192.0.2.1", "down"),
		host("B", "192.0.2.2", "up"), port("B", "192.0.2.2", 443),
		end("B", true),
	)
	if !s.Complete() || len(s.Hosts) != 2 {
		t.Fatalf("complete %v, %d hosts", s.Complete(), len(s.Hosts))
	}
	for ip, want := range map[string]int{"192.0.2.1": 1, "192.0.2.2": 2} {
		h := s.Hosts[netip.MustParseAddr(ip)]
		if h.State != "up" || len(h.Ports) != want {
			t.Errorf("%s: state %q with %d ports, want up with %d", ip, h.State, len(h.Ports), want)
		}
	}
	// Two scans that are not shards of one: the later report wins.
	s = build(t, start("A", scope), host("A", "192.0.2.1", "up"), end("A", true),
		start("B", scope), host("B", "192.0.2.1", "down"), end("B", true))
	if h := s.Hosts[netip.MustParseAddr("192.0.2.1")]; h.State != "down" {
		t.Errorf("separate scans: state %q, want down", h.State)
	}
}
