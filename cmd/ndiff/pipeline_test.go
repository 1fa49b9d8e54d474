package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
)

// pipeline runs `probe ARGS | ndiff NDIFFARGS` and returns ndiff's exit
// status and its change events as "kind port" strings.
func pipeline(t *testing.T, probeArgs, ndiffArgs []string) (int, []string) {
	t.Helper()
	dir := filepath.Dir(binary(t))
	probe := exec.Command(filepath.Join(dir, "probe"), probeArgs...)
	nd := exec.Command(filepath.Join(dir, "ndiff"), ndiffArgs...)
	pipe, err := probe.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	nd.Stdin = pipe
	var out, errb bytes.Buffer
	nd.Stdout, nd.Stderr = &out, &errb
	if err := nd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := probe.Run(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	code := exitCode(nd.Wait())
	if code != 0 && code != 1 {
		t.Fatalf("ndiff exit %d: %s", code, errb.String())
	}
	var changes []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var c struct {
			Type, Kind string
			Port       int
		}
		if l == "" || json.Unmarshal([]byte(l), &c) != nil || c.Type != "change" {
			continue
		}
		changes = append(changes, fmt.Sprintf("%s %d", c.Kind, c.Port))
	}
	slices.Sort(changes)
	return code, changes
}

// TestProbePipeline scans real listeners on loopback with probe, inside a
// private network namespace, and follows the changes through ndiff and
// its baseline: ports opened, a port closed and another opened, and a
// narrower scan that must not close anything.
func TestProbePipeline(t *testing.T) {
	labnet.Require(t)
	a := labnet.Listen(t, "127.0.0.1:0").Port
	lb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := uint16(lb.Addr().(*net.TCPAddr).Port)
	c := labnet.ClosedPort(t)
	state := filepath.Join(t.TempDir(), "state.ndjson")
	ports := fmt.Sprintf("%d,%d,%d", a, b, c)
	scan := []string{"-n", "-Pn", "-q", "-p", ports, "127.0.0.1"}
	nd := []string{"--baseline", state, "--update", "--changes-only"}

	code, got := pipeline(t, scan, nd)
	want := []string{"host-up 0", fmt.Sprintf("port-opened %d", a), fmt.Sprintf("port-opened %d", b)}
	slices.Sort(want)
	if code != 1 || !slices.Equal(got, want) {
		t.Fatalf("first scan: exit %d, %q, want %q", code, got, want)
	}
	if code, got := pipeline(t, scan, nd); code != 0 || len(got) != 0 {
		t.Fatalf("same ports again: exit %d, %q", code, got)
	}
	lb.Close()
	lc, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	code, got = pipeline(t, scan, nd)
	want = []string{fmt.Sprintf("port-closed %d", b), fmt.Sprintf("port-opened %d", c)}
	slices.Sort(want)
	if code != 1 || !slices.Equal(got, want) {
		t.Fatalf("after moving a listener: exit %d, %q, want %q", code, got, want)
	}
	// A scan of port a alone says nothing about c: no closure.
	if code, got := pipeline(t, []string{"-n", "-Pn", "-q", "-p", fmt.Sprint(a), "127.0.0.1"}, append(nd, "--report-unknown")); code != 1 || !slices.Equal(got, []string{fmt.Sprintf("unknown %d", c)}) {
		t.Fatalf("narrower scan: exit %d, %q", code, got)
	}
}
