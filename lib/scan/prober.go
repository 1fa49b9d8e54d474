package scan

import (
	"context"
	"net/netip"
	"time"
)

// Port states and reasons, in Nmap's vocabulary.
const (
	StateOpen     = "open"
	StateClosed   = "closed"
	StateFiltered = "filtered"

	ReasonSynAck          = "syn-ack"
	ReasonConnRefused     = "conn-refused"
	ReasonReset           = "reset"
	ReasonNoResponse      = "no-response"
	ReasonHostUnreach     = "host-unreach"
	ReasonNetUnreach      = "net-unreach"
	ReasonAdminProhibited = "admin-prohibited"
)

// Prober sends one probe to one port and says what came back. Each scan
// method (connect today; raw SYN and UDP later) is one Prober.
type Prober interface {
	Probe(ctx context.Context, dst netip.AddrPort) Result
}

// Result is the outcome of one probe. Either State is set, or Err says
// why the probe could not be made (a local failure, or cancellation);
// such a probe tells nothing about the port.
type Result struct {
	State  string
	Reason string
	RTT    time.Duration
	Err    error
}

// answered reports whether the host itself sent something back, which
// proves it is up.
func (r Result) answered() bool {
	return r.State == StateOpen || r.State == StateClosed
}

// unanswered reports whether the probe timed out and may be sent again.
func (r Result) unanswered() bool {
	return r.Err == nil && r.Reason == ReasonNoResponse
}
