package scan

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"go4.org/netipx"
	"golang.org/x/sys/unix"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/targets"
)

// Options are a scan as the user asked for it, in Nmap's terms. Setup
// turns them into a Config.
type Options struct {
	Targets      []string // target specifications
	InputList    string   // a file of targets, "-" for Stdin
	Exclude      []string // exclusion specifications
	ExcludeFile  string   // a file of exclusions, "-" for Stdin
	Ports        string   // port spec; empty means the top 1000 TCP ports
	TopPorts     int      // the N most common ports
	ExcludePorts string   // port spec of ports never to probe
	// ServicesFile is the services file that service names in Ports and
	// ExcludePorts are looked up in, read only when a name is given; when
	// it is "" or does not exist, the built-in table of ports.WellKnown.
	ServicesFile string

	Method  string       // a name from Methods; "" is the first one
	Methods []MethodSpec // the methods to choose from (lib/scan/methods.List)
	NoPing  bool         // treat every target as up
	// PingMethod names the TCP method that pings hosts when Method is
	// not a TCP method; "" is the first in Methods.
	PingMethod string
	// Discovery, if set, replaces pinging TCP ports: a method of its own
	// with its probe kinds (lib/scan/ping, Nmap's privileged ping).
	Discovery *DiscoverySpec
	// PingOnly stops after discovery: only host events, as nmap -sn.
	PingOnly bool
	// YesLarge allows more than LargeTargets addresses.
	YesLarge bool
	// ResolveAll scans every address of a target name; IPv6 only the
	// IPv6 ones (Nmap's --resolve-all and -6).
	ResolveAll, IPv6 bool
	NoDNS            bool // no reverse DNS

	Concurrency int // probes in flight; 0 is the method's default
	Rate        float64
	// MinRate is the least probes per second of the port scan
	// (Nmap's --min-rate): it sends past the hosts' congestion windows
	// and --concurrency to keep it, never past Rate or MaxHostRate.
	MinRate float64
	// MaxHostRate is the most probes per second to any one host.
	MaxHostRate float64
	Retries     int           // most resends of an unanswered probe
	Timeout     time.Duration // timeout before a host's round-trip time is known
	MinRTT      time.Duration // least timeout once it is; 0 keeps the default
	MaxRTT      time.Duration // most timeout; 0 keeps the default
	Timing      *Timing       // replaces DefaultTiming wholesale when set (tests)
	AllStates   bool
	Seed        uint64 // 0 picks a random order
	// Shard and Shards split the scan: this run probes shard Shard
	// (1 to Shards) of the (host, port) space. Every shard must use the
	// same seed: Seed, or one derived from ShardKey.
	Shard, Shards int
	ShardKey      string

	// Resolver resolves target names and, unless NoDNS, the names of
	// hosts found up; nil means the system's resolver.
	Resolver interface {
		targets.Resolver
		AddrResolver
	}
	Stdin io.Reader
	Out   *event.Writer
	Log   *slog.Logger
	Now   func() time.Time
	Tool  event.Tool
}

// UsageError is a mistake in what the user asked for — an option's
// value, a target or port specification — as opposed to a failure while
// doing it (a name that does not resolve, a file that cannot be read).
// Option names the Options field at fault, "" when Err says it all; the
// command maps it to its flag.
type UsageError struct {
	Option string
	Value  string
	Err    error
}

func (e *UsageError) Error() string {
	switch {
	case e.Option == "":
		return e.Err.Error()
	case e.Value == "":
		return fmt.Sprintf("%s: %v", e.Option, e.Err)
	}
	return fmt.Sprintf("bad %s %s: %v", e.Option, e.Value, e.Err)
}

func (e *UsageError) Unwrap() error { return e.Err }

func badOption(option string, value any, format string, args ...any) error {
	return &UsageError{Option: option, Value: fmt.Sprint(value), Err: fmt.Errorf(format, args...)}
}

// DefaultTopPorts is how many of the most common ports a scan covers when
// no ports are given, as with Nmap.
const DefaultTopPorts = 1000

// Setup validates o, reads target and exclusion files, resolves names and
// returns the scan's configuration. Mistakes in o are *UsageError; other
// errors (DNS, files) are failures of the moment.
func Setup(ctx context.Context, o Options) (Config, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	spec, err := pickMethod(o)
	if err != nil {
		return Config{}, err
	}
	timing := DefaultTiming()
	if o.Timing != nil {
		timing = *o.Timing
	} else {
		if o.Timeout <= 0 {
			return Config{}, badOption("Timeout", o.Timeout, "must be positive")
		}
		timing.InitialRTO = o.Timeout
		if o.MinRTT > 0 {
			timing.MinRTO = o.MinRTT
		}
		if o.MaxRTT > 0 {
			timing.MaxRTO = o.MaxRTT
		}
		if timing.MinRTO > timing.MaxRTO {
			return Config{}, badOption("MinRTT", timing.MinRTO, "is over the most timeout %s", timing.MaxRTO)
		}
		if spec.Tune != nil {
			spec.Tune(&timing)
		}
		timing.FinalWait = min(timing.FinalWait, timing.MaxRTO)
	}
	switch {
	case o.Concurrency == 0 && spec.Concurrency > 0:
		o.Concurrency = spec.Concurrency
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 1:
		return Config{}, badOption("Concurrency", o.Concurrency, "must be at least 1")
	}
	// The descriptors free now bound the probes in flight.
	files := fdLimit()
	if o.Concurrency > files {
		o.Log.Warn(fmt.Sprintf("concurrency %d is over the file descriptors the open-file limit leaves free; using %d", o.Concurrency, files))
		o.Concurrency = files
	}
	if o.Rate < 0 {
		return Config{}, badOption("Rate", o.Rate, "must not be negative")
	}
	if o.MinRate < 0 {
		return Config{}, badOption("MinRate", o.MinRate, "must not be negative")
	}
	if o.Rate > 0 && o.MinRate > o.Rate {
		return Config{}, badOption("MinRate", o.MinRate, "is over the most rate %g", o.Rate)
	}
	if o.MaxHostRate < 0 {
		return Config{}, badOption("MaxHostRate", o.MaxHostRate, "must not be negative")
	}
	if o.MaxHostRate > 0 {
		timing.MinGap = time.Duration(float64(time.Second) / o.MaxHostRate)
	}
	if o.Retries < 0 || o.Retries > 100 {
		return Config{}, badOption("Retries", o.Retries, "must be 0 to 100")
	}
	method, err := spec.New(MethodConfig{Concurrency: o.Concurrency, Files: files})
	if err != nil {
		return Config{}, fmt.Errorf("method %s: %w", spec.Name, err)
	}

	portList, err := portList(o, spec)
	if err != nil {
		return Config{}, err
	}

	if len(o.Targets) == 0 && o.InputList == "" {
		// An empty list file is a scan of zero hosts; no list at all is
		// a mistake.
		return Config{}, &UsageError{Err: targets.ErrNoTargets}
	}
	tsrc := targets.Args(o.Targets, "argument")
	if o.InputList != "" {
		list, err := readList(o.InputList, o.Stdin)
		if err != nil {
			return Config{}, err
		}
		tsrc = append(tsrc, list...)
	}
	xsrc := targets.Args(o.Exclude, "exclusion")
	if o.ExcludeFile != "" {
		list, err := readList(o.ExcludeFile, o.Stdin)
		if err != nil {
			return Config{}, err
		}
		xsrc = append(xsrc, list...)
	}
	var resolver targets.Resolver = net.DefaultResolver
	var names AddrResolver = net.DefaultResolver
	if o.Resolver != nil {
		resolver, names = o.Resolver, o.Resolver
	}
	if o.NoDNS {
		names = nil
	}
	set, err := targets.Build(ctx, targets.Config{
		Targets: tsrc, Exclude: xsrc, Resolver: resolver,
		Warn:       func(msg string) { o.Log.Warn(msg) },
		ResolveAll: o.ResolveAll, IPv6: o.IPv6,
	})
	if err != nil {
		var se *targets.SpecError
		if errors.As(err, &se) {
			return Config{}, &UsageError{Err: err}
		}
		// Names that do not resolve, a cancelled lookup: the same
		// command may work a minute later.
		return Config{}, err
	}

	if hi, n := bits.Mul64(set.Len(), uint64(portList.Len())); hi != 0 || n > 1<<63 {
		return Config{}, &UsageError{Err: fmt.Errorf("%w: %d addresses × %d ports", ErrTooLarge, set.Len(), portList.Len())}
	}
	if set.Len() > LargeTargets && !o.YesLarge {
		return Config{}, &UsageError{Option: "YesLarge", Err: fmt.Errorf("%d addresses is over %d: confirm a scan this large", set.Len(), LargeTargets)}
	}

	seed, shard, err := shardSeed(o)
	if err != nil {
		return Config{}, err
	}
	for seed == 0 {
		// Below 2^53, so the seed survives JSON readers that hold
		// numbers as doubles.
		seed = rand.Uint64() & (1<<53 - 1)
	}
	cfg := Config{
		Targets:     set,
		Ports:       portList,
		Method:      method,
		Names:       names,
		Concurrency: o.Concurrency,
		Rate:        o.Rate,
		MinRate:     o.MinRate,
		MaxInFlight: max(o.Concurrency, files),
		Retries:     o.Retries,
		Timing:      &timing,
		AllStates:   o.AllStates,
		Seed:        seed,
		Out:         o.Out,
		Log:         o.Log,
		Now:         o.Now,
		ScanID:      NewScanID(o.Now()),
		Tool:        o.Tool,
		Scope: event.Scope{
			Targets:   scopeTargets(set),
			Exclude:   set.ExcludeSpecs(),
			Ports:     portList.String(),
			Method:    spec.Name,
			Discovery: "none",
			Shard:     shard,
		},
	}
	if o.PingOnly {
		if o.NoPing {
			return Config{}, badOption("PingOnly", true, "needs host discovery (it cannot be used with no ping)")
		}
		cfg.PingOnly = true
		cfg.Scope.Ports = ""
	}
	if !o.NoPing && o.Discovery != nil {
		ping, err := o.Discovery.New(MethodConfig{Concurrency: o.Concurrency})
		if err != nil {
			return Config{}, fmt.Errorf("discovery %s: %w", o.Discovery.Name, err)
		}
		cfg.Discovery, cfg.DiscoveryPorts, cfg.Scope.Discovery = ping, o.Discovery.Ports, o.Discovery.Name
	} else if !o.NoPing {
		// Discovery pings TCP ports: with the scan's own method when it
		// speaks TCP, else with o.PingMethod (a UDP scan).
		ping, pingName := method, spec.Name
		if spec.Proto != ports.TCP {
			ps, err := pickMethod(Options{Method: o.PingMethod, Methods: o.Methods})
			if err != nil || ps.Proto != ports.TCP {
				return Config{}, badOption("PingMethod", o.PingMethod, "is not a TCP method")
			}
			if ping, err = ps.New(MethodConfig{Concurrency: o.Concurrency}); err != nil {
				return Config{}, fmt.Errorf("method %s: %w", ps.Name, err)
			}
			pingName = ps.Name
		}
		cfg.Discovery = ping
		cfg.DiscoveryPorts = DefaultDiscoveryPorts()
		cfg.Scope.Discovery = DiscoveryName(pingName, cfg.DiscoveryPorts)
	}
	return cfg, nil
}

// LargeTargets is the most addresses a scan covers without YesLarge: a
// /8 is a mistake more often than a plan.
const LargeTargets = 1 << 24

// maxScopeTargets bounds the target specifications the scan start
// carries as given, in bytes: well under the event reader's 1 MiB line
// limit.
const maxScopeTargets = event.MaxScopeBytes

// scopeTargets returns the target specifications for the scan scope: as
// given, or, when they are too long for one event line (an -iL list of a
// million addresses), the addresses they cover less the exclusions,
// collapsed to sorted CIDR prefixes (go4.org/netipx), a single address
// written as an address. The scope stays exact; names give way to their
// addresses. A list of scattered single addresses does not collapse and
// stays long: the scan start then carries its first part and "scope"
// events the rest (see sendStart).
func scopeTargets(set *targets.Set) []string {
	specs := set.Specs()
	size := 0
	for _, s := range specs {
		size += len(s) + 3
	}
	if size <= maxScopeTargets {
		return specs
	}
	var b netipx.IPSetBuilder
	for t := range set.All() {
		b.Add(t.Addr.Unmap())
	}
	ipset, err := b.IPSet()
	if err != nil {
		return specs
	}
	prefixes := ipset.Prefixes()
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		if p.IsSingleIP() {
			out[i] = p.Addr().String() // 3 or 4 bytes shorter, and the same address
		} else {
			out[i] = p.String()
		}
	}
	return out
}

// DiscoverySpec describes a discovery method that probes kinds of its
// own rather than TCP ports: each kind is a pseudo-port of the discovery
// phase.
type DiscoverySpec struct {
	Name  string   // for the scope, e.g. "icmp-echo,tcp-syn:443,tcp-ack:80"
	Ports []uint16 // the probe kinds
	New   func(MethodConfig) (Method, error)
}

// shardSeed checks the shard options and returns the seed to use (0 for
// a random one) and the shard for the scope (nil when not split).
func shardSeed(o Options) (uint64, *event.Shard, error) {
	seed := o.Seed
	if o.ShardKey != "" {
		if seed != 0 {
			return 0, nil, badOption("ShardKey", o.ShardKey, "cannot be used with a seed: the key is the seed")
		}
		sum := sha256.Sum256([]byte(o.ShardKey))
		seed = max(1, binary.BigEndian.Uint64(sum[:8])&(1<<53-1))
	}
	if o.Shards == 0 && o.Shard == 0 {
		return seed, nil, nil
	}
	if o.Shards < 1 || o.Shard < 1 || o.Shard > o.Shards {
		return 0, nil, badOption("Shard", fmt.Sprintf("%d/%d", o.Shard, o.Shards), "want I/N with 1 <= I <= N")
	}
	if seed == 0 && o.Shards > 1 {
		return 0, nil, &UsageError{Option: "Shard", Err: errors.New("needs a seed shared by every shard (a seed, or a shard key to derive it from)")}
	}
	return seed, &event.Shard{Index: o.Shard, Count: o.Shards}, nil
}

// pickMethod finds o.Method in o.Methods.
func pickMethod(o Options) (MethodSpec, error) {
	if len(o.Methods) == 0 {
		return MethodSpec{}, errors.New("scan: no probe methods given")
	}
	if o.Method == "" {
		return o.Methods[0], nil
	}
	var names []string
	for _, m := range o.Methods {
		if m.Name == o.Method {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return MethodSpec{}, badOption("Method", o.Method, "unknown method (available: %s)", strings.Join(names, ", "))
}

// portList works out the ports to scan from the port spec, the top ports
// and the excluded ports, keeping those of the method's protocol.
func portList(o Options, m MethodSpec) (ports.List, error) {
	var (
		l     ports.List
		err   error
		names func() (ports.Names, error)
	)
	if o.ServicesFile != "" {
		names = ports.ServicesFile(o.ServicesFile)
	}
	switch {
	case o.Ports != "" && o.TopPorts != 0:
		return l, badOption("TopPorts", o.TopPorts, "cannot be used with a port spec")
	case o.Ports != "":
		l, err = ports.Parse(o.Ports, ports.ParseOptions{Default: []ports.Proto{m.Proto}, LoadNames: names})
	case o.TopPorts != 0:
		l, err = ports.Top(o.TopPorts, m.Proto)
		if err != nil {
			return l, badOption("TopPorts", o.TopPorts, "%v", err)
		}
	default:
		l, err = ports.Top(DefaultTopPorts, m.Proto)
	}
	if err != nil {
		return l, &UsageError{Err: err}
	}
	if o.ExcludePorts != "" {
		ex, err := ports.Parse(o.ExcludePorts, ports.ParseOptions{Default: []ports.Proto{m.Proto}, LoadNames: names})
		if err != nil {
			return l, &UsageError{Option: "ExcludePorts", Err: err}
		}
		l = l.Without(ex)
	}
	// Keep the ports of the method's protocol; say what is left out.
	var other []ports.Port
	for i := range l.Len() {
		if p := l.At(i); p.Proto != m.Proto {
			other = append(other, p)
		}
	}
	if len(other) > 0 {
		var drop ports.List
		drop, _ = ports.Parse(portSpec(other), ports.ParseOptions{})
		l = l.Without(drop)
		if l.Len() > 0 {
			o.Log.Warn(fmt.Sprintf("%d %v ports left out: method %s probes %v only",
				len(other), other[0].Proto, m.Name, m.Proto))
		} else {
			return l, &UsageError{Err: fmt.Errorf("no %v ports to scan: method %s probes %v ports only (%v ports need a %v method)",
				m.Proto, m.Name, m.Proto, other[0].Proto, other[0].Proto)}
		}
	}
	if l.Len() == 0 {
		return l, &UsageError{Err: errors.New("no ports left to scan")}
	}
	return l, nil
}

// portSpec writes ports as a spec Parse reads back.
func portSpec(ps []ports.Port) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		if p.Proto == ports.UDP {
			b.WriteString("U:")
		} else {
			b.WriteString("T:")
		}
		fmt.Fprint(&b, p.Num)
	}
	return b.String()
}

// readList reads a target or exclusion list from path, or from stdin for
// "-". Its errors are failures of the moment, not usage errors.
func readList(path string, stdin io.Reader) ([]targets.Source, error) {
	if path == "-" {
		if stdin == nil {
			return nil, fmt.Errorf("read targets from stdin: no stdin")
		}
		return targets.ReadList(stdin, "stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read targets: %w", err)
	}
	defer f.Close()
	return targets.ReadList(f, path)
}

// fdLimit is how many probes may be in flight without running out of file
// descriptors: the soft RLIMIT_NOFILE (which Go raises to the hard limit
// at start-up) less the descriptors already open — a parent may have
// left many open for it to inherit — and a reserve for the files the
// process opens later, up to 64 but at most half of what is free, so a
// small limit still leaves room for probes.
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 1 << 20
	}
	free := int(rl.Cur) - openFiles()
	return max(1, free-min(64, free/2))
}

// openFiles counts the process's open file descriptors, 0 where
// /proc/self/fd cannot be read.
func openFiles() int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0
	}
	return max(0, len(names)-1) // less the descriptor reading the list
}

// NewScanID mints a scan identifier: a ULID, which sorts by its creation
// time as a string and needs no coordination between scanners.
func NewScanID(t time.Time) string {
	id, err := ulid.New(ulid.Timestamp(t), ulid.DefaultEntropy())
	if err != nil {
		// Only a clock outside the years 1970 to 10889 gets here; the id
		// is then still unique, though it no longer sorts by time.
		id = ulid.Make()
	}
	return id.String()
}
