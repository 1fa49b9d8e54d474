package udp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

func TestMain(m *testing.M) { labnet.Main(m) }

// echo opens a UDP socket on addr that answers every datagram, and
// returns its port.
func echo(t *testing.T, addr string) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() { c.Close() })
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// silent opens a UDP socket that never answers: the port is open, and
// a scanner can only call it open|filtered.
func silent(t *testing.T, addr string) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// closedUDP returns a UDP port with no socket: one bound and released.
func closedUDP(t *testing.T) uint16 {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func udpScan(t *testing.T, ports string, targets ...string) (map[string]string, event.Stats) {
	t.Helper()
	got, _, stats := udpScanRTT(t, ports, targets...)
	return got, stats
}

// udpScanRTT is udpScan that also returns each port's round-trip time
// in milliseconds, where its event has one.
func udpScanRTT(t *testing.T, ports string, targets ...string) (map[string]string, map[string]float64, event.Stats) {
	t.Helper()
	var buf bytes.Buffer
	timing := scan.DefaultTiming()
	timing.InitialRTO = 200 * time.Millisecond
	timing.FinalWait = 300 * time.Millisecond
	o := scan.Options{
		Targets: targets, Ports: ports, NoPing: true, NoDNS: true, AllStates: true,
		Method: "udp", Methods: methods.List(), Concurrency: 64, Retries: 1,
		Timing: &timing, Out: event.NewWriter(&buf),
	}
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	stats, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, rtts := map[string]string{}, map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev struct {
			Type, IP, Proto, State, Reason string
			Port                           uint16
			RTT                            float64 `json:"rtt_ms"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "port" {
			if ev.Proto != "udp" {
				t.Errorf("port event with proto %q", ev.Proto)
			}
			k := fmt.Sprintf("%s:%d", ev.IP, ev.Port)
			got[k] = ev.State + "/" + ev.Reason
			if ev.RTT != 0 {
				rtts[k] = ev.RTT
			}
		}
	}
	return got, rtts, stats
}

func TestUDPStates(t *testing.T) {
	labnet.Require(t)
	open4, open6 := echo(t, "127.0.0.1:0"), echo(t, "[::1]:0")
	quiet := silent(t, "127.0.0.1:0")
	closed := closedUDP(t)
	spec := fmt.Sprintf("%d,%d,%d,%d", open4, open6, quiet, closed)
	got, rtts, stats := udpScanRTT(t, spec, "127.0.0.1", "::1")
	want := map[string]string{
		fmt.Sprintf("127.0.0.1:%d", open4):  "open/udp-response",
		fmt.Sprintf("::1:%d", open6):        "open/udp-response",
		fmt.Sprintf("127.0.0.1:%d", quiet):  "open|filtered/no-response",
		fmt.Sprintf("127.0.0.1:%d", closed): "closed/port-unreach",
		fmt.Sprintf("::1:%d", closed):       "closed/port-unreach",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	// A port unreachable quotes the probe's send stamp (IPv4
	// identification, IPv6 flow label): closed ports have a round trip.
	for _, k := range []string{fmt.Sprintf("127.0.0.1:%d", closed), fmt.Sprintf("::1:%d", closed)} {
		if rtt, ok := rtts[k]; !ok || rtt <= 0 || rtt > 1000 {
			t.Errorf("%s: rtt_ms %v (present %v), want a round trip under a second", k, rtt, ok)
		}
	}
	if stats.Errors != 0 {
		t.Errorf("%d errors", stats.Errors)
	}
}

// TestUDPAllPortsNoFalseOpen scans every UDP port of loopback, where the
// scanner's own probes arrive on the same interface: exactly the echo
// port may be open.
func TestUDPAllPortsNoFalseOpen(t *testing.T) {
	labnet.Require(t)
	open := echo(t, "127.0.0.1:0")
	got, stats := udpScan(t, "-", "127.0.0.1")
	if stats.Open != 1 || got[fmt.Sprintf("127.0.0.1:%d", open)] != "open/udp-response" {
		var opens []string
		for k, v := range got {
			if strings.HasPrefix(v, "open/") {
				opens = append(opens, k)
			}
		}
		t.Errorf("open %v (stats %+v), want only port %d", opens, stats, open)
	}
	if stats.Closed+stats.Open+stats.Filtered != 65535 {
		t.Errorf("stats %+v do not cover 65535 ports", stats)
	}
}

// TestUDPRejected: an ICMP admin-prohibited from nft makes the port
// filtered.
func TestUDPRejected(t *testing.T) {
	labnet.Require(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (CI installs nftables)")
	}
	p := echo(t, "127.0.0.1:0")
	rules := fmt.Sprintf("table inet udptest {\n chain in {\n type filter hook input priority 0;\n udp dport %d reject with icmpx type admin-prohibited\n }\n}\n", p)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", "udptest").Run() })
	got, _ := udpScan(t, fmt.Sprint(p), "127.0.0.1")
	if k := fmt.Sprintf("127.0.0.1:%d", p); got[k] != "filtered/admin-prohibited" {
		t.Errorf("%s: %q, want filtered/admin-prohibited", k, got[k])
	}
}

// TestUDPICMPRateLimit scans 64 lab hosts whose kernels keep its default
// ICMP rate limit (a burst of six errors, then one a second towards the
// scanner), with four echoing ports each, as testdata/lab/hosts.sh
// makes them: every closed port must still come out closed, and only
// the port the hosts drop open|filtered.
func TestUDPICMPRateLimit(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (CI installs nftables)")
	}
	specs := make([]labnet.HostSpec, 64)
	for i := range specs {
		specs[i] = labnet.HostSpec{Rules: "udp dport 7020 drop", UDPEcho: []uint16{7003, 7007, 7011, 7015}}
	}
	hosts := labnet.Lab(t, specs...)
	var targets []string
	for _, h := range hosts {
		targets = append(targets, h.Addr.String())
	}
	var buf bytes.Buffer
	o := scan.Options{
		Targets: targets, Ports: "7000-7020", NoPing: true, NoDNS: true, AllStates: true,
		Method: "udp", Methods: methods.List(), Out: event.NewWriter(&buf),
		Concurrency: 512, Retries: 10, Timeout: time.Second, // probe's defaults
	}
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	stats, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev struct {
			Type, IP, State, Reason string
			Port                    uint16
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "port" {
			got[fmt.Sprintf("%s:%d", ev.IP, ev.Port)] = ev.State + "/" + ev.Reason
		}
	}
	wrong := 0
	for _, addr := range targets {
		for p := uint16(7000); p <= 7020; p++ {
			want := "closed/port-unreach"
			switch p {
			case 7003, 7007, 7011, 7015:
				want = "open/udp-response"
			case 7020:
				want = "open|filtered/no-response"
			}
			if k := fmt.Sprintf("%s:%d", addr, p); got[k] != want {
				wrong++
				t.Errorf("%s: %q, want %q", k, got[k], want)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d ports wrong", wrong, 21*len(targets))
	}
	// No probe is wasted on a host whose error budget is spent: each
	// port gets its first probe, and a port silent in it (about 11 of
	// them after the burst of errors) is asked once in the paced round,
	// a silent probe twice. Resending before the budget refills, as
	// earlier versions did, sent about 2.5 probes a port.
	if limit := uint64(len(targets)) * 21 * 2; stats.Probes > limit {
		t.Errorf("%d probes sent, want at most %d (%+v)", stats.Probes, limit, stats)
	}
}

// TestUDPSlowICMPRateLimit scans lab hosts whose kernels send one port
// unreachable every two seconds (net.ipv4.icmp_ratelimit=2000), twice
// as slowly as the pace probe assumes: the first paced round asks many
// closed ports before the host has an error to send, finds the errors
// it does get two seconds apart, and a further round at that pace must
// set those ports right.
func TestUDPSlowICMPRateLimit(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (CI installs nftables)")
	}
	specs := make([]labnet.HostSpec, 4)
	for i := range specs {
		specs[i] = labnet.HostSpec{Rules: "udp dport 7015 drop", UDPEcho: []uint16{7003, 7011},
			Sysctls: map[string]string{"net.ipv4.icmp_ratelimit": "2000"}}
	}
	hosts := labnet.Lab(t, specs...)
	var targets []string
	for _, h := range hosts {
		targets = append(targets, h.Addr.String())
	}
	var buf bytes.Buffer
	o := scan.Options{
		Targets: targets, Ports: "7000-7015", NoPing: true, NoDNS: true, AllStates: true,
		Method: "udp", Methods: methods.List(), Out: event.NewWriter(&buf),
		Concurrency: 512, Retries: 10, Timeout: time.Second, // probe's defaults
	}
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if _, err := scan.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev struct {
			Type, IP, State, Reason string
			Port                    uint16
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "port" {
			got[fmt.Sprintf("%s:%d", ev.IP, ev.Port)] = ev.State + "/" + ev.Reason
		}
	}
	for _, addr := range targets {
		for p := uint16(7000); p <= 7015; p++ {
			want := "closed/port-unreach"
			switch p {
			case 7003, 7011:
				want = "open/udp-response"
			case 7015:
				want = "open|filtered/no-response"
			}
			if k := fmt.Sprintf("%s:%d", addr, p); got[k] != want {
				t.Errorf("%s: %q, want %q", k, got[k], want)
			}
		}
	}
}
