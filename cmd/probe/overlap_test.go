package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
)

// TestPortScanDoesNotWaitForDiscovery runs probe, with its default
// discovery, over one live host and 128 addresses whose packets an nft
// rule drops (so each takes its full ping timeout to be found down). The
// live host's ports are scanned while the silent ones are still being
// pinged: its host and port events come before the down hosts' events.
// Before discovery and the port scan overlapped, every down host was
// written first.
func TestPortScanDoesNotWaitForDiscovery(t *testing.T) {
	labnet.Require(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("this test needs nft(8) (Debian: nftables)")
	}
	nft := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("nft", args...).CombinedOutput(); err != nil {
			t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	nft("add table ip picket_overlap")
	t.Cleanup(func() { _ = exec.Command("nft", "delete table ip picket_overlap").Run() })
	nft("add chain ip picket_overlap in { type filter hook input priority 0; }")
	nft("add rule ip picket_overlap in ip daddr 127.0.2.0/25 drop")
	open := labnet.Listen(t, "127.0.0.1:0").Port

	for _, method := range []string{"syn", "connect"} {
		t.Run(method, func(t *testing.T) {
			r := probe(t, "-n", "--all-states", "--method", method, "-p", fmt.Sprint(open), "127.0.2.0/25", "127.0.0.1")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			live, firstDown, downs := -1, -1, 0
			for i, l := range lines {
				switch {
				case strings.Contains(l, fmt.Sprintf(`"ip":"127.0.0.1","port":%d,"proto":"tcp","state":"open"`, open)):
					live = i
				case strings.Contains(l, `"type":"host"`) && strings.Contains(l, `"state":"down"`):
					downs++
					if firstDown < 0 {
						firstDown = i
					}
				}
			}
			if live < 0 || downs != 128 {
				t.Fatalf("want 127.0.0.1:%d open and 128 hosts down, got open at line %d and %d down:\n%s", open, live, downs, r.stdout)
			}
			if live > firstDown {
				t.Errorf("the live host's port event came at line %d, after the first down host (line %d): the port scan waited for discovery", live, firstDown)
			}
			end := lastEvent(t, r.stdout)
			if end["complete"] != true {
				t.Errorf("scan end %v, want complete", end)
			}
		})
	}
}

// TestPingTimestamp checks -PP against a lab host whose firewall drops
// ICMP echo and every TCP probe of the default discovery: it is down
// without -PP and up, by its timestamp reply, with it.
func TestPingTimestamp(t *testing.T) {
	labnet.Require(t)
	host := labnet.Lab(t, labnet.HostSpec{Rules: "icmp type echo-request drop\ntcp dport 1-65535 drop"})[0]
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, `"state":"down"`},
		{[]string{"-PP"}, `"state":"up","reason":"timestamp-reply"`},
	} {
		r := probe(t, append([]string{"-n", "--ping-only", "--all-states", host.Addr.String()}, tt.args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, tt.want) {
			t.Errorf("%v: exit %d, want a host event with %s:\n%s%s", tt.args, r.code, tt.want, r.stdout, r.stderr)
		}
		if len(tt.args) > 0 && !strings.Contains(r.stdout, `icmp-timestamp`) {
			t.Errorf("%v: the scope does not name the timestamp probe:\n%s", tt.args, r.stdout)
		}
	}
}
