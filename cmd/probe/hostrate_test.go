package main

import (
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
)

// TestMaxHostRateOnTheWire SYN-scans two lab hosts that answer nothing
// with --max-host-rate and samples, inside each host's own namespace,
// the kernel's count of IPv4 packets that reached it: no 100 ms holds
// more than the rate allows, at each host, although the scan as a whole
// probes both at once. (The SYN method sends every packet itself; a
// connect scan's kernel may add its own resend of an unanswered SYN,
// see README.)
func TestMaxHostRateOnTheWire(t *testing.T) {
	labnet.Require(t)
	hosts := labnet.Lab(t, labnet.HostSpec{Rules: "tcp dport 1-65535 drop"}, labnet.HostSpec{Rules: "tcp dport 1-65535 drop"})
	// A sample holds the counters and the times before and after they
	// were read, so a window is judged by the longest span it can have.
	type sample struct {
		from, to time.Time
		n        [2]int
	}
	read := func() sample {
		s := sample{from: time.Now()}
		for i, h := range hosts {
			s.n[i] = h.Counter(t, "Ip", "InReceives")
		}
		s.to = time.Now()
		return s
	}
	base := read()
	var samples []sample
	sampleRun(t, 3*time.Millisecond, func() { samples = append(samples, read()) },
		"-n", "-Pn", "--method", "syn", "--max-host-rate", "40",
		"--timeout", "200ms", "--max-rtt-timeout", "300ms", "-p", "1-40", hosts[0].Addr.String(), hosts[1].Addr.String())
	last := samples[len(samples)-1]
	for i := range hosts {
		if got := last.n[i] - base.n[i]; got < 80 {
			t.Fatalf("host %s received %d packets, want 80 (40 ports, each tried twice)", hosts[i].Addr, got)
		}
	}
	const limit = 40*0.1 + 1
	both := 0 // windows in which both hosts got a probe
	for i := range samples {
		for j := i + 1; j < len(samples) && samples[j].to.Sub(samples[i].from) <= 100*time.Millisecond; j++ {
			a, b := samples[j].n[0]-samples[i].n[0], samples[j].n[1]-samples[i].n[1]
			if a > limit || b > limit {
				t.Fatalf("%d and %d packets reached the hosts within %v, want at most %d each", a, b, samples[j].to.Sub(samples[i].from), int(limit))
			}
			if a > 0 && b > 0 {
				both++
			}
		}
	}
	if both == 0 {
		t.Error("the hosts were never probed at the same time: the limit should be per host, not for the scan")
	}
}

// TestMinRateOnTheWire SYN-scans a lab host that answers nothing with
// one probe allowed in flight and samples the packets that reach it:
// alone, probe waits out each probe's timeout before the next, so no
// 200 ms holds two; with --min-rate it keeps its rate by sending past
// that limit.
func TestMinRateOnTheWire(t *testing.T) {
	labnet.Require(t)
	host := labnet.Lab(t, labnet.HostSpec{Rules: "tcp dport 1-65535 drop"})[0]
	type sample struct {
		at time.Time
		n  int
	}
	for _, tt := range []struct {
		args    []string
		atLeast int
		atMost  int
	}{
		{nil, 1, 1},
		{[]string{"--min-rate", "500"}, 5, 1 << 20},
	} {
		args := append([]string{"-n", "-Pn", "--method", "syn", "--concurrency", "1", "--retries", "0",
			"--timeout", "300ms", "--max-rtt-timeout", "300ms", "-p", "1-20"}, tt.args...)
		base := host.Counter(t, "Ip", "InReceives")
		var samples []sample
		sampleRun(t, 2*time.Millisecond, func() {
			samples = append(samples, sample{time.Now(), host.Counter(t, "Ip", "InReceives") - base})
		}, append(args, host.Addr.String())...)
		if n := samples[len(samples)-1].n; n != 20 {
			t.Fatalf("%v: %d packets reached the host, want 20", tt.args, n)
		}
		most := 0
		for i := range samples {
			for j := i + 1; j < len(samples) && samples[j].at.Sub(samples[i].at) <= 200*time.Millisecond; j++ {
				most = max(most, samples[j].n-samples[i].n)
			}
		}
		if most < tt.atLeast || most > tt.atMost {
			t.Errorf("%v: at most %d packets within 200 ms, want %d to %d", tt.args, most, tt.atLeast, tt.atMost)
		}
	}
}
