package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

// TestScatteredScopeThroughNdiff scans 120,000 scattered loopback
// addresses (every other one from 127.0.0.0: they do not collapse to
// prefixes, and as one line their scope would take 1.6 MB) with the probe
// binary, inside a private network namespace, and reads the events with
// ndiff at its default 1 MiB line limit. The scope arrives in scope
// events, merges back to exactly the list less the exclusion, and ndiff
// gets the coverage right: a baseline port inside the scattered scope
// and gone now is reported closed; baseline hosts outside the scope or
// excluded are not touched. With one scope event taken out, ndiff warns
// naming the scan and takes nothing as closed.
func TestScatteredScopeThroughNdiff(t *testing.T) {
	labnet.Require(t)
	dir := filepath.Dir(binary(t))
	tmp := t.TempDir()
	const n = 120_000
	var list strings.Builder
	want := make([]string, 0, n)
	a := netip.MustParseAddr("127.0.0.0")
	for range n {
		list.WriteString(a.String() + "\n")
		if a.String() != "127.0.0.6" {
			want = append(want, a.String())
		}
		a = a.Next().Next()
	}
	listPath := filepath.Join(tmp, "targets.txt")
	if err := os.WriteFile(listPath, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := labnet.Listen(t, "127.0.0.4:0").Port

	scanPath := filepath.Join(tmp, "scan.ndjson")
	out, err := os.Create(scanPath)
	if err != nil {
		t.Fatal(err)
	}
	probe := exec.Command(filepath.Join(dir, "probe"), "-n", "-Pn", "-q", "-p", fmt.Sprint(port), "-iL", listPath, "--exclude", "127.0.0.6")
	var perr bytes.Buffer
	probe.Stdout, probe.Stderr = out, &perr
	if err := probe.Run(); err != nil {
		t.Fatalf("probe: %v\n%s", err, perr.String())
	}
	out.Close()
	raw, err := os.ReadFile(scanPath)
	if err != nil {
		t.Fatal(err)
	}

	// Every line is well under the limit; the scope events come right
	// after the start, as many as it announced; the merged scope is the
	// list less the exclusion.
	var (
		scanID    string
		announced int
		scopes    []int // line numbers of scope events
		types     = map[string]int{}
	)
	b := state.NewBuilder()
	r := event.NewReader(bytes.NewReader(raw), "scan.ndjson", event.ReaderOptions{Strict: true})
	for {
		l, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Raw) > event.MaxScopeBytes+4096 {
			t.Errorf("line %d is %d bytes", l.Num, len(l.Raw))
		}
		types[l.Type]++
		switch {
		case l.Type == event.TypeScan && l.Num == 1:
			var st event.ScanStart
			if err := json.Unmarshal(l.Raw, &st); err != nil {
				t.Fatal(err)
			}
			scanID, announced = st.ScanID, st.ScopeParts
		case l.Type == event.TypeScope:
			if l.Num != len(scopes)+2 {
				t.Errorf("scope event on line %d, after other events", l.Num)
			}
			scopes = append(scopes, l.Num)
		}
		if err := b.AddLine(l); err != nil {
			t.Fatalf("line %d: %v", l.Num, err)
		}
	}
	if announced < 5 || len(scopes) != announced {
		t.Fatalf("scan start announced %d scope events, %d came (types %v)", announced, len(scopes), types)
	}
	if types[event.TypeHost] != n-1 || types[event.TypePort] != 1 {
		t.Errorf("events %v: want a host event per address and the one open port", types)
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Parts) != 1 || !s.Complete() || s.Parts[0].ScopeErr != nil {
		t.Fatalf("%d parts, complete %v, scope error %v", len(s.Parts), s.Complete(), s.Parts[0].ScopeErr)
	}
	if sc := s.Parts[0].Scope; !slices.Equal(sc.Targets, want) || !slices.Equal(sc.Exclude, []string{"127.0.0.6"}) {
		t.Errorf("merged scope: %d targets (want %d, equal %v), exclusions %q",
			len(sc.Targets), len(want), slices.Equal(sc.Targets, want), sc.Exclude)
	}

	// The baseline had the port open on .2 (in the scattered scope), .3
	// (between two scanned addresses: outside it), .4 (open still) and
	// .6 (excluded).
	old := filepath.Join(tmp, "old.ndjson")
	var ob strings.Builder
	fmt.Fprintf(&ob, `{"type":"scan","time":"2026-11-01T00:00:00.000000000Z","scan_id":"OLD","phase":"start","schema":1,"scope":{"targets":["127.0.0.2-6"],"ports":"T:%d","method":"connect","discovery":"none"}}`+"\n", port)
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.6"} {
		fmt.Fprintf(&ob, `{"type":"host","scan_id":"OLD","ip":"%s","state":"up","reason":"syn-ack"}`+"\n", ip)
		fmt.Fprintf(&ob, `{"type":"port","scan_id":"OLD","ip":"%s","port":%d,"proto":"tcp","state":"open","reason":"syn-ack"}`+"\n", ip, port)
	}
	ob.WriteString(`{"type":"scan","scan_id":"OLD","phase":"end","complete":true}` + "\n")
	if err := os.WriteFile(old, []byte(ob.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// ndiff runs on NEW from stdin: changes for the four baseline hosts.
	ndiff := func(t *testing.T, input []byte) (string, []string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "ndiff"), old)
		cmd.Stdin = bytes.NewReader(input)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if code := exitCode(cmd.Run()); code != 1 {
			t.Fatalf("ndiff exit %d, want 1 (changes): %s", code, stderr.String())
		}
		var got []string
		for _, l := range strings.Split(stdout.String(), "\n") {
			var c struct {
				Type, Kind, IP string
				Port           int
			}
			if !strings.Contains(l, `"type":"change"`) || json.Unmarshal([]byte(l), &c) != nil {
				continue
			}
			switch c.IP {
			case "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.6":
				got = append(got, fmt.Sprintf("%s %s %d", c.Kind, c.IP, c.Port))
			}
			if c.Kind == event.KindHostDown {
				got = append(got, "host-down "+c.IP)
			}
		}
		slices.Sort(got)
		return stdout.String(), got, stderr.String()
	}
	stdout, got, stderr := ndiff(t, raw)
	if wantc := []string{fmt.Sprintf("port-closed 127.0.0.2 %d", port)}; !slices.Equal(got, wantc) {
		t.Errorf("changes %q, want %q; stderr:\n%s", got, wantc, stderr)
	}
	if !strings.HasPrefix(stdout, string(raw)) {
		t.Errorf("ndiff did not pass the scan's lines through byte for byte")
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("ndiff warned:\n%s", stderr)
	}

	// Without the last scope event the scope is incomplete: ndiff says
	// so, naming the scan, and reports nothing closed.
	last := scopes[len(scopes)-1]
	lines := bytes.SplitAfter(raw, []byte("\n"))
	cut := slices.Concat(slices.Concat(lines[:last-1]...), slices.Concat(lines[last:]...))
	stdout, got, stderr = ndiff(t, cut)
	if len(got) != 0 {
		t.Errorf("incomplete scope: changes %q, want none for the baseline hosts", got)
	}
	wantWarn := fmt.Sprintf("scan %s: scope incomplete: %d of %d scope events came before its first host, port or end event", scanID, announced-1, announced)
	if !strings.Contains(stderr, wantWarn) {
		t.Errorf("stderr lacks %q:\n%s", wantWarn, stderr)
	}
	if !strings.HasPrefix(stdout, string(cut)) {
		t.Errorf("ndiff did not pass the cut scan's lines through byte for byte")
	}
}
