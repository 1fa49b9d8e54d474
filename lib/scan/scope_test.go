package scan_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/scan"
)

// TestScopeOfAMillionTargets gives Setup an -iL list of 1,000,000
// addresses and checks that the scan start stays under the reader's
// 1 MiB line limit and still says exactly what is covered.
func TestScopeOfAMillionTargets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "targets.txt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	a := netip.MustParseAddr("10.0.0.0")
	const n = 1_000_000
	for range n {
		w.WriteString(a.String())
		w.WriteByte('\n')
		a = a.Next()
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	o := baseOptions("80")
	o.InputList = path
	o.Exclude = []string{"10.0.0.5"}
	o.Out = event.NewWriter(&bytes.Buffer{})
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(event.ScanStart{Type: event.TypeScan, Phase: event.PhaseStart, Scope: cfg.Scope})
	if err != nil {
		t.Fatal(err)
	}
	if len(line) >= 1<<20 {
		t.Fatalf("scan start is %d bytes, over the 1 MiB line limit", len(line))
	}
	var covered uint64
	for _, s := range cfg.Scope.Targets {
		p, err := netip.ParsePrefix(s)
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			p, err = netip.PrefixFrom(a, 32), nil
		}
		if err != nil {
			t.Fatalf("scope target %q is not a prefix or an address: %v", s, err)
		}
		if p.Contains(netip.MustParseAddr("10.0.0.5")) {
			t.Errorf("scope %s covers the excluded 10.0.0.5", s)
		}
		covered += 1 << (32 - p.Bits())
	}
	if covered != n-1 {
		t.Errorf("scope covers %d addresses, want %d", covered, n-1)
	}
	t.Logf("scan start: %d bytes, %d prefixes", len(line), len(cfg.Scope.Targets))
}

func TestLargeScopeNeedsConfirmation(t *testing.T) {
	o := baseOptions("80", "10.0.0.0/7")
	o.Out = event.NewWriter(&bytes.Buffer{})
	if _, err := scan.Setup(context.Background(), o); err == nil || !strings.Contains(err.Error(), "confirm a scan this large") {
		t.Fatalf("err = %v, want a request to confirm", err)
	}
	o.YesLarge = true
	cfg, err := scan.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Scope.Targets; len(got) != 1 || got[0] != "10.0.0.0/7" {
		t.Errorf("scope targets %v, want the spec as given", got)
	}
}
