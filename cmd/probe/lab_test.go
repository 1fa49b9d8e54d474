package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// lab builds the multi-host lab of testdata/lab/hosts.sh with n hosts
// for the rest of the test and returns its directory.
func lab(t *testing.T, n int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the lab needs root (network namespaces, nft)")
	}
	dir := t.TempDir()
	script, _ := filepath.Abs("../../testdata/lab/hosts.sh")
	out, err := exec.Command("bash", script, "up", dir, fmt.Sprint(n)).CombinedOutput()
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "down", dir).CombinedOutput(); err != nil {
			t.Errorf("lab down: %v: %s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("lab up: %v: %s", err, out)
	}
	return dir
}

// inLab runs probe in the lab's scanner namespace and returns its port
// events as "ip proto port state" lines, sorted, the hosts it reported
// up and its end event.
func inLab(t *testing.T, dir string, args ...string) (ports []string, up []string, end map[string]any) {
	t.Helper()
	scanner, err := os.ReadFile(filepath.Join(dir, "scanner"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", strings.TrimSpace(string(scanner)), probeBin}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe %v: %v", args, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		switch ev["type"] {
		case "port":
			ports = append(ports, fmt.Sprintf("%v %v %v %v", ev["ip"], ev["proto"], ev["port"], ev["state"]))
		case "host":
			if ev["state"] == "up" {
				up = append(up, fmt.Sprint(ev["ip"]))
			}
		case "scan":
			if ev["phase"] == "end" {
				end = ev
			}
		}
	}
	sort.Strings(ports)
	sort.Strings(up)
	return ports, up, end
}

// truth returns the lab's ports of proto whose state is in states, as
// inLab writes them.
func truth(t *testing.T, dir, proto string, states ...string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "truth.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		for _, s := range states {
			if f[1] == proto && f[3] == s {
				want = append(want, strings.Join(f, " "))
			}
		}
	}
	sort.Strings(want)
	return want
}

func diff(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var missing, extra []string
	for s := range w {
		if !g[s] {
			missing = append(missing, s)
		}
	}
	for s := range g {
		if !w[s] {
			extra = append(extra, s)
		}
	}
	if len(missing)+len(extra) > 0 || len(got) != len(want) {
		sort.Strings(missing)
		sort.Strings(extra)
		t.Errorf("%s: %d reported, %d true; missing %v; extra %v", what, len(got), len(want), missing, extra)
	}
}

// TestLabEndToEnd scans a lab of 16 hosts on one bridge, each in its own
// namespace with listeners and an nft drop rule, and checks every method
// against the lab's truth: SYN with discovery (a host that does not
// exist is found down and not port-scanned), SYN split in three shards,
// connect, and UDP behind the kernel's ICMP rate limit.
func TestLabEndToEnd(t *testing.T) {
	dir := lab(t, 16)
	ports := "21-25,80,110,139,443,445,993,995,1723,3306,3389,5900,8080,8443,8888"
	openTCP := truth(t, dir, "tcp", "open")

	t.Run("syn with discovery", func(t *testing.T) {
		got, up, end := inLab(t, dir, "-n", "--method", "syn", "-p", ports, "-iL", filepath.Join(dir, "hosts.txt"), "10.77.1.200")
		diff(t, "open ports", got, openTCP)
		if len(up) != 16 {
			t.Errorf("%d hosts up, want 16", len(up))
		}
		stats := end["stats"].(map[string]any)
		if stats["hosts_up"] != 16.0 || stats["hosts_total"] != 17.0 || end["complete"] != true {
			t.Errorf("end %v", end)
		}
	})
	t.Run("syn all states", func(t *testing.T) {
		got, _, _ := inLab(t, dir, "-n", "-Pn", "--all-states", "--method", "syn", "-p", ports, "-iL", filepath.Join(dir, "hosts.txt"))
		var notClosed []string
		for _, p := range got {
			if !strings.HasSuffix(p, " closed") {
				notClosed = append(notClosed, p)
			}
		}
		diff(t, "open and filtered ports", notClosed, truth(t, dir, "tcp", "open", "filtered"))
		if len(got) != 16*19 {
			t.Errorf("%d port events, want %d", len(got), 16*19)
		}
	})
	t.Run("syn in three shards", func(t *testing.T) {
		var all []string
		for i := 1; i <= 3; i++ {
			got, _, _ := inLab(t, dir, "-n", "-Pn", "--method", "syn", "--shard", fmt.Sprintf("%d/3", i), "--shard-key", "lab",
				"-p", ports, "-iL", filepath.Join(dir, "hosts.txt"))
			all = append(all, got...)
		}
		sort.Strings(all)
		diff(t, "open ports of three shards", all, openTCP)
	})
	t.Run("connect", func(t *testing.T) {
		got, _, _ := inLab(t, dir, "-n", "-Pn", "--method", "connect", "-p", ports, "-iL", filepath.Join(dir, "hosts.txt"))
		diff(t, "open ports", got, openTCP)
	})
	t.Run("udp", func(t *testing.T) {
		udpPorts, err := os.ReadFile(filepath.Join(dir, "udp-ports"))
		if err != nil {
			t.Fatal(err)
		}
		got, _, end := inLab(t, dir, "-n", "-Pn", "--all-states", "--method", "udp", "-p", strings.TrimSpace(string(udpPorts)), "-iL", filepath.Join(dir, "hosts.txt"))
		var notClosed []string
		for _, p := range got {
			if !strings.HasSuffix(p, " closed") {
				notClosed = append(notClosed, p)
			}
		}
		diff(t, "open and open|filtered UDP ports", notClosed, truth(t, dir, "udp", "open", "open|filtered"))
		if len(got) != 16*20 || end["complete"] != true {
			t.Errorf("%d port events (want %d), end %v", len(got), 16*20, end)
		}
	})
}
