// Package notify turns change events into alerts and delivers them to
// sinks (Slack, Discord, Teams, webhooks, e-mail, syslog, commands,
// files) with a durable spool, retries, rate limits and idempotency keys,
// so that an alert survives a receiver being down or notify being killed
// and is still delivered once to each sink.
//
// The Sink interface lives here; each sink is a package of its own under
// lib/notify/, and lib/notify/sinks lists them in one table.
package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/picketscan/picket/lib/event"
)

// Sink delivers alerts to one destination. Send must either deliver the
// whole alert or return an error; it is retried on errors that are not
// Permanent, so a receiver should treat the alert's Key as an idempotency
// key. Send must honour ctx: it carries the per-attempt timeout.
type Sink interface {
	// Name identifies the sink in logs and in the spool's delivery
	// records, e.g. "slack" or the name given in a config file.
	Name() string
	Send(ctx context.Context, a *Alert) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc struct {
	N string
	F func(ctx context.Context, a *Alert) error
}

// Name returns s.N.
func (s SinkFunc) Name() string { return s.N }

// Send calls s.F.
func (s SinkFunc) Send(ctx context.Context, a *Alert) error { return s.F(ctx, a) }

// Alert is what a sink delivers: one change, or a digest of the changes
// of one scan. It is stored in the spool as JSON.
type Alert struct {
	// Key identifies the alert across runs: scan id, kind, ip, port and
	// proto for one change; scan id and "digest" for a digest.
	Key string `json:"key"`
	// ScanID is the scan the changes came from.
	ScanID string `json:"scan_id,omitempty"`
	// Digest is true for a digest of a whole scan.
	Digest bool `json:"digest,omitempty"`
	// Scope names what the scan covered (its targets), for titles.
	Scope string `json:"scope,omitempty"`
	// Incomplete is true for a digest whose scan did not end (no end
	// event before the input ended) or ended incomplete.
	Incomplete bool `json:"incomplete,omitempty"`
	// Created is when notify made the alert.
	Created time.Time `json:"created"`
	// Changes are the change events, byte for byte as read, grouped by
	// host for a digest.
	Changes []json.RawMessage `json:"changes"`
}

// Item is one change of an alert, decoded.
type Item struct {
	event.Change
	// Raw is the event as read.
	Raw json.RawMessage
}

// Items decodes the alert's changes. A change that does not decode (it
// was read as valid JSON, so only a field of an unexpected type can do
// that) keeps the fields that did.
func (a *Alert) Items() []Item {
	out := make([]Item, 0, len(a.Changes))
	for _, raw := range a.Changes {
		var c event.Change
		_ = json.Unmarshal(raw, &c)
		out = append(out, Item{Change: c, Raw: raw})
	}
	return out
}

// Severity is the most urgent severity among the alert's changes.
func (a *Alert) Severity() string {
	rank := map[string]int{event.SeverityInfo: 1, event.SeverityWarning: 2, event.SeverityCritical: 3}
	best := ""
	for _, it := range a.Items() {
		if rank[it.Severity] > rank[best] {
			best = it.Severity
		}
	}
	if best == "" {
		best = event.SeverityInfo
	}
	return best
}

// ChangeKey is the idempotency key of one change: scan id, kind, ip,
// port and proto (and the rule of a policy violation), joined by "/". A
// change without a scan id is keyed on a hash of its bytes instead, so
// that hand-made events still get a stable key.
func ChangeKey(raw []byte) string {
	var c event.Change
	_ = json.Unmarshal(raw, &c)
	if c.ScanID == "" {
		sum := sha256.Sum256(raw)
		return "sha256:" + hex.EncodeToString(sum[:16])
	}
	parts := []string{keyPart(c.ScanID), keyPart(c.Kind), keyPart(c.IP), strconv.Itoa(int(c.Port)), keyPart(c.Proto)}
	if c.Rule != "" {
		parts = append(parts, keyPart(c.Rule))
	}
	return strings.Join(parts, "/")
}

// keyPart percent-escapes what must not appear in one part of a key: the
// separator "/", "%" itself, spaces, controls and non-ASCII bytes. Keys
// travel in HTTP and mail headers, so they stay printable ASCII, and two
// different changes never share a key.
func keyPart(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DigestKey is the idempotency key of the digest of a scan. route tells
// digests of the same scan for sinks with different filters apart; it is
// empty when every sink sees the same changes.
func DigestKey(scanID, route string) string {
	if route == "" {
		return keyPart(scanID) + "/digest"
	}
	sum := sha256.Sum256([]byte(route))
	return keyPart(scanID) + "/digest/" + hex.EncodeToString(sum[:6])
}

// sortByHost orders changes by address (numerically), then port, proto
// and kind, so a digest lists each host's changes together.
func sortByHost(items []Item) {
	slices.SortStableFunc(items, func(x, y Item) int {
		ax, ex := netip.ParseAddr(x.IP)
		ay, ey := netip.ParseAddr(y.IP)
		switch {
		case ex == nil && ey == nil:
			if c := ax.Compare(ay); c != 0 {
				return c
			}
		case ex == nil:
			return -1
		case ey == nil:
			return 1
		default:
			if c := strings.Compare(x.IP, y.IP); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(x.Port, y.Port), strings.Compare(x.Proto, y.Proto), strings.Compare(x.Kind, y.Kind))
	})
}
