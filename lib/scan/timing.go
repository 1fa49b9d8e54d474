package scan

import "time"

// Timing holds the defaults of the engine's per-host timing, in the
// spirit of Nmap's: round-trip times measured per host give its timeout
// (RFC 6298: SRTT + 4·RTTVAR), a congestion window bounds the probes in
// flight to it, and drops — ports that answer only a resent probe — make
// the engine slow down for that host and probe its unanswered ports
// again.
type Timing struct {
	InitialRTO time.Duration // timeout before a host's first answer
	MinRTO     time.Duration
	MaxRTO     time.Duration
	// FinalWait is the least time the last try of a port waits: longer
	// than the kernel's first SYN resend (1 s), so a connect's own
	// resend can still be answered.
	FinalWait time.Duration
	// MaxDelay bounds the pause between probes to one host when it
	// drops probes sent faster.
	MaxDelay time.Duration
	InitCwnd float64
}

// DefaultTiming is the timing a scan uses unless told otherwise.
var DefaultTiming = Timing{
	InitialRTO: time.Second,
	MinRTO:     100 * time.Millisecond,
	MaxRTO:     10 * time.Second,
	FinalWait:  1500 * time.Millisecond,
	MaxDelay:   1500 * time.Millisecond,
	InitCwnd:   10,
}

// Throttle values of a host event: how the engine had to pace a host.
const (
	// ThrottleSlowed: the host dropped probes sent fast (a rate limit on
	// SYNs, or on the ICMP errors of a firewall), and answered once the
	// engine sent slower.
	ThrottleSlowed = "slowed"
	// ThrottleGaveUp: the host kept dropping probes however slowly they
	// were sent, so the engine stopped slowing down and relied on
	// resending; ports still unanswered are filtered.
	ThrottleGaveUp = "gave-up"
)

// minWindow is how many answers a host gives before the engine judges
// whether it drops probes.
const minWindow = 10

// hostTiming is the timing state of one host.
type hostTiming struct {
	c            *Timing
	maxCwnd      float64
	srtt, rttvar time.Duration
	samples      int
	cwnd         float64
	ssthresh     float64

	delay time.Duration // pause between probes to this host
	next  time.Time     // earliest time of the next probe

	maxTry int // highest try of a port that was answered

	// The current window of answers: good ones answered their first
	// try, bad ones only a resent probe (the earlier ones were dropped).
	good, bad int
	winStart  time.Time
	prevGood  float64 // share of good answers before the last slowdown
	futile    int     // slowdowns in a row that did not help
	throttle  string
}

func newHostTiming(c *Timing, maxCwnd int, now time.Time) hostTiming {
	return hostTiming{c: c, maxCwnd: float64(max(1, maxCwnd)), cwnd: min(c.InitCwnd, float64(max(1, maxCwnd))),
		ssthresh: float64(max(1, maxCwnd)), winStart: now}
}

// seed starts the RTT estimate from an earlier measurement (the ping).
func (t *hostTiming) seed(rtt time.Duration) {
	if rtt > 0 {
		t.sample(rtt)
	}
}

// rto is the time to wait for an answer to a probe.
func (t *hostTiming) rto() time.Duration {
	if t.samples == 0 {
		return t.c.InitialRTO
	}
	return min(max(t.srtt+4*t.rttvar, t.c.MinRTO), t.c.MaxRTO)
}

// timeout is the time to wait for try number try of a port, last
// telling whether no further try will follow.
func (t *hostTiming) timeout(last bool) time.Duration {
	d := t.rto()
	if last {
		d = max(d, t.c.FinalWait)
	}
	return d
}

func (t *hostTiming) sample(rtt time.Duration) {
	if t.samples == 0 {
		t.srtt, t.rttvar = rtt, rtt/2
	} else {
		diff := t.srtt - rtt
		if diff < 0 {
			diff = -diff
		}
		t.rttvar = (3*t.rttvar + diff) / 4
		t.srtt = (7*t.srtt + rtt) / 8
	}
	t.samples++
}

// window is how many probes may be in flight to the host.
func (t *hostTiming) window() int { return max(1, int(t.cwnd)) }

// sent records a probe sent at now.
func (t *hostTiming) sent(now time.Time) {
	if t.delay > 0 {
		t.next = now.Add(t.delay)
	}
}

// allowedRetries is how often an unanswered port may be probed again:
// once, and as often as the host has needed so far for some port, up to
// max.
func (t *hostTiming) allowedRetries(max_ int) int {
	return min(max_, max(1, t.maxTry+1))
}

// answered records an answer to try number try (-1: unknown) with the
// measured rtt. It reports whether the engine should slow down for the
// host and probe its unanswered ports again.
func (t *hostTiming) answered(try int, rtt time.Duration, now time.Time) (reprobe bool) {
	// An RTT over a second spans a resent SYN: it measures the loss,
	// not the path.
	if rtt > 0 && rtt < time.Second {
		t.sample(rtt)
	}
	if try > t.maxTry {
		t.maxTry = try
	}
	if try > 0 {
		t.bad++
		// A drop: halve the window, as TCP does.
		t.ssthresh = max(2, t.cwnd/2)
		t.cwnd = t.ssthresh
	} else {
		t.good++
		if t.cwnd < t.ssthresh {
			t.cwnd++
		} else {
			t.cwnd += 1 / t.cwnd
		}
		t.cwnd = min(t.cwnd, t.maxCwnd)
	}
	n := t.good + t.bad
	if n < minWindow {
		return false
	}
	good := float64(t.good) / float64(n)
	lossy := t.bad*5 > n // a fifth of the answers needed a resend
	elapsed := now.Sub(t.winStart)
	t.good, t.bad, t.winStart = 0, 0, now
	switch {
	case !lossy:
		t.futile = 0
		return false
	case t.throttle == ThrottleGaveUp:
		return false
	case t.delay > 0 && good < t.prevGood*1.4 && good < 0.8:
		// Slowing down did not make the host answer more of the
		// first tries: the loss does not depend on the rate.
		t.futile++
		if t.futile >= 2 {
			t.throttle = ThrottleGaveUp
			t.delay = 0
			t.next = time.Time{}
			return false
		}
	default:
		t.futile = 0
	}
	t.prevGood = good
	// Send no faster than the host answered, with some room, and at
	// least half as fast as before.
	d := max(2*t.delay, 5*time.Millisecond)
	if elapsed > 0 {
		d = max(d, elapsed*5/4/time.Duration(n))
	}
	t.delay = min(d, t.c.MaxDelay)
	if t.throttle == "" {
		t.throttle = ThrottleSlowed
	}
	return true
}
