package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// worker delivers the alerts of one route, in order, one at a time.
type worker struct {
	d     *dispatcher
	route *Route
	wake  chan struct{}

	mu     sync.Mutex
	queue  []*Alert
	closed bool
	down   bool // gave up on this sink for this run
}

func (w *worker) push(a *Alert) {
	w.mu.Lock()
	w.queue = append(w.queue, a)
	w.mu.Unlock()
	w.signal()
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) pop() (*Alert, bool, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) > 0 {
		a := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		return a, true, false
	}
	return nil, false, w.closed
}

func (w *worker) run(ctx context.Context) {
	name := w.route.Sink.Name()
	log := w.d.cfg.Log.With("sink", name)
	for {
		a, ok, closed := w.pop()
		if !ok {
			if closed {
				return
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				w.drain()
				return
			}
			continue
		}
		if w.down || ctx.Err() != nil {
			w.d.count(false)
			continue
		}
		err := w.deliver(ctx, a, log)
		if err == nil {
			if serr := w.d.cfg.Spool.Delivered(a.Key, name); serr != nil {
				log.Error("delivered, but could not record it: the alert may be sent again", "key", a.Key, "err", serr)
			}
			w.d.count(true)
			continue
		}
		w.d.count(false)
		if ctx.Err() != nil {
			continue
		}
		if IsPermanent(err) {
			log.Error("delivery refused; alert kept in the spool", "key", a.Key, "err", err)
			continue
		}
		log.Error("giving up on this sink for this run; alerts kept in the spool", "key", a.Key, "err", err)
		w.down = true
	}
}

// drain counts what is left in the queue as undelivered.
func (w *worker) drain() {
	w.mu.Lock()
	n := len(w.queue)
	w.queue = nil
	w.mu.Unlock()
	for range n {
		w.d.count(false)
	}
}

// deliver tries to send a until it succeeds, fails permanently, or the
// retry budget runs out.
func (w *worker) deliver(ctx context.Context, a *Alert, log *slog.Logger) error {
	r := w.route
	pol := w.d.cfg.Retry
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(pol.Budget)
	for attempt := 0; ; attempt++ {
		if r.Limit != nil {
			if err := r.Limit.Wait(ctx); err != nil {
				return context.Cause(ctx)
			}
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := safeSend(actx, r.Sink, a)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
			err = fmt.Errorf("%w (timeout %s)", err, timeout)
		}
		if IsPermanent(err) {
			return err
		}
		wait := Backoff(pol, attempt, rand.Float64())
		if ra := retryAfter(err); ra > wait {
			wait = ra
		}
		if time.Until(deadline) < wait {
			return fmt.Errorf("after %d attempts: %w", attempt+1, err)
		}
		log.Warn("delivery failed; retrying", "key", a.Key, "attempt", attempt+1, "wait", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// Backoff is the wait before retry attempt+1: Base·2^attempt capped at
// Max, with full jitter (a uniform share, r in [0,1), of that, but at
// least a tenth of it).
func Backoff(p Retry, attempt int, r float64) time.Duration {
	d := p.Base
	for i := 0; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return d/10 + time.Duration(r*float64(d-d/10))
}

// safeSend calls the sink, turning a panic into an error so one broken
// sink cannot take the others down.
func safeSend(ctx context.Context, s Sink, a *Alert) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("%s: panic: %v", s.Name(), p))
		}
	}()
	return s.Send(ctx, a)
}
