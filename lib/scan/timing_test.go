package scan

import (
	"testing"
	"time"
)

// window feeds one window of answers to t: good first-try answers and
// bad ones (answers to a resend), spread over a little more than
// minSpan from now. It returns whether the engine was told to slow down.
func window(t *hostTiming, now *time.Time, good, bad int) bool {
	n := good + bad
	step := (minSpan + 100*time.Millisecond) / time.Duration(n)
	slowed := false
	for i := range n {
		*now = now.Add(step)
		t.sent(*now)
		try := 0
		if i < bad {
			try = 1
		}
		if t.answered(try, time.Millisecond, *now) {
			slowed = true
		}
	}
	return slowed
}

// TestTimingRandomLossGivesUp drops half the first tries whatever the
// pace: the engine slows down a few times, sees no change, and gives up
// on pacing the host.
func TestTimingRandomLossGivesUp(t *testing.T) {
	c := DefaultTiming()
	now := time.Unix(0, 0)
	ht := newHostTiming(&c, 512, now)
	for range 20 {
		window(&ht, &now, 6, 6)
	}
	if ht.throttle != ThrottleGaveUp || ht.delay != 0 {
		t.Fatalf("throttle %q delay %v; want gave-up and no delay", ht.throttle, ht.delay)
	}
}

// TestTimingRateLimitSlows answers first tries only as fast as 50 a
// second: the engine slows down to about that pace and keeps the host
// there, never giving up.
func TestTimingRateLimitSlows(t *testing.T) {
	c := DefaultTiming()
	now := time.Unix(0, 0)
	ht := newHostTiming(&c, 512, now)
	const limit = 20 * time.Millisecond // 50/s
	for range 40 {
		share := min(1, float64(ht.delay)/float64(limit))
		good := int(12 * share)
		window(&ht, &now, good, 12-good)
		if ht.throttle == ThrottleGaveUp {
			t.Fatalf("gave up at delay %v", ht.delay)
		}
	}
	if ht.throttle != ThrottleSlowed || ht.delay < limit/2 || ht.delay > 8*limit {
		t.Fatalf("throttle %q delay %v; want slowed to about %v", ht.throttle, ht.delay, limit)
	}
}

// TestTimingRTO follows RFC 6298: SRTT + 4·RTTVAR within the bounds,
// the initial timeout before any sample, and a last try that outlasts
// the kernel's first SYN resend.
func TestTimingRTO(t *testing.T) {
	c := DefaultTiming()
	ht := newHostTiming(&c, 512, time.Unix(0, 0))
	if got := ht.timeout(false); got != time.Second {
		t.Errorf("initial timeout %v, want 1s", got)
	}
	ht.sample(200 * time.Millisecond)
	if got := ht.rto(); got != 600*time.Millisecond { // 200 + 4·100
		t.Errorf("rto after one sample of 200ms: %v, want 600ms", got)
	}
	for range 50 {
		ht.sample(time.Millisecond)
	}
	if got := ht.rto(); got != c.MinRTO {
		t.Errorf("rto on a fast link %v, want the floor %v", got, c.MinRTO)
	}
	if got := ht.timeout(true); got != c.FinalWait || got <= time.Second {
		t.Errorf("last try waits %v, want %v (over the kernel's 1 s SYN resend)", got, c.FinalWait)
	}
	if !ht.late(1100*time.Millisecond) || ht.late(50*time.Millisecond) {
		t.Error("an answer after a kernel resend must count as late")
	}
}

// TestTimingPacedStart: a paced round's first probe waits until the
// host has earned an error since its last error, and each further
// probe a pace after the one before; jitter in the host's round trips
// widens the pace.
func TestTimingPacedStart(t *testing.T) {
	c := DefaultTiming()
	c.SilentPace = time.Second
	now := time.Unix(0, 0)
	ht := newHostTiming(&c, 512, now)
	for _, rtt := range []time.Duration{time.Millisecond, 3 * time.Millisecond, time.Millisecond} {
		now = now.Add(10 * time.Millisecond)
		ht.sent(now)
		ht.answered(0, rtt, now)
	}
	last := now
	// A UDP reply (no round trip measured) costs the host no error.
	now = now.Add(50 * time.Millisecond)
	ht.answered(0, 0, now)
	pace := ht.pace()
	if pace <= c.SilentPace || pace > c.SilentPace+c.SilentPace/4 {
		t.Fatalf("pace %v with rttvar %v, want a little over %v", pace, ht.rttvar, c.SilentPace)
	}
	now = now.Add(300 * time.Millisecond)
	ht.startPaced(now, false)
	if want := last.Add(pace); !ht.next.Equal(want) {
		t.Fatalf("first paced probe at %v, want %v (a pace after the last error)", ht.next.Sub(last), pace)
	}
	now = ht.next
	ht.sent(now)
	if want := now.Add(pace); !ht.next.Equal(want) {
		t.Fatalf("next probe %v after a paced one, want %v", ht.next.Sub(now), pace)
	}
	// A round that starts long after the last answer starts at once; a
	// further round waits a pace (the last round's last answers may be
	// late).
	now = now.Add(5 * time.Second)
	ht.startPaced(now, false)
	if !ht.next.Equal(now) {
		t.Fatalf("round starting %v after the last probe waits %v, want none", 5*time.Second, ht.next.Sub(now))
	}
	ht.startPaced(now, true)
	if want := now.Add(pace); !ht.next.Equal(want) {
		t.Fatalf("further round waits %v, want %v", ht.next.Sub(now), pace)
	}
}

// TestTimingSlowRefill: errors a pace apart (or a silent port more)
// leave the pace alone; errors two paces apart make it the gap.
func TestTimingSlowRefill(t *testing.T) {
	c := DefaultTiming()
	c.SilentPace = time.Second
	start := time.Unix(100, 0)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, start.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	for _, tc := range []struct {
		name  string
		erred int // ms from start of the last error before the round
		sends []time.Time
		slow  bool
	}{
		{"at the pace", -1000, at(0, 1000, 2200, 3200), false},
		{"one error", -1000, at(0), false},
		{"one error, two paces late", -1000, at(1000), true},
		{"every two seconds", -1000, at(1000, 3000, 5000), true},
		{"round started late", -3000, at(0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ht := newHostTiming(&c, 512, start)
			ht.erred = start.Add(time.Duration(tc.erred) * time.Millisecond)
			ht.paceStart = start
			if got := ht.slowRefill(tc.sends, true); got != tc.slow {
				t.Fatalf("slowRefill = %v, want %v", got, tc.slow)
			}
			if tc.slow && ht.pace() < 2*time.Second {
				t.Errorf("pace %v after errors two seconds apart", ht.pace())
			}
			if !tc.slow && ht.pace() != c.SilentPace {
				t.Errorf("pace %v, want %v", ht.pace(), c.SilentPace)
			}
		})
	}
}
