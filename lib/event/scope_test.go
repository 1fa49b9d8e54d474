package event_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/event"
)

// chunkShape describes how SplitScope cut a scope: for the start and
// then each part, "T/X" counts of targets and exclusions.
func chunkShape(first event.Scope, parts []event.ScopePart) string {
	s := []string{fmt.Sprintf("%d/%d", len(first.Targets), len(first.Exclude))}
	for _, p := range parts {
		s = append(s, fmt.Sprintf("%d/%d", len(p.Targets), len(p.Exclude)))
	}
	return strings.Join(s, " ")
}

// jsonSpecBytes is what specs take in a JSON array, counting a comma
// for each: the quantity SplitScope bounds.
func jsonSpecBytes(t *testing.T, specs []string) int {
	t.Helper()
	n := 0
	for _, s := range specs {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		n += len(b) + 1
	}
	return n
}

func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("1.2.3.%d", i%10) // 7 bytes: 10 in JSON with quotes and comma
	}
	return out
}

func TestSplitScope(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		exclude []string
		limit   int
		want    string // chunkShape
	}{
		{"empty", nil, nil, 20, "0/0"},
		{"one", addrs(1), nil, 20, "1/0"},
		{"exactly at the limit", addrs(2), nil, 20, "2/0"},
		{"one byte over", addrs(2), nil, 19, "1/0 1/0"},
		{"one spec over", addrs(3), nil, 20, "2/0 1/0"},
		{"many", addrs(7), nil, 30, "3/0 3/0 1/0"},
		{"exclusions fit", addrs(1), addrs(1), 20, "1/1"},
		{"exclusions share a part", addrs(3), addrs(2), 20, "2/0 1/1 0/1"},
		{"long exclusions", addrs(1), addrs(6), 30, "1/2 0/3 0/1"},
		{"exclusions only", nil, addrs(3), 20, "0/2 0/1"},
		{"a spec longer than the limit goes alone", []string{"1.2.3.4", strings.Repeat("a", 40), "1.2.3.5"}, nil, 20, "1/0 1/0 1/0"},
		{"escapes count", []string{`a"b`, "c\x01d", "1.2.3.4"}, nil, 15, "1/0 1/0 1/0"},
		{"non-ASCII counts thrice", []string{"é\u2028", "1.2.3.4"}, nil, 21, "1/0 1/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := event.Scope{Targets: tc.targets, Exclude: tc.exclude, Ports: "T:80", Method: "connect", Discovery: "none"}
			first, parts := event.SplitScope(sc, tc.limit)
			if got := chunkShape(first, parts); got != tc.want {
				t.Fatalf("chunks %s, want %s", got, tc.want)
			}
			if first.Ports != sc.Ports || first.Method != sc.Method || first.Discovery != sc.Discovery {
				t.Errorf("start scope lost its other fields: %+v", first)
			}
			// Merged in order, the parts give the scope back.
			merged := first
			merged.Targets = append([]string(nil), first.Targets...)
			merged.Exclude = append([]string(nil), first.Exclude...)
			for i, p := range parts {
				if p.Type != event.TypeScope || p.Seq != i+1 {
					t.Errorf("part %d: type %q seq %d", i, p.Type, p.Seq)
				}
				if len(p.Targets)+len(p.Exclude) == 0 {
					t.Errorf("part %d is empty", p.Seq)
				}
				merged.Targets = append(merged.Targets, p.Targets...)
				merged.Exclude = append(merged.Exclude, p.Exclude...)
			}
			if len(merged.Targets) == 0 {
				merged.Targets = nil
			}
			if len(merged.Exclude) == 0 {
				merged.Exclude = nil
			}
			if !reflect.DeepEqual(merged, sc) {
				t.Errorf("merged %+v, want %+v", merged, sc)
			}
			// Every chunk is within the limit unless it is one spec.
			check := func(where string, ts, xs []string) {
				if n := jsonSpecBytes(t, ts) + jsonSpecBytes(t, xs); n > tc.limit && len(ts)+len(xs) > 1 {
					t.Errorf("%s: %d bytes of specs, over %d", where, n, tc.limit)
				}
			}
			check("start", first.Targets, first.Exclude)
			for _, p := range parts {
				check(fmt.Sprintf("part %d", p.Seq), p.Targets, p.Exclude)
			}
		})
	}
}

// TestSplitScopeKeepsSmallScopes checks that a scope within the limit is
// written as it always was: no scope_parts field, the same line.
func TestSplitScopeKeepsSmallScopes(t *testing.T) {
	sc := event.Scope{Targets: []string{"127.0.0.1"}, Ports: "T:22", Method: "connect", Discovery: "none"}
	first, parts := event.SplitScope(sc, event.MaxScopeBytes)
	if len(parts) != 0 {
		t.Fatalf("%d parts for a one-target scope", len(parts))
	}
	line, err := json.Marshal(event.ScanStart{Type: event.TypeScan, Phase: event.PhaseStart, Scope: first, ScopeParts: len(parts)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(line), "scope_parts") {
		t.Errorf("small scan start has scope_parts: %s", line)
	}
}

// TestSplitScopeLinesBounded splits 1,000,000 addresses at the default
// limit and checks that every line, encoded, is well under 1 MiB.
func TestSplitScopeLinesBounded(t *testing.T) {
	ts := make([]string, 1_000_000)
	for i := range ts {
		ts[i] = fmt.Sprintf("127.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	first, parts := event.SplitScope(event.Scope{Targets: ts, Ports: "T:80"}, event.MaxScopeBytes)
	lines := []any{event.ScanStart{Type: event.TypeScan, Scope: first, ScopeParts: len(parts)}}
	for _, p := range parts {
		lines = append(lines, p)
	}
	total := 0
	for i, v := range lines {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > event.MaxScopeBytes+1024 {
			t.Errorf("line %d is %d bytes", i+1, len(b))
		}
		total += len(b)
	}
	n := len(first.Targets)
	for _, p := range parts {
		n += len(p.Targets)
	}
	if n != len(ts) {
		t.Errorf("%d targets in all lines, want %d", n, len(ts))
	}
	t.Logf("%d lines, %d bytes", len(lines), total)
}
