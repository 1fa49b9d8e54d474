package service

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/picketscan/picket/lib/event"
	svchttp "github.com/picketscan/picket/lib/service/http"
	svcssh "github.com/picketscan/picket/lib/service/ssh"
)

// Engine defaults.
const (
	DefaultIntensity  = 7
	DefaultTimeout    = 5 * time.Second
	DefaultBannerWait = 2 * time.Second
	DefaultMaxAnswer  = 16 << 10
	DefaultParallel   = 4
)

// Confidence levels written in service.conf, as Nmap uses them.
const (
	confHard       = 10
	confSoft       = 8
	confTCPWrapped = 8
	confTable      = 3
)

// idleGap is how long to wait for more of an answer once some arrived
// and nothing has matched yet.
const idleGap = 400 * time.Millisecond

// maxInterimMatches bounds how often a partial answer is matched while it
// is still arriving, so a server that sends a byte at a time cannot make
// the matcher run for every byte.
const maxInterimMatches = 3

// Config configures an Engine.
type Config struct {
	// Probes is the probe set to use.
	Probes *ProbeSet
	// Intensity (0 to 9) limits the probes tried to those of rarity at
	// most Intensity, besides the probes that list the port. 0 means
	// DefaultIntensity; use IntensityZero for a real 0.
	Intensity int
	// IntensityZero makes Intensity 0 mean 0: only the NULL probe and
	// the probes listing the port.
	IntensityZero bool
	// Timeout bounds each connection: connecting, sending and waiting
	// for the answer (a probe's totalwaitms is cut to it).
	Timeout time.Duration
	// BannerWait is how long the NULL probe waits for a service to talk
	// first (at most the NULL probe's totalwaitms).
	BannerWait time.Duration
	// MaxAnswer bounds the bytes read in answer to one probe.
	MaxAnswer int
	// Parallel is how many probes of one port may be out at once after
	// the first round (0 means DefaultParallel).
	Parallel int
	// Dial opens connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Engine identifies the services behind open ports. It is safe for
// concurrent use: each Identify call is independent.
type Engine struct {
	cfg     Config
	matcher *Matcher
	null    map[string]*Probe
	// sslPorts lists the ports some probe expects TLS on.
	sslPorts PortSet
	getProbe *Probe
	// httpSoft and sshSoft are the softmatches the engine makes itself
	// when no line of the probe files matched an answer that is plainly
	// HTTP or SSH; the protocol packages then read the product.
	httpSoft, sshSoft *Match
}

// NewEngine returns an Engine for cfg.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Probes == nil || len(cfg.Probes.Probes) == 0 {
		return nil, errors.New("service engine: no probes loaded")
	}
	if cfg.Intensity == 0 && !cfg.IntensityZero {
		cfg.Intensity = DefaultIntensity
	}
	if cfg.Intensity < 0 || cfg.Intensity > 9 {
		return nil, errors.New("service engine: version intensity must be from 0 to 9")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BannerWait <= 0 {
		cfg.BannerWait = DefaultBannerWait
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.MaxAnswer <= 0 {
		cfg.MaxAnswer = DefaultMaxAnswer
	}
	if cfg.Dial == nil {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	e := &Engine{
		cfg: cfg, matcher: NewMatcher(cfg.Probes), null: map[string]*Probe{},
		httpSoft: &Match{Service: "http", Soft: true, Source: "built-in: an HTTP status line"},
		sshSoft:  &Match{Service: "ssh", Soft: true, Source: "built-in: an SSH identification line"},
	}
	for _, p := range cfg.Probes.Probes {
		if p.Name == "NULL" && e.null[p.Proto] == nil {
			e.null[p.Proto] = p
		}
		// The first TCP probe that sends a GET fetches a page when a
		// service was named http without an HTTP answer to read.
		if p.Proto == TCP && e.getProbe == nil && bytes.HasPrefix(p.Payload, []byte("GET ")) {
			e.getProbe = p
		}
		e.sslPorts = append(e.sslPorts, p.SSLPorts...)
	}
	e.sslPorts = mergeRanges(e.sslPorts)
	return e, nil
}

// Target is one open port to identify.
type Target struct {
	IP       string
	Port     uint16
	Proto    string // TCP or UDP
	Hostname string // the name the target was given as, for TLS SNI
}

// Result is what Identify learned: the service object and, when the
// service spoke TLS, the tls object.
type Result struct {
	Service event.Service
	TLS     *event.TLS
}

// Identify probes one port and returns what runs there. It ends by ctx's
// deadline at the latest; every connection it opens is closed before it
// returns.
func (e *Engine) Identify(ctx context.Context, t Target) Result {
	s := &session{e: e, t: t, addr: net.JoinHostPort(t.IP, strconv.Itoa(int(t.Port)))}
	return s.run(ctx)
}

// session is the state of one Identify call.
type session struct {
	e    *Engine
	t    Target
	addr string

	mu       sync.Mutex // guards the fields below (the parallel first probe)
	hard     *Hit
	hardRank int
	soft     *Hit
	banner   []byte
	// http is the best HTTP answer seen (the lowest status), parsed;
	// answers themselves are not kept, so a port costs at most the
	// answers in flight.
	http     *svchttp.Response
	tls      *event.TLS
	tunnel   bool
	wrapped  bool
	tlsTried bool
	excluded bool
}

func (s *session) run(ctx context.Context) Result {
	proto := s.t.Proto
	excluded := s.e.cfg.Probes.ExcludeTCP
	if proto == UDP {
		excluded = s.e.cfg.Probes.ExcludeUDP
	}
	s.excluded = excluded.Contains(s.t.Port)
	if !s.excluded {
		if proto == UDP {
			s.probeUDP(ctx)
		} else {
			s.probeTCP(ctx)
		}
	}
	return s.result(ctx)
}

// order returns the probes to send after NULL: those listing the port
// first (file order), then the others of rarity within the intensity,
// by rarity.
func (s *session) order(proto string) (likely, rest []*Probe) {
	for _, p := range s.e.cfg.Probes.Probes {
		if p.Proto != proto || (p.Name == "NULL" && proto == TCP) {
			continue
		}
		listed := p.Ports.Contains(s.t.Port)
		if s.tunnel {
			listed = p.SSLPorts.Contains(s.t.Port)
		}
		switch {
		case listed:
			likely = append(likely, p)
		case p.Rarity <= s.e.cfg.Intensity:
			rest = append(rest, p)
		}
	}
	slices.SortStableFunc(rest, func(a, b *Probe) int { return cmp.Compare(a.Rarity, b.Rarity) })
	return likely, rest
}

// onlyService is the softmatched service, if any: later matches must name
// the same service.
func (s *session) onlyService() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.soft != nil {
		return s.soft.Match.Service
	}
	return ""
}

// record matches an answer to p and keeps what it found. It reports
// whether the session now has a hard match.
//
// rank is the probe's place in the order of sending: when answers to
// several probes in flight give hard matches, the earliest probe's wins,
// as if they had been sent one after the other. record reports whether
// this answer gave the session's hard match.
func (s *session) record(p *Probe, answer []byte, rank int) bool {
	if len(answer) == 0 {
		return false
	}
	only := s.onlyService()
	hard, soft := s.e.matcher.Match(p, answer, only, 0)
	if hard == nil && soft == nil && only == "" {
		soft = s.e.builtinSoft(answer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, err := svchttp.ParseResponse(answer); err == nil && (s.http == nil || r.Status < s.http.Status) {
		s.http = r
	}
	if s.banner == nil {
		s.banner = answer
	}
	switch {
	case hard != nil && (s.hard == nil || rank < s.hardRank):
		s.hard, s.hardRank = hard, rank
		s.banner = answer
		s.wrapped = false
		return true
	case hard == nil && soft != nil && s.soft == nil && s.hard == nil:
		s.soft = soft
		s.banner = answer
	}
	return false
}

// builtinSoft recognises an answer that no probe-file line matched but
// that is plainly HTTP or SSH.
func (e *Engine) builtinSoft(answer []byte) *Hit {
	if _, err := svchttp.ParseResponse(answer); err == nil {
		return &Hit{Match: e.httpSoft}
	}
	if bytes.HasPrefix(answer, []byte("SSH-")) {
		if _, err := svcssh.ParseBanner(answer); err == nil {
			return &Hit{Match: e.sshSoft}
		}
	}
	return nil
}

func (s *session) markWrapped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hard == nil {
		s.wrapped = true
	}
}

func (s *session) hasHard() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hard != nil
}
