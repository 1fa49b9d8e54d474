package service

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	svctls "github.com/picketscan/picket/lib/service/tls"
)

// probeTCP runs the TCP sequence: TLS first on ports where TLS is
// expected, then the probes in clear text, and the probes again inside
// TLS when an answer showed TLS.
func (s *session) probeTCP(ctx context.Context) {
	if s.e.sslPorts.Contains(s.t.Port) {
		if s.startTLS(ctx) {
			s.sequence(ctx)
			if s.hard != nil || ctx.Err() != nil {
				return
			}
		}
	}
	if !s.tunnel {
		s.sequence(ctx)
	}
	if s.hard != nil && !s.tunnel && !s.tlsTried && (s.hard.Match.Service == "ssl" || s.hard.Match.SSL) && ctx.Err() == nil {
		clear := s.hard
		if s.startTLS(ctx) {
			s.hard, s.soft = nil, nil
			s.sequence(ctx)
			if s.hard == nil && clear.Match.SSL {
				s.hard = clear
			}
		}
	}
}

// startTLS tries a TLS handshake; on success later probes run inside TLS.
func (s *session) startTLS(ctx context.Context) bool {
	s.tlsTried = true
	cctx, cancel := context.WithTimeout(ctx, s.e.cfg.Timeout)
	defer cancel()
	conn, err := s.e.cfg.Dial(cctx, "tcp", s.addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(cctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tc, info, err := svctls.Handshake(cctx, conn, s.t.Hostname)
	if err != nil {
		return false
	}
	_ = tc.Close()
	s.tls, s.tunnel = info, true
	return true
}

// dial opens a connection for one probe, inside TLS when the session
// found it.
func (s *session) dial(ctx context.Context) (net.Conn, error) {
	conn, err := s.e.cfg.Dial(ctx, "tcp", s.addr)
	if err != nil || !s.tunnel {
		return conn, err
	}
	tc := cryptotls.Client(conn, svctls.Config(s.t.Hostname))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// sequence runs NULL (with the most likely probe alongside it), then the
// other probes until one gives a hard match.
func (s *session) sequence(ctx context.Context) {
	likely, rest := s.order(TCP)
	null := s.e.null[TCP]
	var first *Probe
	if len(likely) > 0 {
		first, likely = likely[0], likely[1:]
	}
	// The NULL probe waits for a banner; a service that waits for the
	// client instead answers the port's most likely probe meanwhile, so
	// both run at once and the first hard match ends both.
	pctx, cancel := context.WithCancel(ctx)
	fctx, fcancel := context.WithCancel(pctx)
	defer fcancel()
	var wg sync.WaitGroup
	firstDone := make(chan struct{})
	if first != nil {
		wg.Go(func() {
			defer close(firstDone)
			if s.exchange(fctx, first, nil, 1) {
				cancel()
			}
		})
	} else {
		close(firstDone)
	}
	var reuse net.Conn
	serial := false
	if null != nil {
		if s.nullProbe(pctx, null, &reuse) {
			cancel()
		}
	}
	if reuse != nil {
		select {
		case <-firstDone:
		default:
			// The service waits for the client, yet the likely probe
			// has no answer either: a server that handles one
			// connection at a time is still busy with the NULL
			// probe's. Send the likely probe on that connection
			// instead, as Nmap would.
			// Such a server would also leave parallel probes waiting
			// in its queue until they time out, so the rest go one
			// at a time.
			fcancel()
			wg.Wait()
			if !s.hasHard() {
				likely = append([]*Probe{first}, likely...)
			}
			serial = true
		}
	}
	wg.Wait()
	cancel()
	if s.hard != nil || s.wrapped || ctx.Err() != nil {
		if reuse != nil {
			reuse.Close()
		}
		return
	}
	// The other probes run a few at a time, each on its own connection
	// (the first may take over the NULL probe's silent one).
	parallel := s.e.cfg.Parallel
	if serial {
		parallel = 1
	}
	var reuseMu sync.Mutex
	s.runProbes(ctx, slices.Concat(likely, rest), parallel, func(ctx context.Context, p *Probe, rank int) bool {
		// The first probe sent takes the NULL probe's connection.
		reuseMu.Lock()
		conn := reuse
		reuse = nil
		reuseMu.Unlock()
		return s.exchange(ctx, p, conn, 2+rank)
	})
	reuseMu.Lock()
	if reuse != nil {
		reuse.Close()
	}
	reuseMu.Unlock()
}

// runProbes sends probes in order, up to parallel at once, through send
// (which reports a hard match). A hard match stops the sending and
// cancels the probes sent after it; those sent before it may still end
// with a hard match of their own, which then wins. send runs on a
// goroutine of its own for each probe.
func (s *session) runProbes(ctx context.Context, probes []*Probe, parallel int, send func(context.Context, *Probe, int) bool) {
	var mu sync.Mutex
	stop := math.MaxInt // rank of the best hard match so far
	cancels := map[int]context.CancelFunc{}
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	stopped := func(rank int) bool {
		mu.Lock()
		defer mu.Unlock()
		return rank > stop
	}
	for rank, p := range probes {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || stopped(rank) || s.hasHard() {
			break
		}
		if only := s.onlyService(); only != "" && !s.e.matcher.CanMatch(p, only) {
			<-slots
			continue
		}
		pctx, pcancel := context.WithCancel(ctx)
		mu.Lock()
		cancels[rank] = pcancel
		mu.Unlock()
		wg.Go(func() {
			defer func() { <-slots }()
			defer pcancel()
			if !send(pctx, p, rank) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if rank < stop {
				stop = rank
				for r, c := range cancels {
					if r > rank {
						c()
					}
				}
			}
		})
	}
	wg.Wait()
}

// nullProbe connects and waits for a banner. When nothing came, the open
// connection is handed back in reuse for the next probe, as Nmap does.
// It reports whether a hard match was found.
func (s *session) nullProbe(ctx context.Context, null *Probe, reuse *net.Conn) bool {
	cctx, cancel := context.WithTimeout(ctx, s.e.cfg.Timeout)
	defer cancel()
	start := time.Now()
	conn, err := s.dial(cctx)
	if err != nil {
		// A reset before the connect call even returns is a port that
		// accepts and hangs up at once, as TCP wrappers do.
		if errors.Is(err, syscall.ECONNRESET) && !s.tunnel && time.Since(start) < null.TCPWrapped {
			s.markWrapped()
		}
		return false
	}
	wait := min(null.TotalWait, s.e.cfg.BannerWait, s.e.cfg.Timeout)
	answer, closed := s.read(cctx, conn, null, wait)
	if len(answer) == 0 {
		if closed && !s.tunnel && time.Since(start) < null.TCPWrapped && ctx.Err() == nil {
			s.markWrapped()
		}
		if !closed && ctx.Err() == nil {
			*reuse = conn
			return false
		}
		conn.Close()
		return false
	}
	conn.Close()
	return s.record(null, answer, 0)
}

// exchange sends probe p (on conn when given, else on a new connection)
// and matches the answer. It reports whether a hard match was found.
func (s *session) exchange(ctx context.Context, p *Probe, conn net.Conn, rank int) bool {
	cctx, cancel := context.WithTimeout(ctx, s.e.cfg.Timeout)
	defer cancel()
	if conn == nil {
		var err error
		if conn, err = s.dial(cctx); err != nil {
			return false
		}
	}
	defer conn.Close()
	stop := context.AfterFunc(cctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = conn.SetWriteDeadline(time.Now().Add(s.e.cfg.Timeout))
	if _, err := conn.Write(p.Payload); err != nil {
		return false
	}
	answer, _ := s.read(cctx, conn, p, min(p.TotalWait, s.e.cfg.Timeout))
	return s.record(p, answer, rank)
}

// read collects an answer to p for up to wait, stopping early at the
// size bound, when the peer closes, when the answer pauses for idleGap
// after some data, or when a partial answer already gives a hard match.
// closed reports an end of stream (or reset) from the peer.
func (s *session) read(ctx context.Context, conn net.Conn, p *Probe, wait time.Duration) (answer []byte, closed bool) {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	end := time.Now().Add(wait)
	buf := make([]byte, 0, 4096)
	interim := 0
	for len(buf) < s.e.cfg.MaxAnswer {
		deadline := end
		if gap := time.Now().Add(idleGap); len(buf) > 0 && gap.Before(end) {
			deadline = gap
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		_ = conn.SetReadDeadline(deadline)
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), s.e.cfg.MaxAnswer-len(buf)))
		}
		n, err := conn.Read(buf[len(buf):min(cap(buf), s.e.cfg.MaxAnswer)])
		buf = buf[:len(buf)+n]
		if n > 0 && interim < maxInterimMatches {
			interim++
			if hard, _ := s.e.matcher.Match(p, buf, s.onlyService(), 0); hard != nil {
				break
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			closed = errors.Is(err, io.EOF) || !errors.Is(err, net.ErrClosed)
			break
		}
	}
	return buf, closed
}
