package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/lib/baseline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const at = "--at=2026-11-02T03:00:00Z"

type result struct {
	code           int
	stdout, stderr string
}

// ndiff runs the command in-process with stdin read from a fixture
// (none when stdin is "").
func ndiff(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var in io.Reader = strings.NewReader("")
	if stdin != "" {
		b, err := os.ReadFile(stdin)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	var out, errb bytes.Buffer
	code := app.Run(context.Background(), command(), append([]string{"ndiff"}, args...), in, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func td(name string) string { return filepath.Join("testdata", name) }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := td(name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"kinds.text.golden", "", []string{at, "--format", "text", td("base.ndjson"), td("kinds.ndjson")}},
		{"kinds.xml.golden", "", []string{at, "--format", "xml", td("base.ndjson"), td("kinds.ndjson")}},
		{"kinds.ndjson.golden", "", []string{at, "--changes-only", td("base.ndjson"), td("kinds.ndjson")}},
		{"moved.text.golden", td("moved-b.xml"), []string{at, "-f", "text", td("moved-a.xml")}},
		{"moved.xml.golden", "", []string{at, "-f", "xml", td("moved-a.xml"), td("moved-b.xml")}},
		{"policy.text.golden", td("kinds.ndjson"), []string{at, "-f", "text", "--policy", td("policy.txt"), "--baseline", td("base.ndjson")}},
		{"shards.text.golden", "", []string{at, "-f", "text", td("base.ndjson"), td("shard1.ndjson"), td("shard2.ndjson")}},
		// OLD as "-": read from stdin, whatever its format.
		{"kinds.ndjson.golden", td("base.ndjson"), []string{at, "--changes-only", "-", td("kinds.ndjson")}},
		{"moved.xml.golden", td("moved-a.xml"), []string{at, "-f", "xml", "-", td("moved-b.xml")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ndiff(t, c.stdin, c.args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr %s", r.code, r.stderr)
			}
			golden(t, c.name, r.stdout)
			if strings.HasSuffix(c.name, ".xml.golden") {
				d := xml.NewDecoder(strings.NewReader(r.stdout))
				for {
					_, err := d.Token()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("output is not well-formed XML: %v", err)
					}
				}
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	in, _ := os.ReadFile(td("kinds.ndjson"))
	r := ndiff(t, td("kinds.ndjson"), at, "--baseline", td("base.ndjson"))
	if r.code != 1 || !strings.HasPrefix(r.stdout, string(in)) {
		t.Fatalf("exit %d; input not passed through first:\n%s", r.code, r.stdout)
	}
	rest := strings.Split(strings.TrimSpace(strings.TrimPrefix(r.stdout, string(in))), "\n")
	if len(rest) != 12 {
		t.Errorf("%d change lines, want 12", len(rest))
	}
	for _, l := range rest {
		var c struct {
			Type, Kind, Severity string
			ScanID               string `json:"scan_id"`
		}
		if err := json.Unmarshal([]byte(l), &c); err != nil || c.Type != "change" || c.Kind == "" || c.Severity == "" || c.ScanID != "CUR" {
			t.Errorf("bad change line %v: %s", err, l)
		}
	}
	// No change: the input alone, exit 0.
	same, _ := os.ReadFile(td("same.ndjson"))
	r = ndiff(t, td("same.ndjson"), at, "-b", td("base.ndjson"))
	if r.code != 0 || r.stdout != string(same) {
		t.Errorf("no change: exit %d, output differs from input:\n%s", r.code, r.stdout)
	}
	r = ndiff(t, td("same.ndjson"), at, "--changes-only", "-b", td("base.ndjson"))
	if r.code != 0 || r.stdout != "" {
		t.Errorf("--changes-only without change: exit %d, %q", r.code, r.stdout)
	}
}

// TestInterruptedNmap compares a finished Nmap run with one cut off
// after its first host: the hosts it never reached are not reported
// down, and the host it did report is unchanged.
func TestInterruptedNmap(t *testing.T) {
	r := ndiff(t, "", at, "--cert-warn-days", "0", "--changes-only", "--report-unknown", td("cert.xml"), td("truncated.xml"))
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "incomplete") {
		t.Errorf("exit %d, output %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The other way round: the host the cut-off run never reached is
	// down in the finished one, which is no change from not known.
	r = ndiff(t, "", at, "--cert-warn-days", "0", "--changes-only", "-f", "text", td("truncated.xml"), td("cert.xml"))
	if r.code != 0 {
		t.Errorf("exit %d, output %q", r.code, r.stdout)
	}
	// Certificate expiry from Nmap's ssl-cert script.
	r = ndiff(t, "", at, "--changes-only", "-f", "text", td("cert.xml"), td("cert.xml"))
	if r.code != 1 || !strings.Contains(r.stdout, "!443/tcp tls certificate www.example.com expires 2026-12-01T00:00:00") {
		t.Errorf("tls-expiring from ssl-cert: exit %d, %q", r.code, r.stdout)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.ndjson")
	good := filepath.Join(dir, "good.ndjson")
	if r := ndiff(t, td("base.ndjson"), at, "-b", good, "-u"); r.code != 1 {
		t.Fatalf("first update: %+v", r)
	}
	data, _ := os.ReadFile(good)
	os.WriteFile(corrupt, data[:len(data)-20], 0o600)
	xmlBase := filepath.Join(dir, "old.xml")
	x, _ := os.ReadFile(td("moved-a.xml"))
	os.WriteFile(xmlBase, x, 0o600)
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no args", "", nil, "nothing to compare"},
		{"old and new both stdin", "", []string{"-"}, "OLD and NEW cannot both be stdin"},
		{"old and new both stdin named", "", []string{"-", "-"}, "OLD and NEW cannot both be stdin"},
		{"bad format", "", []string{"-f", "html", td("base.ndjson"), td("same.ndjson")}, `bad --format "html"`},
		{"update without baseline", "", []string{"-u", td("base.ndjson"), td("same.ndjson")}, "--update needs --baseline"},
		{"confirm 0", "", []string{"--confirm", "0", "-b", good}, "bad --confirm 0"},
		{"negative cert-warn-days", "", []string{"--cert-warn-days", "-1", "-b", good}, "bad --cert-warn-days -1: want 0 or more"},
		{"history-keep 0", "", []string{"--history-keep", "0", "-b", good}, "bad --history-keep 0: want 1 or more"},
		{"missing old", "", []string{td("nope.ndjson"), td("same.ndjson")}, "nope.ndjson"},
		{"corrupt baseline", td("same.ndjson"), []string{"-b", corrupt}, "corrupt baseline"},
		{"corrupt baseline update", td("same.ndjson"), []string{"-b", corrupt, "-u"}, "corrupt baseline"},
		{"update an xml file", td("same.ndjson"), []string{"-b", xmlBase, "-u"}, "is not a Picket baseline"},
		{"bad policy", td("same.ndjson"), []string{"-b", good, "--policy", td("base.ndjson")}, "unknown directive"},
		{"not events", "", []string{"--strict", td("base.ndjson"), td("policy.txt")}, "policy.txt:1: not a JSON object"},
		{"not events as old", "", []string{td("policy.txt"), td("base.ndjson")}, "policy.txt:1: not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ndiff(t, c.stdin, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, c.want)
			}
		})
	}
	after, _ := os.ReadFile(corrupt)
	if !bytes.Equal(after, data[:len(data)-20]) {
		t.Error("a corrupt baseline was changed")
	}
	if after, _ := os.ReadFile(xmlBase); !bytes.Equal(after, x) {
		t.Error("an XML baseline was changed")
	}
}

func TestUpdate(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.ndjson")
	hist := filepath.Join(dir, "hist")
	run := func(stdin string, args ...string) result {
		return ndiff(t, stdin, append([]string{at, "--changes-only", "-b", state, "-u", "--history", hist, "--history-keep", "2"}, args...)...)
	}
	if r := run(td("base.ndjson")); r.code != 1 || strings.Count(r.stdout, "\n") != 9 {
		t.Fatalf("first run: %+v", r)
	}
	if r := run(td("base.ndjson")); r.code != 0 || r.stdout != "" {
		t.Fatalf("same scan again: %+v", r)
	}
	before, _ := os.ReadFile(state)
	// An incomplete scan reports what it saw but leaves the baseline.
	r := run(td("incomplete.ndjson"))
	if r.code != 1 || !strings.Contains(r.stdout, `"port-opened"`) || strings.Contains(r.stdout, "port-closed") || !strings.Contains(r.stderr, "baseline not updated") {
		t.Fatalf("incomplete: %+v", r)
	}
	if after, _ := os.ReadFile(state); !bytes.Equal(before, after) {
		t.Error("an incomplete scan changed the baseline")
	}
	// --confirm 2: the change shows on the second scan that sees it.
	if r := run(td("tls.ndjson"), "--confirm", "2"); r.code != 0 {
		t.Fatalf("confirm, first sight: %+v", r)
	}
	r = run(td("tls.ndjson"), "--confirm", "2")
	if r.code != 1 || !strings.Contains(r.stdout, "port-closed") || !strings.Contains(r.stdout, "tls-changed") {
		t.Fatalf("confirm, second sight: %+v", r)
	}
	if r := run(td("tls.ndjson"), "--confirm", "2"); r.code != 0 {
		t.Fatalf("confirm, third sight: %+v", r)
	}
	b, err := baseline.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if b.ScanID != "CUR" {
		t.Errorf("baseline scan id %q", b.ScanID)
	}
	ents, _ := os.ReadDir(hist)
	if len(ents) != 2 {
		t.Errorf("history holds %d copies, want 2", len(ents))
	}
}

// TestPolicyNewOnly checks --policy-new-only from the command line: a port
// the policy does not allow that was open in the baseline already is a
// violation on every run, but not with --policy-new-only; a port that
// just opened is one either way.
func TestPolicyNewOnly(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.txt")
	if err := os.WriteFile(pol, []byte("allow 192.0.2.2 80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	violations := func(extra ...string) map[string]bool {
		t.Helper()
		args := append([]string{at, "--changes-only", "--policy", pol, "-b", td("base.ndjson")}, extra...)
		r := ndiff(t, td("kinds.ndjson"), args...)
		if r.code != 1 {
			t.Fatalf("%q: exit %d, want 1; stderr %s", args, r.code, r.stderr)
		}
		got := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var c struct {
				Kind, IP string
				Port     int
			}
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("bad output line %q: %v", line, err)
			}
			if c.Kind == "policy-violation" {
				got[fmt.Sprintf("%s:%d", c.IP, c.Port)] = true
			}
		}
		return got
	}
	all, fresh := violations(), violations("--policy-new-only")
	if !all["192.0.2.2:8080"] || !all["192.0.2.2:3389"] {
		t.Errorf("without --policy-new-only: %v, want 192.0.2.2:8080 (open before) and :3389 (new)", all)
	}
	if fresh["192.0.2.2:8080"] || !fresh["192.0.2.2:3389"] {
		t.Errorf("with --policy-new-only: %v, want 192.0.2.2:3389 but not :8080", fresh)
	}
}

// eofClock is a reader that notes when it reported the end of input.
type eofClock struct {
	r   io.Reader
	eof time.Time
}

func (e *eofClock) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && e.eof.IsZero() {
		e.eof = time.Now()
	}
	return n, err
}

// TestChangeTimeAfterScan checks that, without --at, changes are dated
// once the scan has been read: in a pipe ndiff starts before the scan
// does, and a change dated before its own scan sorts wrongly downstream.
func TestChangeTimeAfterScan(t *testing.T) {
	b, err := os.ReadFile(td("kinds.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	in := &eofClock{r: bytes.NewReader(b)}
	var out, errb bytes.Buffer
	code := app.Run(context.Background(), command(), []string{"ndiff", "--changes-only", "--baseline", td("base.ndjson")}, in, &out, &errb)
	if code != 1 || in.eof.IsZero() {
		t.Fatalf("exit %d, eof seen %v: %s", code, !in.eof.IsZero(), errb.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var c struct{ Time string }
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, c.Time)
		if err != nil {
			t.Fatalf("change time %q: %v", c.Time, err)
		}
		if at.Before(in.eof) {
			t.Errorf("change dated %s, before the scan's input ended at %s", c.Time, in.eof.UTC().Format(time.RFC3339Nano))
		}
	}
}
