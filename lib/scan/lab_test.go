package scan_test

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

// labCase is one lab host and the truth about its ports.
type labCase struct {
	name  string
	spec  labnet.HostSpec
	ports string            // the ports to scan
	want  map[uint16]string // state/reason per port; others want other
	other string
	// throttle is the host event's throttle field: "*" for any, "+" for
	// any but none (the host was paced, or given up on).
	throttle string
}

// unkindHosts are hosts the way firewalls and busy networks make them:
// dropping, rejecting, rate-limiting and losing probes.
func unkindHosts() []labCase {
	const syn = "tcp flags & (syn | ack) == syn"
	return []labCase{
		{
			name: "clean",
			spec: labnet.HostSpec{Open: []uint16{22, 80}, Reset: []uint16{81}, FinReset: []uint16{82},
				Rules: "tcp dport 99 drop\ntcp dport 98 reject with tcp reset"},
			ports: "20-100",
			want: map[uint16]string{22: "open/syn-ack", 80: "open/syn-ack", 81: "open/syn-ack", 82: "open/syn-ack",
				99: "filtered/no-response", 98: "closed/conn-refused"},
			other: "closed/conn-refused",
		},
		{
			// The kernel's ICMP rate limit is left at its default: a
			// burst of 6, then one error a second.
			name:     "icmp-reject",
			spec:     labnet.HostSpec{Open: []uint16{2100}, Rules: "tcp dport 2000-2099 reject"},
			ports:    "2000-2011,2100",
			want:     map[uint16]string{2100: "open/syn-ack"},
			other:    "closed/conn-refused",
			throttle: "*",
		},
		{
			name:     "syn-limit-50",
			spec:     labnet.HostSpec{Open: []uint16{4001, 4150}, Rules: syn + " limit rate over 50/second burst 5 packets drop"},
			ports:    "4000-4199",
			want:     map[uint16]string{4001: "open/syn-ack", 4150: "open/syn-ack"},
			other:    "closed/conn-refused",
			throttle: "+",
		},
		{
			name:     "loss-50",
			spec:     labnet.HostSpec{Open: []uint16{3001, 3050}, Rules: syn + " numgen random mod 2 == 0 drop"},
			ports:    "3000-3099",
			want:     map[uint16]string{3001: "open/syn-ack", 3050: "open/syn-ack"},
			other:    "closed/conn-refused",
			throttle: "*",
		},
	}
}

// TestLabUnkindHosts scans the lab's unkind hosts with the default
// settings and checks every port against the lab's truth.
func TestLabUnkindHosts(t *testing.T) {
	cases := unkindHosts()
	specs := make([]labnet.HostSpec, len(cases))
	for i, c := range cases {
		specs[i] = c.spec
	}
	hosts := labnet.Lab(t, specs...)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			checkLabHost(t, hosts[i].Addr, c)
		})
	}
}

// TestLabICMPReasons rejects each port with another ICMP or ICMPv6 error
// (the rate limit off, so every probe gets its error) and checks the
// reason words.
func TestLabICMPReasons(t *testing.T) {
	rules := `meta nfproto ipv4 tcp dport 5001 reject with icmp type host-unreachable
meta nfproto ipv4 tcp dport 5002 reject with icmp type net-unreachable
meta nfproto ipv4 tcp dport 5003 reject with icmp type prot-unreachable
meta nfproto ipv4 tcp dport 5004 reject with icmp type port-unreachable
meta nfproto ipv4 tcp dport 5005 reject with icmp type net-prohibited
meta nfproto ipv4 tcp dport 5006 reject with icmp type host-prohibited
meta nfproto ipv4 tcp dport 5007 reject with icmp type admin-prohibited
meta nfproto ipv6 tcp dport 5001 reject with icmpv6 type no-route
meta nfproto ipv6 tcp dport 5002 reject with icmpv6 type admin-prohibited
meta nfproto ipv6 tcp dport 5003 reject with icmpv6 type addr-unreachable
meta nfproto ipv6 tcp dport 5004 reject with icmpv6 type port-unreachable
meta nfproto ipv6 tcp dport 5005 reject with icmpv6 type policy-fail
meta nfproto ipv6 tcp dport 5006 reject with icmpv6 type reject-route`
	hosts := labnet.Lab(t, labnet.HostSpec{Rules: rules, Open: []uint16{5000},
		Sysctls: map[string]string{"net.ipv4.icmp_ratelimit": "0", "net.ipv6.icmp.ratelimit": "0"}})
	t.Run("ipv4", func(t *testing.T) {
		checkLabHost(t, hosts[0].Addr, labCase{ports: "5000-5007", want: map[uint16]string{
			5000: "open/syn-ack",
			5001: "filtered/host-unreach",
			5002: "filtered/net-unreach",
			5003: "filtered/proto-unreach",
			5004: "closed/conn-refused",
			5005: "filtered/net-prohibited",
			5006: "filtered/host-prohibited",
			5007: "filtered/admin-prohibited",
		}})
	})
	t.Run("ipv6", func(t *testing.T) {
		checkLabHost(t, hosts[0].Addr6, labCase{ports: "5000-5006", want: map[uint16]string{
			5000: "open/syn-ack",
			5001: "filtered/no-route",
			5002: "filtered/admin-prohibited",
			5003: "filtered/host-unreach",
			5004: "closed/conn-refused",
			5005: "filtered/admin-prohibited",
			5006: "filtered/reject-route",
		}})
	})
}

// checkLabHost scans addr with the defaults (no discovery, no DNS) and
// compares every port with the case's truth.
func checkLabHost(t *testing.T, addr netip.Addr, c labCase) {
	t.Helper()
	var buf bytes.Buffer
	o := scan.Options{
		Targets: []string{addr.String()}, Ports: c.ports, Methods: methods.List(),
		NoPing: true, NoDNS: true, AllStates: true,
		Concurrency: 512, Retries: 10, Timeout: time.Second,
		Resolver: fakeResolver{}, Out: event.NewWriter(&buf),
	}
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	stats, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, buf.Bytes())
	t.Logf("%s %s: %v, %d probes, %d retries", c.name, addr, time.Since(began).Round(time.Millisecond), stats.Probes, stats.Retries)
	wrong := 0
	for _, p := range r.ports {
		want, ok := c.want[p.Port]
		if !ok {
			want = c.other
		}
		if got := p.State + "/" + p.Reason; got != want {
			wrong++
			if wrong <= 10 {
				t.Errorf("port %d: %s, want %s", p.Port, got, want)
			}
		}
	}
	if wrong > 10 {
		t.Errorf("... %d ports wrong in all, of %d", wrong, len(r.ports))
	}
	if !r.end.Complete {
		t.Errorf("scan incomplete: %+v", r.end)
	}
	if len(r.hosts) != 1 {
		t.Fatalf("host events: %+v", r.hosts)
	}
	switch got := r.hosts[0].Throttle; {
	case c.throttle == "*":
	case c.throttle == "+" && got != "":
	case got != c.throttle:
		t.Errorf("host throttle %q, want %q", got, c.throttle)
	}
}

// TestLabUnkindHostsTogether scans all the unkind hosts in one scan, with
// discovery and every host's port ranges, as a user scanning a network
// would: each host keeps its own timing, and every port still matches
// the truth.
func TestLabUnkindHostsTogether(t *testing.T) {
	cases := unkindHosts()
	specs := make([]labnet.HostSpec, len(cases))
	var addrs []string
	for i, c := range cases {
		specs[i] = c.spec
	}
	hosts := labnet.Lab(t, specs...)
	byAddr := map[string]labCase{}
	for i, c := range cases {
		addrs = append(addrs, hosts[i].Addr.String())
		byAddr[hosts[i].Addr.String()] = c
	}
	var buf bytes.Buffer
	cfg, err := scan.Setup(context.Background(), scan.Options{
		Targets: addrs, Ports: "20-100,2000-2011,2100,3000-3099,4000-4199", Methods: methods.List(),
		NoDNS: true, AllStates: true, Concurrency: 512, Retries: 10, Timeout: time.Second,
		Resolver: fakeResolver{}, Out: event.NewWriter(&buf),
	})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	stats, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v, %d probes, %d retries", time.Since(began).Round(time.Millisecond), stats.Probes, stats.Retries)
	r := parse(t, buf.Bytes())
	if stats.HostsUp != uint64(len(cases)) || !r.end.Complete {
		t.Fatalf("stats %+v complete %v; want every host up and a complete scan", stats, r.end.Complete)
	}
	for _, h := range r.hosts {
		t.Logf("host %s (%s): throttle %q at %s", h.IP, byAddr[h.IP].name, h.Throttle, h.Time[11:23])
	}
	wrong := 0
	for _, p := range r.ports {
		c := byAddr[p.IP]
		want, ok := c.want[p.Port]
		if !ok {
			want = c.other
		}
		if got := p.State + "/" + p.Reason; got != want {
			if wrong++; wrong <= 10 {
				t.Errorf("%s (%s) port %d: %s, want %s", p.IP, c.name, p.Port, got, want)
			}
		}
	}
	if n := len(cases) * 394; len(r.ports) != n {
		t.Errorf("%d port events, want %d", len(r.ports), n)
	}
}
