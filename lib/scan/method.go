package scan

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/picketscan/picket/lib/ports"
)

// Port states, in Nmap's vocabulary.
const (
	StateOpen         = "open"
	StateClosed       = "closed"
	StateFiltered     = "filtered"
	StateOpenFiltered = "open|filtered"
)

// Reasons, in Nmap's words. A method may report others of Nmap's
// reasons; these are the ones the engine and the connect method use.
const (
	ReasonSynAck          = "syn-ack"
	ReasonConnRefused     = "conn-refused"
	ReasonReset           = "reset"
	ReasonNoResponse      = "no-response"
	ReasonHostUnreach     = "host-unreach"
	ReasonNetUnreach      = "net-unreach"
	ReasonProtoUnreach    = "proto-unreach"
	ReasonPortUnreach     = "port-unreach"
	ReasonDestUnreach     = "dest-unreach"
	ReasonAdminProhibited = "admin-prohibited"
	ReasonHostProhibited  = "host-prohibited"
	ReasonNetProhibited   = "net-prohibited"
	ReasonTimeExceeded    = "time-exceeded"
	ReasonParamProblem    = "param-problem"
	ReasonSourceQuench    = "source-quench"
	ReasonBeyondScope     = "beyond-scope"
	ReasonRejectRoute     = "reject-route"
	ReasonNoRoute         = "no-route"
)

// Method is one way of probing ports: a TCP connect, a raw SYN, a UDP
// datagram, a discovery ping. The engine decides what to probe and when
// (order, rate, per-host timing, timeouts, retries, stopping); a method
// only puts probes on the wire and recognises their answers.
//
// To add a method, write a package under lib/scan/ (lib/scan/connect is
// the model) with a type that implements Method and Session, check it
// with `var _ scan.Method = (*Method)(nil)`, and add one line for it to
// the table in lib/scan/methods. Nothing in the engine changes:
//
//   - A blocking method (connect) finishes what it can inside Send and
//     returns the result at once; what is still pending when Send returns
//     it reports later through the Sink, from its own goroutines.
//   - A stateless method (SYN, UDP) sends a packet in Send and returns
//     done false; a receiver goroutine started by Start matches replies
//     to destinations and reports them through the Sink. It needs no
//     table of probes: the engine matches an Answer by its Dst, takes
//     answers to earlier tries of a port while the port is still open to
//     question, and times out probes itself.
//   - A discovery method is a Method like any other: the discovery phase
//     sends it to the discovery ports and takes the first answer that
//     proves the host alive (open or closed).
type Method interface {
	// Proto is the protocol whose ports the method probes.
	Proto() ports.Proto
	// Start prepares the method for one scan and returns its session.
	// Answers that arrive after Send returned go to sink, which may be
	// called from any goroutine until Close returns. ctx ends when the
	// scan stops; the session must then send nothing more.
	Start(ctx context.Context, sink Sink) (Session, error)
}

// Session is a method at work for one scan. The engine calls Send from a
// few goroutines at once; a Session must be safe for that.
type Session interface {
	// Send puts probe p on the wire. When the outcome is already known
	// as Send returns (a connect answered at once, or a local failure),
	// it returns it with done true; otherwise the answer, if any, comes
	// later through the Sink.
	Send(p Probe) (r Result, done bool)
	// Expire tells the method that the engine stopped waiting for p.
	// The method frees what it holds for p and may return a last answer
	// it has for it (a connect reads the socket's error: an ICMP error
	// kept as a soft error). When final is false the engine will probe
	// the port again; the method may keep listening for a late answer
	// to p (a connect's kernel keeps resending its SYN) and report it
	// through the Sink.
	Expire(p Probe, final bool) (r Result, ok bool)
	// Close stops the session and waits for its goroutines; nothing is
	// sent after it returns.
	Close() error
}

// Sink receives answers that arrive after Send returned. It never blocks
// for long and may be called from any goroutine.
type Sink func(Answer)

// Probe is one probe of one port.
type Probe struct {
	Dst netip.AddrPort
	// Try counts the probes sent to this port before this one.
	Try int
}

// Answer is what came back for a destination.
type Answer struct {
	Dst netip.AddrPort
	// Try is the try the answer belongs to, or -1 when the method cannot
	// tell (a stateless method that does not encode it in the probe).
	Try    int
	Result Result
}

// Result is the outcome of one probe. Either State is set, or Err says
// why the probe could not be made (a local failure); such a probe tells
// nothing about the port.
type Result struct {
	State  string
	Reason string
	RTT    time.Duration // 0 when not measured
	TTL    int           // the answer's IP TTL or hop limit; 0 when not known
	Err    error
}

// answered reports whether the host itself sent something back, which
// proves it is up.
func (r Result) answered() bool {
	return r.Err == nil && (r.State == StateOpen || r.State == StateClosed)
}

// ErrTransient marks a local failure that may clear up if the probe waits
// a moment: no free ephemeral port, no file descriptor, no buffer. A
// method wraps such errors with Transient; the engine sends the probe
// again a little later instead of counting an error.
var ErrTransient = errors.New("local resources exhausted")

// Transient wraps err as a passing local failure (see ErrTransient).
func Transient(err error) error { return &transientError{err} }

type transientError struct{ err error }

func (e *transientError) Error() string        { return e.err.Error() }
func (e *transientError) Unwrap() error        { return e.err }
func (e *transientError) Is(target error) bool { return target == ErrTransient }

// MethodConfig is what a method is built with.
type MethodConfig struct {
	// Concurrency is the most probes the engine keeps in flight; a method
	// may size its buffers from it.
	Concurrency int
	// Files is how many file descriptors the method may hold at once, 0
	// for no known limit.
	Files int
}

// MethodSpec describes a method for the table in lib/scan/methods.
type MethodSpec struct {
	Name  string // as given to Options.Method, e.g. "connect"
	Proto ports.Proto
	Doc   string // one line for the command's help
	New   func(MethodConfig) (Method, error)
	// Tune, if set, adjusts the default timing for the method (not a
	// Timing given whole in Options): a raw SYN needs no FinalWait, which
	// exists for the kernel's own SYN resend under connect.
	Tune func(*Timing)
	// Concurrency is the method's default of probes in flight, 0 for
	// DefaultConcurrency. A stateless raw method holds no socket per
	// probe and keeps the kernel busy only with more in flight.
	Concurrency int
}

// DefaultConcurrency is the probes in flight of a method that names no
// default of its own.
const DefaultConcurrency = 512
