// Package syslog is the syslog sink: RFC 5424 records over a unix socket,
// UDP, or TCP with octet-counting framing (RFC 6587). Each change of an
// alert is one record, its MSG one line with control characters removed,
// its structured data carrying the alert's key and scan id.
package syslog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure a Sink.
type Options struct {
	Name string // default "syslog"
	// Network is "udp", "tcp" or "unix" (a datagram socket such as
	// /dev/log, or a stream socket); Addr is host:port or a path.
	Network, Addr string
	// Facility is the syslog facility number (default 3, daemon).
	Facility int
	// Hostname and AppName fill the header ("-" and "picket" by default).
	Hostname, AppName string
	Now               func() time.Time
}

// Sink writes alerts to syslog.
type Sink struct {
	opts Options
}

var _ notify.Sink = (*Sink)(nil)

// ParseAddr reads a syslog address: udp://host:port, tcp://host:port,
// unix:///path, or a bare /path (a unix socket).
func ParseAddr(s string) (network, addr string, err error) {
	if strings.HasPrefix(s, "/") {
		return "unix", s, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("syslog address %q: %w", s, err)
	}
	switch u.Scheme {
	case "udp", "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil || u.Path != "" {
			return "", "", fmt.Errorf("syslog address %q: want %s://host:port", s, u.Scheme)
		}
		return u.Scheme, u.Host, nil
	case "unix":
		if u.Path == "" {
			return "", "", fmt.Errorf("syslog address %q: want unix:///path", s)
		}
		return "unix", u.Path, nil
	}
	return "", "", fmt.Errorf("syslog address %q: want udp://host:port, tcp://host:port or unix:///path", s)
}

// New returns a syslog sink.
func New(o Options) (*Sink, error) {
	if o.Name == "" {
		o.Name = "syslog"
	}
	switch o.Network {
	case "udp", "tcp", "unix":
	default:
		return nil, fmt.Errorf("%s: network %q: want udp, tcp or unix", o.Name, o.Network)
	}
	if o.Addr == "" {
		return nil, fmt.Errorf("%s: no address", o.Name)
	}
	if o.Facility == 0 {
		o.Facility = 3
	}
	if o.Facility < 0 || o.Facility > 23 {
		return nil, fmt.Errorf("%s: facility %d: want 0 to 23", o.Name, o.Facility)
	}
	if o.AppName == "" {
		o.AppName = "picket"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sink{opts: o}, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

// severity maps a change's severity to a syslog severity.
func severity(sev string) int {
	switch sev {
	case "critical":
		return 2
	case "warning":
		return 4
	default:
		return 6
	}
}

// headerField makes s a valid RFC 5424 header field: printable ASCII
// without spaces, at most max characters, "-" when empty.
func headerField(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if s[i] > 32 && s[i] < 127 {
			b.WriteByte(s[i])
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdValue escapes a structured-data parameter value: ", \ and ].
func sdValue(s string) string {
	s = notify.OneLine(s)
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// maxMsg bounds a record's MSG, so that a record stays within the 2048
// bytes every RFC 5424 receiver must take, whatever a banner holds.
const maxMsg = 1500

// Records returns the RFC 5424 records for a, one per change.
func (s *Sink) Records(a *notify.Alert) []string {
	var out []string
	ts := s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	for _, it := range a.Items() {
		pri := s.opts.Facility*8 + severity(it.Severity)
		where := it.IP
		if it.Port != 0 {
			where += ":" + strconv.Itoa(int(it.Port)) + "/" + it.Proto
		}
		text := it.Summary
		if text == "" {
			text = strings.TrimSpace(it.Kind + " " + where)
		} else {
			text = where + " " + text
		}
		if it.Hostname != "" {
			text += " (" + it.Hostname + ")"
		}
		sd := fmt.Sprintf(`[picket@32473 key="%s" scan_id="%s" kind="%s" severity="%s"]`,
			sdValue(a.Key), sdValue(it.ScanID), sdValue(it.Kind), sdValue(it.Severity))
		rec := fmt.Sprintf("<%d>1 %s %s %s - %s %s %s", pri, ts,
			headerField(s.opts.Hostname, 255), headerField(s.opts.AppName, 48), headerField("change", 32),
			sd, notify.Truncate(notify.Syslog(text), maxMsg))
		out = append(out, rec)
	}
	return out
}

// Send writes the alert's records. Over TCP or a unix stream socket they
// go in one write, each framed by its length.
func (s *Sink) Send(ctx context.Context, a *notify.Alert) error {
	recs := s.Records(a)
	if len(recs) == 0 {
		return nil
	}
	err := s.send(ctx, recs)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", s.opts.Name, s.opts.Network, s.opts.Addr, err)
	}
	return nil
}

func (s *Sink) send(ctx context.Context, recs []string) error {
	var d net.Dialer
	network := s.opts.Network
	stream := network == "tcp"
	if network == "unix" {
		network = "unixgram"
	}
	conn, err := d.DialContext(ctx, network, s.opts.Addr)
	if err != nil && s.opts.Network == "unix" && errors.Is(err, syscall.EPROTOTYPE) {
		conn, err = d.DialContext(ctx, "unix", s.opts.Addr)
		stream = true
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if stream {
		var b strings.Builder
		for _, r := range recs {
			b.WriteString(strconv.Itoa(len(r)))
			b.WriteByte(' ')
			b.WriteString(r)
		}
		_, err := conn.Write([]byte(b.String()))
		return err
	}
	for _, r := range recs {
		if _, err := conn.Write([]byte(r)); err != nil {
			return err
		}
	}
	return nil
}
