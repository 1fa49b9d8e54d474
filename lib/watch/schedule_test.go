package watch

import (
	"testing"
	"time"
)

func TestScheduleDelay(t *testing.T) {
	var asked []time.Duration
	rand := func(n time.Duration) time.Duration { asked = append(asked, n); return n / 2 }
	s := newSchedule(time.Hour, 10*time.Minute, rand)
	defer s.stop()
	// The first firing is one interval away plus jitter; the jitter
	// does not move the base, so the next one is two intervals from
	// the start (plus its own jitter), not 2h10m.
	start := s.base.Add(-time.Hour)
	d := s.delay()
	if want := 2*time.Hour + 5*time.Minute; absDiff(time.Until(start)+d, want) > time.Second {
		t.Errorf("second firing %s after start, want %s", time.Until(start)+d, want)
	}
	for _, n := range asked {
		if n != 10*time.Minute {
			t.Errorf("jitter drawn below %s, want below 10m", n)
		}
	}
	// A firing missed by far (the machine slept) is not made up.
	s.base = time.Now().Add(-5 * time.Hour)
	if d := s.delay(); d > 5*time.Minute+time.Second {
		t.Errorf("after a long sleep the next firing is %s away, want at once plus jitter", d)
	}
	// Without jitter no random number is drawn.
	asked = nil
	s2 := newSchedule(time.Minute, 0, rand)
	defer s2.stop()
	if len(asked) != 0 {
		t.Errorf("jitter drawn without --jitter")
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}
