package fplab

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabFingerprint brings up the lab of real daemons, feeds a port event
// for each through the fingerprint binary inside the lab's namespace, and
// checks service name, product and version against the truth the lab
// wrote. Where a daemon tells its version (Shown), fingerprint must report
// exactly it; where it does not, fingerprint must not report a wrong one.
func TestLabFingerprint(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts about 40 real daemons")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: the lab needs root, to create a network namespace and start daemons in it")
	}
	for _, tool := range []string{"ip", "dpkg-query", "bash", "setsid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	missing, err := Missing(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Skipf("skipped: the lab's packages are not installed: %s (bash testdata/lab/services.sh install)", strings.Join(missing, " "))
	}

	// Not t.TempDir: the daemons run as their own users and must be able
	// to enter the directory, which services.sh opens to them.
	dir, err := os.MkdirTemp("", "picket-fplab-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(dir, "fingerprint")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/fingerprint")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fingerprint: %v\n%s", err, out)
	}

	var labLog bytes.Buffer
	lab, err := Up(ctx, root, filepath.Join(dir, "lab"), &labLog)
	t.Cleanup(func() {
		if err := lab.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, labLog.String())
	}
	t.Logf("lab: %s", strings.TrimSpace(labLog.String()))
	if len(lab.Services) < 12 {
		t.Fatalf("only %d daemons came up, want at least 12:\n%s", len(lab.Services), labLog.String())
	}

	events := filepath.Join(dir, "events.ndjson")
	f, err := os.Create(events)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteEvents(f, lab.Services); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var stdout, stderr bytes.Buffer
	cmd := lab.Command(ctx, bin, events)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("fingerprint: %v\n%s", err, stderr.String())
	}
	t.Logf("fingerprint took %s for %d ports; stderr:\n%s", time.Since(start).Round(time.Millisecond), len(lab.Services), stderr.String())
	out := stdout.String()
	got, err := ReadFingerprint(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out, "\n"); lines != len(lab.Services)+2 {
		t.Errorf("fingerprint wrote %d lines for %d port events and 2 scan events", lines, len(lab.Services))
	}

	for _, s := range lab.Services {
		t.Run(s.Name, func(t *testing.T) {
			o, ok := got[s.Key()]
			if !ok {
				t.Fatalf("no service for %s", s.Key())
			}
			v := Judge(s, o)
			if !v.Name {
				t.Errorf("%s: name %q, want one of %q", s.Key(), o.Name, s.Names)
			}
			if !v.Product {
				t.Errorf("%s: product %q, want one matching %q", s.Key(), o.Product, s.Product)
			}
			switch {
			case s.Shown && !v.Version:
				t.Errorf("%s: version %q, want %s (package %s %s)", s.Key(), o.Version, s.Version, s.Package, s.Dpkg)
			case v.VersionWrong:
				t.Errorf("%s: version %q is wrong: %s is installed (package %s %s)", s.Key(), o.Version, s.Version, s.Package, s.Dpkg)
			}
		})
	}
}
