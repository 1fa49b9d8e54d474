package scan

import (
	"math"
	"time"
)

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
	// SilentPace, when set, is how long a host takes to earn the right
	// to send one more error (Linux: one ICMP error a second towards a
	// given address, after a burst of six; net.ipv4.icmp_ratelimit),
	// with a little room. A UDP scan sets it; without it a rate-limited
	// closed port looks open|filtered. Once a host has answered some
	// port closed, its silent ports get no resends of their own but a
	// paced round: one probe at a time, the first a SilentPace after the
	// host's last error, each further one a SilentPace after a probe
	// that may have spent an error, or at once after one that stayed
	// silent (it spent nothing). Every probe of the round so finds an
	// error to spend; a silent port is asked once more at once (in case
	// its probe came a little early), then its silence is final.
	SilentPace time.Duration
	// SilentRounds bounds those rounds per host. A further round follows
	// only one in which a port judged silent answered late (the probe
	// sent right after it found the host's budget spent), or whose
	// errors came further apart than the pace (the host refills slower
	// than assumed; the further round takes its pace from them).
	SilentRounds int
	// MinGap is the least time between two probes to one host
	// (--max-host-rate), so a fragile device is never sent more than
	// one probe per MinGap, whatever else the scan does.
	MinGap time.Duration
}

// DefaultTiming is the timing a scan uses unless told otherwise.
func DefaultTiming() Timing {
	return Timing{
		InitialRTO: time.Second,
		MinRTO:     100 * time.Millisecond,
		MaxRTO:     10 * time.Second,
		FinalWait:  1500 * time.Millisecond,
		MaxDelay:   1500 * time.Millisecond,
		InitCwnd:   10,
	}
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

// A host is judged on whether it drops probes once it gave minWindow
// answers over at least minSpan: drops show as answers to resent probes,
// which come in bunches a second or so after the first tries.
const (
	minWindow = 10
	minSpan   = time.Second
)

// hostTiming is the timing state of one host.
type hostTiming struct {
	c            *Timing
	maxCwnd      float64
	srtt, rttvar time.Duration
	samples      int
	cwnd         float64
	ssthresh     float64

	delay time.Duration // pause between probes to this host
	floor time.Duration // least delay, while silent ports are asked again
	next  time.Time     // earliest time of the next probe
	// gapNext is the earliest time of the next probe by MinGap alone: a
	// limit that neither a paced round nor --min-rate may cut short,
	// where next may be moved.
	gapNext time.Time
	// heard is when the host last answered; erred when it last sent an
	// answer with a measured round trip. The UDP method measures the
	// round trip of ICMP errors only, which spend the host's
	// rate-limited budget; its UDP replies cost nothing.
	heard, erred time.Time
	// least is the least timeout, raised when a paced round saw answers
	// come later than the timeout of the time.
	least time.Duration
	// refill is the host's own refill time of its error budget, when a
	// paced round found it slower than Timing.SilentPace; paceStart is
	// when the current paced round started.
	refill    time.Duration
	paceStart time.Time

	maxTry int // highest try of a port that was answered

	// The current window of answers: good ones answered their first
	// try, bad ones only a resent probe (the earlier ones were dropped);
	// sends counts the probes sent in the window.
	good, bad, sends int
	winStart         time.Time
	prevShare        float64 // share of first-try answers before the last slowdown
	judged           bool    // prevShare is set
	lastCut          time.Time
	futile           int // slowdowns in a row that did not help
	throttle         string
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
		return max(t.c.InitialRTO, min(t.least, t.c.MaxRTO))
	}
	return min(max(t.srtt+4*t.rttvar, t.c.MinRTO, t.least), t.c.MaxRTO)
}

// waitAtLeast makes the host's timeout at least d from now on.
func (t *hostTiming) waitAtLeast(d time.Duration) { t.least = max(t.least, d) }

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
	t.sends++
	if t.c.MinGap > 0 {
		t.gapNext = now.Add(t.c.MinGap)
	}
	if d := max(t.delay, t.floor, t.c.MinGap); d > 0 {
		t.next = now.Add(d)
	}
}

// pace is the least time between a probe that may spend one of the
// host's rate-limited errors and the next probe of a paced round: the
// refill time of its error budget, and the jitter of its round trips
// (an error is spent when a probe arrives, not when it leaves).
func (t *hostTiming) pace() time.Duration {
	p := max(t.c.SilentPace, t.refill)
	return p + min(t.rttvar, p/4)
}

// slowRefill judges the paced round that just ended from the send times
// of its probes that drew an error (sorted), and for a first round that
// started in time the host's last error before it: on a host that
// refills as fast as the pace assumes, two of them follow each other a
// pace apart (or a few silent probes more). When even the closest two
// are half a pace further apart, the host refills slower: the round's
// silent probes may have come before the host had an error to send.
// Then the pace becomes that gap, and it reports true.
func (t *hostTiming) slowRefill(sends []time.Time, first bool) bool {
	if first && !t.erred.IsZero() && !t.paceStart.After(t.erred.Add(t.pace())) {
		// The round's first probe went a pace after that error.
		sends = append([]time.Time{t.erred}, sends...)
	}
	if len(sends) < 2 {
		return false
	}
	gap := time.Duration(math.MaxInt64)
	for i := 1; i < len(sends); i++ {
		gap = min(gap, sends[i].Sub(sends[i-1]))
	}
	if p := t.pace(); gap <= p*3/2 {
		return false
	}
	t.refill = min(gap, t.c.MaxRTO)
	return true
}

// startPaced switches the host to paced probing at now: one probe per
// pace, the first no earlier than a pace after its last error (its last
// answer if no round trip was measured). A further round (again) waits a
// pace from now: an answer to the last round's last probes may still be
// on its way, its error spent.
func (t *hostTiming) startPaced(now time.Time, again bool) {
	p := t.pace()
	t.floor = p
	t.paceStart = now
	first := now
	if again {
		first = now.Add(p)
	}
	last := t.erred
	if last.IsZero() {
		last = t.heard // no round trips measured: any answer may have cost
	}
	for _, at := range []time.Time{first, last.Add(p)} {
		if at.After(t.next) {
			t.next = at
		}
	}
}

// allowedRetries is how often an unanswered port may be probed again:
// once, and as often as the host has needed so far for some port, up to
// max.
func (t *hostTiming) allowedRetries(max_ int) int {
	return min(max_, max(1, t.maxTry+1))
}

// expired records a probe that got no answer in time. A silent port
// (a firewall's drop) is no sign of congestion: the window grows as for
// an answer, or a host that drops most ports would be probed a few ports
// at a time. Drops that a rate limit causes show as answers to resent
// probes, which shrink the window and slow the host down.
func (t *hostTiming) expired() { t.grow() }

func (t *hostTiming) grow() {
	if t.cwnd < t.ssthresh {
		t.cwnd++
	} else {
		t.cwnd += 1 / t.cwnd
	}
	t.cwnd = min(t.cwnd, t.maxCwnd)
}

// late reports whether an RTT spans one of the kernel's SYN resends (a
// second or more where the host usually answers much faster): the first
// SYN was dropped.
func (t *hostTiming) late(rtt time.Duration) bool {
	return rtt >= 900*time.Millisecond && (t.samples == 0 || rtt > 4*t.srtt)
}

// answered records an answer to try number try (-1: unknown) with the
// measured rtt. It reports whether the engine should slow down for the
// host and probe its unanswered ports again.
func (t *hostTiming) answered(try int, rtt time.Duration, now time.Time) (reprobe bool) {
	t.heard = now
	if rtt > 0 {
		t.erred = now
	}
	late := t.late(rtt)
	if rtt > 0 && !late {
		t.sample(rtt)
	}
	if late && try < 1 {
		try = 1
	}
	if try > t.maxTry {
		t.maxTry = try
	}
	if try > 0 {
		// A drop: halve the window, as TCP does, once per round trip —
		// unless the drops were found not to depend on the pace.
		t.bad++
		if t.throttle != ThrottleGaveUp && now.Sub(t.lastCut) > max(2*t.srtt, 100*time.Millisecond) {
			t.ssthresh = max(2, t.cwnd/2)
			t.cwnd = t.ssthresh
			t.lastCut = now
		}
	} else {
		t.good++
		t.grow()
	}
	if t.good+t.bad < minWindow || now.Sub(t.winStart) < minSpan {
		return false
	}
	return t.evaluate(now, false)
}

// suspect reports whether the host dropped probes since the last
// judgement, or answered for ports it had left unanswered before (recovered),
// and the engine may still slow down for it: then its unanswered ports
// are not final yet.
func (t *hostTiming) suspect(recovered bool) bool {
	return (t.bad > 0 || recovered) && t.throttle != ThrottleGaveUp && t.delay < t.c.MaxDelay
}

// evaluate judges the current window of answers: when too many of them
// needed a resend, the engine slows down for the host (and the caller
// probes its unanswered ports again), unless slowing down has not made
// the host answer a larger share of first tries, three times in a row — then
// the loss does not depend on the rate, and the engine gives up on
// slowing down. A window without drops speeds the host up by a quarter.
// force judges a short window at the end of a host.
func (t *hostTiming) evaluate(now time.Time, force bool) (reprobe bool) {
	n := t.good + t.bad
	lossy := t.bad*5 > n || force
	// The share of answers that came at the first try: a rate limit
	// lets more of the first tries through when probes come slower;
	// random loss does not.
	share := float64(t.good) / float64(max(1, n))
	judge := !force && n >= minWindow
	elapsed := now.Sub(t.winStart)
	t.good, t.bad, t.sends, t.winStart = 0, 0, 0, now
	if !lossy {
		// The pace works: a later slowdown is judged afresh.
		t.futile, t.judged = 0, false
		if t.delay > 0 && !force {
			// Answered well: try a little faster, as TCP grows its
			// window; drops will slow it down again.
			t.delay = t.delay * 3 / 4
			if t.delay < time.Millisecond {
				t.delay = 0
			}
		}
		return false
	}
	if t.throttle == ThrottleGaveUp {
		return false
	}
	if judge && t.delay > 0 && t.judged {
		if share < 0.8 && share < t.prevShare*1.4+0.05 {
			t.futile++
			if t.futile >= 3 {
				t.throttle = ThrottleGaveUp
				t.delay = 0
				t.next = time.Time{}
				t.cwnd = max(t.cwnd, t.c.InitCwnd)
				t.ssthresh = t.maxCwnd
				return false
			}
		} else {
			t.futile = 0
		}
	}
	if judge {
		t.prevShare, t.judged = share, true
	}
	// Send no faster than the host answered, with a tenth of room, and
	// at least half and at most a quarter as fast as before. (The
	// answers of a window that spent time waiting for timeouts come
	// slower than the host could answer, hence the bound.)
	least := max(2*t.delay, 5*time.Millisecond)
	d := least
	if elapsed > 0 && n > 0 {
		d = min(max(d, elapsed*11/10/time.Duration(n)), 2*least)
	}
	t.delay = min(d, t.c.MaxDelay)
	if t.throttle == "" {
		t.throttle = ThrottleSlowed
	}
	return true
}
