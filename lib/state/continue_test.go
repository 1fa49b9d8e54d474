package state

import (
	"bytes"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/event"
)

// startParts is a scan start whose scope continues in n scope events.
func startParts(id, scope string, n int) string {
	return `{"type":"scan","time":"2026-11-01T00:00:00.000000000Z","scan_id":"` + id + `","phase":"start","scope_parts":` +
		string(rune('0'+n)) + `,"scope":` + scope + `}`
}

func scopePart(id string, seq int, targets, exclude string) string {
	s := `{"type":"scope","time":"2026-11-01T00:00:00.000000000Z","scan_id":"` + id + `","seq":` + string(rune('0'+seq))
	if targets != "" {
		s += `,"targets":` + targets
	}
	if exclude != "" {
		s += `,"exclude":` + exclude
	}
	return s + "}"
}

func upHost(id, ip string) string {
	return `{"type":"host","scan_id":"` + id + `","ip":"` + ip + `","state":"up","reason":"syn-ack"}`
}

// TestScopeContinuation feeds scans whose scope continues in scope
// events, whole and broken in the ways a stream breaks, and checks the
// merged coverage, completeness, the errors AddLine returns and the
// part's ScopeErr.
func TestScopeContinuation(t *testing.T) {
	const first = `{"targets":["192.0.2.1"],"ports":"T:22"}`
	tests := []struct {
		name     string
		lines    []string
		lineErrs []string // substrings of AddLine errors, in order
		scopeErr string   // substring of ScopeErr; "" for none
		complete bool
		checked  map[string]bool // address → in a complete part's coverage
	}{
		{
			name: "whole",
			lines: []string{startParts("A", first, 2),
				scopePart("A", 1, `["192.0.2.3","192.0.2.5"]`, ""),
				scopePart("A", 2, `["198.51.100.0/30"]`, `["198.51.100.2"]`),
				upHost("A", "192.0.2.1"), end("A", true)},
			complete: true,
			checked: map[string]bool{"192.0.2.1": true, "192.0.2.3": true, "192.0.2.5": true, "192.0.2.4": false,
				"198.51.100.1": true, "198.51.100.2": false, "198.51.100.3": true},
		},
		{
			name: "a part missing before the first host",
			lines: []string{startParts("A", first, 2),
				scopePart("A", 1, `["192.0.2.3"]`, ""),
				upHost("A", "192.0.2.1"), end("A", true)},
			scopeErr: "scan A: scope incomplete: 1 of 2 scope events came before",
			checked:  map[string]bool{"192.0.2.1": false, "192.0.2.3": false},
		},
		{
			name: "a part missing before the end",
			lines: []string{startParts("A", first, 1),
				end("A", true)},
			scopeErr: "scan A: scope incomplete: 0 of 1",
			checked:  map[string]bool{"192.0.2.1": false},
		},
		{
			name: "the stream cut after a part",
			lines: []string{startParts("A", first, 3),
				scopePart("A", 1, `["192.0.2.3"]`, "")},
			scopeErr: "scan A: scope incomplete: 1 of 3 scope events came",
			checked:  map[string]bool{"192.0.2.1": false},
		},
		{
			name: "out of order",
			lines: []string{startParts("A", first, 2),
				scopePart("A", 2, `["192.0.2.5"]`, ""),
				scopePart("A", 1, `["192.0.2.3"]`, ""),
				end("A", true)},
			lineErrs: []string{"scope event 2 of scan A: out of order, 1 of 2 was due", "scope event 1 of scan A: ignored"},
			scopeErr: "scan A: scope incomplete: scope event 2 came where 1 of 2 was due",
			checked:  map[string]bool{"192.0.2.1": false},
		},
		{
			name: "one part too many",
			lines: []string{startParts("A", first, 1),
				scopePart("A", 1, `["192.0.2.3"]`, ""),
				scopePart("A", 2, `["192.0.2.5"]`, ""),
				end("A", true)},
			lineErrs: []string{"scope event 2 of scan A: out of order, 2 of 1 was due"},
			scopeErr: "scope event 2 came where 2 of 1 was due",
			checked:  map[string]bool{"192.0.2.3": false},
		},
		{
			name: "a part after the hosts",
			lines: []string{startParts("A", first, 1),
				upHost("A", "192.0.2.1"),
				scopePart("A", 1, `["192.0.2.3"]`, ""),
				end("A", true)},
			lineErrs: []string{"scope event 1 of scan A: after the scan's hosts, ports or end"},
			scopeErr: "scan A: scope incomplete: 0 of 1 scope events came before its first host",
			checked:  map[string]bool{"192.0.2.1": false, "192.0.2.3": false},
		},
		{
			name: "a part without a start",
			lines: []string{start("A", first),
				scopePart("B", 1, `["192.0.2.3"]`, ""),
				end("A", true)},
			lineErrs: []string{"scope event 1 of scan B: no scan start with a scope before it"},
			complete: true,
			checked:  map[string]bool{"192.0.2.1": true, "192.0.2.3": false},
		},
		{
			name:     "no parts announced",
			lines:    []string{start("A", first), upHost("A", "192.0.2.1"), end("A", true)},
			complete: true,
			checked:  map[string]bool{"192.0.2.1": true, "192.0.2.3": false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder()
			var errs []string
			for _, l := range tc.lines {
				if err := b.AddLine(line(l)); err != nil {
					errs = append(errs, err.Error())
				}
			}
			if len(errs) != len(tc.lineErrs) {
				t.Fatalf("AddLine errors %q, want %q", errs, tc.lineErrs)
			}
			for i, e := range tc.lineErrs {
				if !strings.Contains(errs[i], e) {
					t.Errorf("AddLine error %q, want %q", errs[i], e)
				}
			}
			s, err := b.Scan()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Complete(); got != tc.complete {
				t.Errorf("complete %v, want %v", got, tc.complete)
			}
			var serr error
			for _, p := range s.Parts {
				if p.ScanID == "A" {
					serr = p.ScopeErr
				}
			}
			switch {
			case tc.scopeErr == "" && serr != nil:
				t.Errorf("ScopeErr %v, want none", serr)
			case tc.scopeErr != "" && (serr == nil || !strings.Contains(serr.Error(), tc.scopeErr)):
				t.Errorf("ScopeErr %v, want %q", serr, tc.scopeErr)
			}
			for ip, want := range tc.checked {
				if got := len(s.Checked(netip.MustParseAddr(ip), "")) > 0; got != want {
					t.Errorf("%s checked %v, want %v", ip, got, want)
				}
			}
		})
	}
}

// TestScopeContinuationCoversPartially checks that an incomplete scope
// still says what the scan meant to cover as far as it was read
// (Covered), while no complete part vouches for it (Checked).
func TestScopeContinuationCoversPartially(t *testing.T) {
	b := NewBuilder()
	for _, l := range []string{startParts("A", `{"targets":["192.0.2.1"],"ports":"T:22"}`, 2),
		scopePart("A", 1, `["192.0.2.3"]`, ""), end("A", true)} {
		if err := b.AddLine(line(l)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.3")
	if !s.Covered(a, "") || len(s.Checked(a, "")) != 0 {
		t.Errorf("covered %v, checked %d parts; want covered and not checked", s.Covered(a, ""), len(s.Checked(a, "")))
	}
}

// TestShardsOfAContinuedScope checks that the shards of one split scan
// are told apart by their whole merged scope, not only the part in the
// scan start: shards whose continuation parts agree merge, and a host
// one of them saw up stays up; a scan whose start is the same but whose
// continuation differs is another scan.
func TestShardsOfAContinuedScope(t *testing.T) {
	sh := func(i int) string {
		return `{"targets":["192.0.2.1"],"ports":"T:22","method":"syn","discovery":"none","shard":{"index":` +
			string(rune('0'+i)) + `,"count":2}}`
	}
	down := `{"type":"host","scan_id":"B","ip":"192.0.2.9","state":"down","reason":"no-response"}`
	s := build(t,
		startParts("A", sh(1), 1), scopePart("A", 1, `["192.0.2.9"]`, ""),
		upHost("A", "192.0.2.9"), end("A", true),
		startParts("B", sh(2), 1), scopePart("B", 1, `["192.0.2.9"]`, ""),
		down, end("B", true),
		// C's start is A's and B's; its continuation is not.
		startParts("C", sh(1), 1), scopePart("C", 1, `["192.0.2.10"]`, ""), end("C", true),
	)
	if len(s.Parts) != 2 {
		t.Fatalf("%d parts, want A and B merged and C apart", len(s.Parts))
	}
	ab := s.Parts[0]
	if !ab.Complete || len(ab.Shards) != 2 || strings.Join(ab.Scope.Targets, " ") != "192.0.2.1 192.0.2.9" {
		t.Errorf("merged part: complete %v shards %v targets %v", ab.Complete, ab.Shards, ab.Scope.Targets)
	}
	if s.Parts[1].Complete {
		t.Errorf("C, one shard of two, is complete")
	}
	if h := s.Hosts[netip.MustParseAddr("192.0.2.9")]; h == nil || h.State != HostUp {
		t.Errorf("192.0.2.9: %+v, want up (shard A saw it up)", h)
	}
}

// TestSplitScopeRoundTrip writes a long scope as probe does, through
// event.SplitScope and an event.Writer, and reads it back through the
// Builder: the merged scope is the scope written, and every address in
// it (less the exclusions) is checked.
func TestSplitScopeRoundTrip(t *testing.T) {
	var sc event.Scope
	sc.Ports, sc.Method, sc.Discovery = "T:80", "connect", "none"
	a := netip.MustParseAddr("10.0.0.0")
	for range 3000 {
		sc.Targets = append(sc.Targets, a.String())
		a = a.Next().Next()
	}
	sc.Exclude = []string{"10.0.0.2", "10.0.0.3"}
	first, parts := event.SplitScope(sc, 4096)
	if len(parts) < 5 {
		t.Fatalf("%d parts; want a scope split several times", len(parts))
	}
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	if err := w.Encode(event.ScanStart{Type: event.TypeScan, ScanID: "A", Phase: event.PhaseStart, Scope: first, ScopeParts: len(parts)}); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		p.ScanID = "A"
		if err := w.Encode(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Encode(event.ScanEnd{Type: event.TypeScan, ScanID: "A", Phase: event.PhaseEnd, Complete: true}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	r := event.NewReader(&buf, "events", event.ReaderOptions{Strict: true})
	for {
		l, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := b.AddLine(l); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Parts) != 1 || !s.Complete() || !reflect.DeepEqual(*s.Parts[0].Scope, sc) {
		t.Fatalf("read back %d parts, complete %v; scope equal: %v", len(s.Parts), s.Complete(), reflect.DeepEqual(*s.Parts[0].Scope, sc))
	}
	for i, t0 := range sc.Targets {
		want := t0 != "10.0.0.2"
		if got := len(s.Checked(netip.MustParseAddr(t0), "")) > 0; got != want {
			t.Errorf("target %d %s: checked %v, want %v", i, t0, got, want)
		}
	}
}

// FuzzScopeEvents feeds the Builder arbitrary lines among scan starts
// with scope_parts and scope events: it must not panic, and a part whose
// scope is incomplete is never complete.
func FuzzScopeEvents(f *testing.F) {
	f.Add(startParts("A", `{"targets":["192.0.2.1"],"ports":"T:22"}`, 2) + "\n" +
		scopePart("A", 1, `["192.0.2.3"]`, `["192.0.2.4"]`) + "\n" +
		scopePart("A", 2, `["198.51.100.0/30"]`, "") + "\n" + upHost("A", "192.0.2.1") + "\n" + end("A", true))
	f.Add(startParts("A", `{"targets":[]}`, 9) + "\n" + scopePart("A", 2, `[1]`, `"x"`) + "\n" + end("A", true))
	f.Add(`{"type":"scope","scan_id":"A","seq":-1,"targets":["::1"]}`)
	f.Fuzz(func(t *testing.T, in string) {
		b := NewBuilder()
		for _, raw := range strings.Split(in, "\n") {
			l := line(raw)
			if strings.Contains(raw, `"scope_parts"`) {
				l.Type = event.TypeScan
			}
			_ = b.AddLine(l)
		}
		s, err := b.Scan()
		if err != nil {
			return
		}
		for _, p := range s.Parts {
			if p.ScopeErr != nil && p.Complete {
				t.Fatalf("part %s complete with an incomplete scope: %v", p.ScanID, p.ScopeErr)
			}
		}
	})
}

// TestMillionScatteredScope reads the scope of a scan of 1,000,000
// scattered addresses (every other one of 127.0.0.0/11), written as
// probe writes it, and checks coverage on both sides of the addresses:
// the Builder merges the scope events, and the coverage sets answer for
// each host without walking the list.
func TestMillionScatteredScope(t *testing.T) {
	const n = 1_000_000
	sc := event.Scope{Targets: make([]string, 0, n), Exclude: []string{"127.0.0.4", "127.8.0.0/16"}, Ports: "T:80"}
	a := netip.MustParseAddr("127.0.0.0")
	for range n {
		sc.Targets = append(sc.Targets, a.String())
		a = a.Next().Next()
	}
	first, parts := event.SplitScope(sc, event.MaxScopeBytes)
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	_ = w.Encode(event.ScanStart{Type: event.TypeScan, ScanID: "A", Phase: event.PhaseStart, Scope: first, ScopeParts: len(parts)})
	for _, p := range parts {
		p.ScanID = "A"
		_ = w.Encode(p)
	}
	_ = w.Encode(event.ScanEnd{Type: event.TypeScan, ScanID: "A", Phase: event.PhaseEnd, Complete: true})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	r := event.NewReader(&buf, "events", event.ReaderOptions{Strict: true})
	for {
		l, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := b.AddLine(l); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if !s.Complete() || len(s.Parts[0].Scope.Targets) != n {
		t.Fatalf("complete %v, %d targets", s.Complete(), len(s.Parts[0].Scope.Targets))
	}
	for ip, want := range map[string]bool{
		"127.0.0.0": true, "127.0.0.1": false, "127.0.0.2": true, "127.0.0.4": false,
		sc.Targets[n-1]: true, a.String(): false, "127.8.0.2": false, "127.7.255.254": true, "127.8.255.255": false,
		"127.9.0.0": true, "127.9.0.1": false, "::ffff:127.0.0.2": true,
	} {
		if got := len(s.Checked(netip.MustParseAddr(ip), "")) > 0; got != want {
			t.Errorf("%s checked %v, want %v", ip, got, want)
		}
	}
	// Every host of a /16 takes a lookup each, not a walk of the list.
	hits := 0
	for h := netip.MustParseAddr("127.20.0.0"); h.As4()[1] == 20; h = h.Next() {
		if len(s.Checked(h, "")) > 0 {
			hits++
		}
	}
	if hits != 1<<15 {
		t.Errorf("%d hosts of 127.20.0.0/16 checked, want every other one", hits)
	}
}
