package watch

import "time"

// schedule fires every interval, each time delayed by a random jitter
// below a bound. The jitter does not accumulate: the n-th firing is due at
// start + n×every + a fresh jitter, so runs keep their average rate. A
// firing missed by far (the machine slept) is not made up several times
// over: the schedule starts again from now.
type schedule struct {
	every, jitter time.Duration
	rand          func(time.Duration) time.Duration
	base          time.Time
	timer         *time.Timer
}

func newSchedule(every, jitter time.Duration, rand func(time.Duration) time.Duration) *schedule {
	s := &schedule{every: every, jitter: jitter, rand: rand, base: time.Now()}
	s.timer = time.NewTimer(s.delay())
	return s
}

// C fires when a run is due; call next after each firing.
func (s *schedule) C() <-chan time.Time { return s.timer.C }

// next arms the timer for the following run.
func (s *schedule) next() { s.timer.Reset(s.delay()) }

func (s *schedule) stop() { s.timer.Stop() }

// delay advances the base by one interval and returns how long to wait
// from now for it, plus jitter.
func (s *schedule) delay() time.Duration {
	now := time.Now()
	s.base = s.base.Add(s.every)
	if s.base.Before(now) {
		s.base = now
	}
	d := s.base.Sub(now)
	if s.jitter > 0 {
		d += s.rand(s.jitter)
	}
	return d
}
