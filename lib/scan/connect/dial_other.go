//go:build !linux

package connect

import (
	"context"
	"errors"
	"net"
	"os"
	"time"

	"github.com/picketscan/picket/lib/scan"
)

// Send connects through the net package on systems without the
// raw-socket path; the outcome comes through the sink.
func (s *session) Send(p scan.Probe) (scan.Result, bool) {
	if err := s.ctx.Err(); err != nil {
		return scan.Result{Err: context.Cause(s.ctx)}, true
	}
	ctx, cancel := context.WithTimeout(s.ctx, Linger)
	c := &conn{cancel: cancel}
	k := key{p.Dst, p.Try}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return scan.Result{Err: errors.New("connect: session closed")}, true
	}
	s.pending[k] = c
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer cancel()
		start := time.Now()
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", p.Dst.String())
		if nc != nil {
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = nc.Close()
		}
		if !s.take(k, c) || ctx.Err() != nil {
			return
		}
		state, reason, ok := classify(err)
		r := scan.Result{State: state, Reason: reason, RTT: time.Since(start)}
		if !ok {
			r = failed(err)
		}
		s.sink(scan.Answer{Dst: p.Dst, Try: p.Try, Result: r})
	}()
	return scan.Result{}, false
}

// conn is a connect in progress.
type conn struct {
	cancel    context.CancelFunc
	lingering bool
}

func (c *conn) close() { c.cancel() }

func (c *conn) outcome(bool) (scan.Result, bool) { return scan.Result{}, false }

var _ = os.ErrDeadlineExceeded

func isENONET(error) bool { return false }
