package scan

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"os"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/sys/unix"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/targets"
)

// Options are a scan as the user asked for it, in Nmap's terms. Setup
// turns them into a Config.
type Options struct {
	Targets      []string // target specifications from the command line
	InputList    string   // -iL: a file of targets, "-" for Stdin
	Exclude      []string // --exclude
	ExcludeFile  string   // --exclude-file, "-" for Stdin
	Ports        string   // -p; empty means the top 1000 TCP ports
	TopPorts     int      // --top-ports
	ExcludePorts string   // --exclude-ports
	// ServicesFile is the services file that service names in Ports and
	// ExcludePorts are looked up in, read only when a name is given; when
	// it is "" or does not exist, the built-in table of ports.WellKnown.
	ServicesFile string

	Method      string // "connect"
	NoPing      bool   // -Pn: treat every target as up
	NoDNS       bool   // -n: no reverse DNS
	Concurrency int
	Rate        float64
	Retries     int
	Timeout     time.Duration
	AllStates   bool
	Seed        uint64 // 0 picks a random order

	// Resolver resolves target names and, unless NoDNS, the names of hosts
	// found up; nil means the system's resolver.
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

// methods lists the probe methods Setup knows, for error messages.
const methods = "connect"

// DefaultTopPorts is how many of the most common ports a scan covers when
// no ports are given, as with Nmap.
const DefaultTopPorts = 1000

// Setup validates o, reads target and exclusion files, resolves names and
// returns the scan's configuration. Its errors are about the user's input.
func Setup(ctx context.Context, o Options) (Config, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var prober Prober
	switch o.Method {
	case "", "connect":
		o.Method = "connect"
		if o.Timeout <= 0 {
			return Config{}, fmt.Errorf("bad --timeout %s: must be positive", o.Timeout)
		}
		prober = &Connect{Timeout: o.Timeout}
	default:
		return Config{}, fmt.Errorf("unknown --method %q (available: %s)", o.Method, methods)
	}
	if o.Concurrency < 1 {
		return Config{}, fmt.Errorf("bad --concurrency %d: must be at least 1", o.Concurrency)
	}
	if limit := fdLimit(); o.Concurrency > limit {
		o.Log.Warn(fmt.Sprintf("--concurrency %d is over the open-file limit; using %d", o.Concurrency, limit))
		o.Concurrency = limit
	}
	if o.Rate < 0 {
		return Config{}, fmt.Errorf("bad --rate %g: must not be negative", o.Rate)
	}
	if o.Retries < 0 {
		return Config{}, fmt.Errorf("bad --retries %d: must not be negative", o.Retries)
	}

	portList, err := portList(o)
	if err != nil {
		return Config{}, err
	}

	if len(o.Targets) == 0 && o.InputList == "" {
		// An empty list file is a scan of zero hosts; no list at all is
		// a mistake.
		return Config{}, targets.ErrNoTargets
	}
	tsrc := targets.Args(o.Targets, "argument")
	if o.InputList != "" {
		list, err := readList(o.InputList, o.Stdin)
		if err != nil {
			return Config{}, err
		}
		tsrc = append(tsrc, list...)
	}
	xsrc := targets.Args(o.Exclude, "--exclude")
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
		Warn: func(msg string) { o.Log.Warn(msg) },
	})
	if err != nil {
		return Config{}, err
	}

	if hi, n := bits.Mul64(set.Len(), uint64(portList.Len())); hi != 0 || n > 1<<63 {
		return Config{}, fmt.Errorf("%w: %d addresses × %d ports", ErrTooLarge, set.Len(), portList.Len())
	}

	seed := o.Seed
	if seed == 0 {
		seed = uint64(o.Now().UnixNano())
	}
	discovery := "none"
	if !o.NoPing {
		discovery = "tcp-connect:80,443"
	}
	return Config{
		Targets:        set,
		Ports:          portList.Ports(ports.TCP),
		Prober:         prober,
		Discover:       !o.NoPing,
		DiscoveryPorts: []uint16{80, 443},
		Names:          names,
		Concurrency:    o.Concurrency,
		Rate:           o.Rate,
		Retries:        o.Retries,
		AllStates:      o.AllStates,
		Seed:           seed,
		Out:            o.Out,
		Log:            o.Log,
		Now:            o.Now,
		ScanID:         NewScanID(o.Now()),
		Tool:           o.Tool,
		Scope: event.Scope{
			Targets:   set.Specs(),
			Exclude:   set.ExcludeSpecs(),
			Ports:     portList.String(),
			Method:    o.Method,
			Discovery: discovery,
		},
	}, nil
}

// portList works out the TCP ports to scan from -p, --top-ports and
// --exclude-ports.
func portList(o Options) (ports.List, error) {
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
		return l, fmt.Errorf("-p and --top-ports cannot be used together")
	case o.Ports != "":
		l, err = ports.Parse(o.Ports, ports.ParseOptions{LoadNames: names})
	case o.TopPorts != 0:
		l, err = ports.Top(o.TopPorts, ports.TCP)
	default:
		l, err = ports.Top(DefaultTopPorts, ports.TCP)
	}
	if err != nil {
		return l, err
	}
	if len(l.Ports(ports.UDP)) > 0 {
		return l, fmt.Errorf("bad port spec %q: UDP ports need a UDP method; --method %s scans TCP only", o.Ports, o.Method)
	}
	if o.ExcludePorts != "" {
		ex, err := ports.Parse(o.ExcludePorts, ports.ParseOptions{LoadNames: names})
		if err != nil {
			return l, fmt.Errorf("--exclude-ports: %w", err)
		}
		l = l.Without(ex)
	}
	if l.Len() == 0 {
		return l, fmt.Errorf("no ports left to scan")
	}
	return l, nil
}

// readList reads a target or exclusion list from path, or from stdin for
// "-".
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
// at start-up) less a reserve for the process's other files.
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 1 << 20
	}
	return max(1, int(rl.Cur)-64)
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
