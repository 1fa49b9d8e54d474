package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/baseline"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds the ndiff and probe commands once for the tests that run it as a
// separate process, to kill it or to run two at once.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ndiff-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ndiff")
		out, err := exec.Command("go", "build", "-o", dir, ".", "../probe").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build ndiff and probe: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestMain runs the tests in a private network namespace (the pipeline
// test scans loopback with probe) and removes the built binaries.
func TestMain(m *testing.M) {
	if !labnet.Private() && os.Getenv("PICKET_LABNET") == "" {
		labnet.Main(m)
		return
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// writeScan writes a complete scan of hosts 10.0.h.1 (h from 0) with the
// given open ports each, scoped to exactly those hosts and ports 1-65535.
func writeScan(t *testing.T, path, id string, hosts []int, ports func(h int) []int) {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":"scan","time":"2026-11-0%sT00:00:00.000000000Z","scan_id":"%s","phase":"start","schema":1,"scope":{"targets":[`, id[len(id)-1:], id)
	for i, h := range hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"10.0.%d.1"`, h)
	}
	b.WriteString(`],"ports":"T:1-65535","method":"connect","discovery":"none"}}` + "\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, `{"type":"host","scan_id":"%s","ip":"10.0.%d.1","state":"up","reason":"user-set"}`+"\n", id, h)
		for _, p := range ports(h) {
			fmt.Fprintf(&b, `{"type":"port","scan_id":"%s","ip":"10.0.%d.1","port":%d,"proto":"tcp","state":"open","reason":"syn-ack","service":{"name":"svc%d","product":"P","version":"1.%d"}}`+"\n", id, h, p, p%7, h)
		}
	}
	fmt.Fprintf(&b, `{"type":"scan","scan_id":"%s","phase":"end","complete":true,"stats":{}}`+"\n", id)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func seq(from, n, step int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i*step
	}
	return out
}

// runBin runs the binary on a baseline with stdin from a file.
func runBin(t *testing.T, bin, stdin string, args ...string) *exec.Cmd {
	t.Helper()
	in, err := os.Open(stdin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	cmd := exec.Command(bin, args...)
	cmd.Stdin = in
	return cmd
}

// TestKillDuringUpdate kills `ndiff --update` with SIGKILL at random
// moments, 200 times, and checks that the baseline is always the
// old file or the new one, byte for byte, and that the next run works.
func TestKillDuringUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("kills ndiff hundreds of times")
	}
	bin := binary(t)
	dir := t.TempDir()
	hosts := seq(0, 20, 1)
	scanA, scanB := filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")
	writeScan(t, scanA, "SCAN1", hosts, func(h int) []int { return seq(1, 100, 3) })
	writeScan(t, scanB, "SCAN2", hosts, func(h int) []int { return seq(2, 100, 3) })
	path := filepath.Join(dir, "state.ndjson")
	args := []string{at, "--changes-only", "-b", path, "-u"}

	if err := runBin(t, bin, scanA, args...).Run(); err == nil || exitCode(err) != 1 {
		t.Fatalf("first run: %v", err)
	}
	oldData, _ := os.ReadFile(path)
	start := time.Now()
	if err := runBin(t, bin, scanB, args...).Run(); exitCode(err) != 1 {
		t.Fatalf("second run: %v", err)
	}
	dur := time.Since(start)
	newData, _ := os.ReadFile(path)
	if bytes.Equal(oldData, newData) {
		t.Fatal("the update changed nothing")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]int{}
	for i := range 200 {
		if err := os.WriteFile(path, oldData, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := runBin(t, bin, scanB, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Half the kills anywhere in a run, half in its second half,
		// where the new baseline is written and renamed.
		wait := rng.Int64N(int64(dur) * 6 / 5)
		if i%2 == 1 {
			wait = int64(dur)/2 + rng.Int64N(int64(dur)*3/5)
		}
		time.Sleep(time.Duration(wait))
		cmd.Process.Kill()
		cmd.Wait()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		switch {
		case bytes.Equal(got, oldData):
			seen["old"]++
		case bytes.Equal(got, newData):
			seen["new"]++
		default:
			t.Fatalf("kill %d after up to %v: the baseline is neither old nor new (%d bytes)", i, dur, len(got))
		}
		if _, err := baseline.Load(path); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
	}
	t.Logf("after 200 kills: %v (one full run took %v)", seen, dur)
	if seen["old"] == 0 || seen["new"] == 0 {
		t.Errorf("kills never landed on both sides of the rename: %v", seen)
	}
	// The next run cleans up after the killed ones and succeeds.
	if err := runBin(t, bin, scanB, args...).Run(); err != nil && exitCode(err) != 1 {
		t.Fatalf("run after the kills: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !slices.Contains([]string{"a.ndjson", "b.ndjson", "state.ndjson", "state.ndjson.lock"}, e.Name()) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestConcurrentUpdates runs two --update runs on one baseline at once,
// each scanning its own half of the hosts and finding a new port there;
// after both, the baseline must hold both new ports.
func TestConcurrentUpdates(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	all := seq(0, 20, 1)
	ports := func(h int) []int { return seq(1, 500, 2) }
	initial := filepath.Join(dir, "all.ndjson")
	writeScan(t, initial, "SCAN1", all, ports)
	left, right := filepath.Join(dir, "left.ndjson"), filepath.Join(dir, "right.ndjson")
	writeScan(t, left, "SCAN2", all[:10], func(h int) []int { return append(ports(h), 2000) })
	writeScan(t, right, "SCAN3", all[10:], func(h int) []int { return append(ports(h), 3000) })
	path := filepath.Join(dir, "state.ndjson")
	args := []string{at, "--changes-only", "-b", path, "-u"}
	if err := runBin(t, bin, initial, args...).Run(); exitCode(err) != 1 {
		t.Fatalf("first run: %v", err)
	}
	first, _ := os.ReadFile(path)
	for round := range 10 {
		if err := os.WriteFile(path, first, 0o600); err != nil {
			t.Fatal(err)
		}
		a, b := runBin(t, bin, left, args...), runBin(t, bin, right, args...)
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		if err := a.Wait(); exitCode(err) != 1 {
			t.Fatalf("round %d: left run: %v", round, err)
		}
		if err := b.Wait(); exitCode(err) != 1 {
			t.Fatalf("round %d: right run: %v", round, err)
		}
		st, err := baseline.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range st.Hosts {
			want := uint16(2000)
			if h.Addr.As4()[2] >= 10 {
				want = 3000
			}
			if h.Port("tcp", want) == nil {
				t.Fatalf("round %d: host %s lost its new port %d: an update was lost", round, h.Addr, want)
			}
			if len(h.Ports) != 501 {
				t.Fatalf("round %d: host %s has %d ports, want 501", round, h.Addr, len(h.Ports))
			}
		}
	}
}
