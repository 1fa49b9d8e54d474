package syn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
)

// portLine is the part of a port event the tests look at.
type portLine struct {
	Type   string  `json:"type"`
	IP     string  `json:"ip"`
	Port   uint16  `json:"port"`
	State  string  `json:"state"`
	Reason string  `json:"reason"`
	TTL    *int    `json:"ttl"`
	RTT    float64 `json:"rtt_ms"`
}

// synScan runs a SYN scan of targets and ports with every state
// reported and returns the port events by "ip:port" and the end stats.
func synScan(t *testing.T, ports string, targets ...string) (map[string]portLine, event.Stats) {
	t.Helper()
	labnet.Require(t)
	var buf bytes.Buffer
	timing := scan.DefaultTiming()
	timing.InitialRTO = 200 * time.Millisecond
	timing.FinalWait = 300 * time.Millisecond
	o := scan.Options{
		Targets: targets, Ports: ports, NoPing: true, NoDNS: true, AllStates: true,
		Method: "syn", Methods: methods.List(), Concurrency: 64, Retries: 1,
		Timing: &timing, Timeout: time.Second, Out: event.NewWriter(&buf),
	}
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	stats, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := map[string]portLine{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var p portLine
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		if p.Type == "port" {
			got[fmt.Sprintf("%s:%d", p.IP, p.Port)] = p
		}
	}
	return got, stats
}

func TestSynStates(t *testing.T) {
	labnet.Require(t)
	open4 := labnet.Listen(t, "127.0.0.1:0").Port
	open6 := labnet.Listen(t, "[::1]:0").Port
	closed := labnet.ClosedPort(t)
	drop := labnet.DropPort(t)
	ports := fmt.Sprintf("%d,%d,%d,%d", open4, open6, closed, drop)
	got, stats := synScan(t, ports, "127.0.0.1", "::1")
	tests := []struct {
		key, state, reason string
	}{
		{fmt.Sprintf("127.0.0.1:%d", open4), scan.StateOpen, scan.ReasonSynAck},
		{fmt.Sprintf("::1:%d", open6), scan.StateOpen, scan.ReasonSynAck},
		{fmt.Sprintf("127.0.0.1:%d", closed), scan.StateClosed, scan.ReasonReset},
		{fmt.Sprintf("::1:%d", closed), scan.StateClosed, scan.ReasonReset},
		{fmt.Sprintf("127.0.0.1:%d", drop), scan.StateFiltered, scan.ReasonNoResponse},
	}
	for _, tc := range tests {
		p, ok := got[tc.key]
		if !ok {
			t.Errorf("%s: no port event", tc.key)
			continue
		}
		if p.State != tc.state || p.Reason != tc.reason {
			t.Errorf("%s: %s/%s, want %s/%s", tc.key, p.State, p.Reason, tc.state, tc.reason)
		}
		if tc.state != scan.StateFiltered && (p.TTL == nil || *p.TTL != 64) {
			t.Errorf("%s: ttl %v, want 64 (loopback's)", tc.key, p.TTL)
		}
	}
	if stats.Errors != 0 || stats.Open != 2 {
		t.Errorf("stats %+v, want 2 open and no errors", stats)
	}
}

// TestSynICMPRejected checks that an ICMP error quoting a probe makes
// the port filtered with the error's reason: nft rejects one port with
// admin-prohibited, the other with port-unreachable.
func TestSynICMPRejected(t *testing.T) {
	labnet.Require(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (CI installs nftables)")
	}
	p1, p2 := labnet.ClosedPort(t), labnet.ClosedPort(t)
	rules := fmt.Sprintf(`table inet syntest {
	chain in {
		type filter hook input priority 0;
		tcp dport %d reject with icmpx type admin-prohibited
		tcp dport %d reject with icmpx type port-unreachable
	}
}`, p1, p2)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", "syntest").Run() })
	got, _ := synScan(t, fmt.Sprintf("%d,%d", p1, p2), "127.0.0.1", "::1")
	for _, ip := range []string{"127.0.0.1", "::1"} {
		for port, reason := range map[uint16]string{p1: scan.ReasonAdminProhibited, p2: scan.ReasonPortUnreach} {
			key := fmt.Sprintf("%s:%d", ip, port)
			if p := got[key]; p.State != scan.StateFiltered || p.Reason != reason {
				t.Errorf("%s: %s/%s, want filtered/%s", key, p.State, p.Reason, reason)
			}
		}
	}
}

// TestSynUnreachableRoute checks that a destination the kernel has no
// route to is filtered with the route's reason, not an error.
func TestSynUnreachableRoute(t *testing.T) {
	labnet.Route(t, "unreachable", "127.77.0.0/16")
	labnet.Route(t, "prohibit", "127.78.0.0/16")
	got, stats := synScan(t, "80", "127.77.0.1", "127.78.0.1")
	if p := got["127.77.0.1:80"]; p.State != scan.StateFiltered || p.Reason != scan.ReasonHostUnreach {
		t.Errorf("unreachable: %s/%s, want filtered/%s", p.State, p.Reason, scan.ReasonHostUnreach)
	}
	if p := got["127.78.0.1:80"]; p.State != scan.StateFiltered || p.Reason != scan.ReasonAdminProhibited {
		t.Errorf("prohibited: %s/%s, want filtered/%s", p.State, p.Reason, scan.ReasonAdminProhibited)
	}
	if stats.Errors != 0 {
		t.Errorf("%d errors, want none", stats.Errors)
	}
}

// TestSynAllPortsExact scans every port of loopback at full speed and
// checks that exactly the listeners are open and every other port is
// closed: nothing lost on the way back.
func TestSynAllPortsExact(t *testing.T) {
	labnet.Require(t)
	a := labnet.Listen(t, "127.0.0.1:0").Port
	b := labnet.Listen(t, "127.0.0.1:0").Port
	got, stats := synScan(t, "-", "127.0.0.1")
	if stats.Open != 2 || stats.Closed != 65533 || stats.Filtered != 0 || stats.Errors != 0 {
		t.Errorf("stats %+v, want 2 open, 65533 closed", stats)
	}
	for _, p := range []uint16{a, b} {
		if s := got[fmt.Sprintf("127.0.0.1:%d", p)].State; s != scan.StateOpen {
			t.Errorf("port %d: %q, want open", p, s)
		}
	}
}
