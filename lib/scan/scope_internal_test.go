package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/targets"
)

// scatteredList is an -iL list of n addresses that do not collapse to
// prefixes: every other address of 127.0.0.0/11, from 127.0.0.0 on.
func scatteredList(n int) string {
	var b strings.Builder
	a := netip.MustParseAddr("127.0.0.0")
	for range n {
		b.WriteString(a.String())
		b.WriteByte('\n')
		a = a.Next().Next()
	}
	return b.String()
}

// TestScopeEventsOfScatteredMillion builds the real target set of
// 1,000,000 scattered addresses less some exclusions, writes the scan
// start through the scan's own output and writer (nothing is probed),
// and reads the lines back with the event reader at its default 1 MiB
// limit: every line is well under it, the start announces as many
// scope events as follow, and the scope merged from them in seq order is
// exactly the listed addresses less the exclusions.
func TestScopeEventsOfScatteredMillion(t *testing.T) {
	const n = 1_000_000
	list := scatteredList(n)
	src, err := targets.ReadList(strings.NewReader(list), "targets.txt")
	if err != nil {
		t.Fatal(err)
	}
	exclude := []string{"127.0.0.2", "127.0.0.3", "127.1.0.0/24"}
	set, err := targets.Build(context.Background(), targets.Config{Targets: src, Exclude: targets.Args(exclude, "exclusion")})
	if err != nil {
		t.Fatal(err)
	}
	src = nil

	var buf bytes.Buffer
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	s := &scanner{cfg: Config{ScanID: "S1"}}
	s.out = newOutput(event.NewWriter(&buf), cancel)
	scope := event.Scope{Targets: scopeTargets(set), Exclude: set.ExcludeSpecs(), Ports: "T:80", Method: "connect", Discovery: "none"}
	s.sendStart(&event.ScanStart{Type: event.TypeScan, Time: "t", ScanID: "S1", Phase: event.PhaseStart, Scope: scope})
	if err := s.out.close(); err != nil || ctx.Err() != nil {
		t.Fatalf("write: %v %v", err, ctx.Err())
	}

	r := event.NewReader(&buf, "events", event.ReaderOptions{Strict: true})
	var (
		merged  event.Scope
		want    = -1
		seq     int
		longest int
	)
	for {
		l, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		longest = max(longest, len(l.Raw))
		switch l.Type {
		case event.TypeScan:
			var st event.ScanStart
			if err := json.Unmarshal(l.Raw, &st); err != nil {
				t.Fatal(err)
			}
			merged, want = st.Scope, st.ScopeParts
		case event.TypeScope:
			var p event.ScopePart
			if err := json.Unmarshal(l.Raw, &p); err != nil {
				t.Fatal(err)
			}
			seq++
			if p.Seq != seq || p.ScanID != "S1" || p.Time != "t" {
				t.Fatalf("line %d: seq %d scan %q time %q, want seq %d of S1", l.Num, p.Seq, p.ScanID, p.Time, seq)
			}
			merged.Targets = append(merged.Targets, p.Targets...)
			merged.Exclude = append(merged.Exclude, p.Exclude...)
		default:
			t.Fatalf("line %d: unexpected %s event", l.Num, l.Type)
		}
	}
	if want < 1 || seq != want {
		t.Fatalf("start announced %d scope parts, %d followed", want, seq)
	}
	if longest > event.MaxScopeBytes+4096 {
		t.Errorf("longest line %d bytes", longest)
	}
	if strings.Join(merged.Exclude, " ") != strings.Join(exclude, " ") {
		t.Errorf("exclusions %q, want %q", merged.Exclude, exclude)
	}

	var got, expect netipx.IPSetBuilder
	for _, spec := range merged.Targets {
		p, err := netip.ParsePrefix(spec)
		if err != nil {
			if a, aerr := netip.ParseAddr(spec); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				t.Fatalf("scope target %q: %v", spec, err)
			}
		}
		got.AddPrefix(p)
	}
	for _, a := range strings.Fields(list) {
		expect.Add(netip.MustParseAddr(a))
	}
	expect.Remove(netip.MustParseAddr("127.0.0.2"))
	expect.RemovePrefix(netip.MustParsePrefix("127.1.0.0/24"))
	gs, err := got.IPSet()
	if err != nil {
		t.Fatal(err)
	}
	es, err := expect.IPSet()
	if err != nil {
		t.Fatal(err)
	}
	if !gs.Equal(es) {
		t.Errorf("merged scope differs from the listed addresses less the exclusions")
	}
	if c := len(es.Prefixes()); c != n-1-128 {
		t.Fatalf("expected set has %d prefixes; the list should not collapse", c)
	}
	t.Logf("%d scope parts, longest line %d bytes, %s in all", seq, longest, fmt.Sprint(len(merged.Targets)))
}
