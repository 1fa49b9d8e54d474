package ping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/methods"
	"github.com/picketscan/picket/lib/scan/ping"
)

func TestMain(m *testing.M) { labnet.Main(m) }

// discover runs a ping-only scan with the given probe kinds and returns
// host state and reason by address, and whether any port event came.
func discover(t *testing.T, kinds []uint16, targets ...string) (map[string]string, event.ScanStart, bool) {
	t.Helper()
	var buf bytes.Buffer
	timing := scan.DefaultTiming()
	timing.InitialRTO = 200 * time.Millisecond
	spec := &scan.DiscoverySpec{Name: ping.Describe(kinds), Ports: kinds, New: ping.New}
	o := scan.Options{
		Targets: targets, NoDNS: true, AllStates: true, PingOnly: true, Discovery: spec,
		Method: "syn", Methods: methods.List(), Concurrency: 64, Retries: 1,
		Timing: &timing, Out: event.NewWriter(&buf),
	}
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if _, err := scan.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{}
	var start event.ScanStart
	ports := false
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev struct{ Type, Phase, IP, State, Reason string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Type == "host":
			hosts[ev.IP] = ev.State + "/" + ev.Reason
		case ev.Type == "port":
			ports = true
		case ev.Type == "scan" && ev.Phase == "start":
			_ = json.Unmarshal([]byte(line), &start)
		}
	}
	return hosts, start, ports
}

func TestPingKinds(t *testing.T) {
	labnet.Require(t)
	labnet.Route(t, "blackhole", "127.66.0.0/16")
	tests := []struct {
		name   string
		kinds  []uint16
		v4, v6 string
	}{
		{"echo", []uint16{ping.KindEcho}, "up/echo-reply", "up/echo-reply"},
		{"syn to 443", []uint16{ping.KindSYN443}, "up/reset", "up/reset"},
		{"ack to 80", []uint16{ping.KindACK80}, "up/reset", "up/reset"},
		{"timestamp", []uint16{ping.KindTimestamp}, "up/timestamp-reply", "down/no-response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hosts, _, ports := discover(t, tc.kinds, "127.0.0.1", "::1", "127.66.0.1")
			if hosts["127.0.0.1"] != tc.v4 || hosts["::1"] != tc.v6 {
				t.Errorf("127.0.0.1 %q, ::1 %q; want %q, %q", hosts["127.0.0.1"], hosts["::1"], tc.v4, tc.v6)
			}
			if h := hosts["127.66.0.1"]; !strings.HasPrefix(h, "down/") {
				t.Errorf("blackholed host: %q, want down", h)
			}
			if ports {
				t.Error("port events in a ping-only scan")
			}
		})
	}
}

func TestPingDefault(t *testing.T) {
	labnet.Require(t)
	hosts, start, _ := discover(t, ping.Kinds, "127.0.0.1", "::1")
	for _, h := range []string{"127.0.0.1", "::1"} {
		if !strings.HasPrefix(hosts[h], "up/") {
			t.Errorf("%s: %q, want up", h, hosts[h])
		}
	}
	if start.Scope.Discovery != "icmp-echo,tcp-syn:443,tcp-ack:80" || start.Scope.Ports != "" {
		t.Errorf("scope %+v", start.Scope)
	}
}
