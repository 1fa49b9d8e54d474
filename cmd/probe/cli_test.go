package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
)

// checkNDJSON fails unless every line of stdout is a JSON object.
func checkNDJSON(t *testing.T, stdout string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("stdout line %q is not an event: %v", sc.Text(), err)
		}
	}
}

// TestCLISurprises runs what a new user types, each case with the exit
// status it must end with; no case may exit 3.
func TestCLISurprises(t *testing.T) {
	labnet.Require(t)
	open := strconv.Itoa(int(labnet.Listen(t, "127.0.0.1:0").Port))
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	comments := filepath.Join(dir, "comments.txt")
	services := filepath.Join(dir, "services")
	for path, text := range map[string]string{
		empty:    "",
		comments: "# nothing to scan yet\n\n",
		services: "picket-test\t" + open + "/tcp\t0.5\t# made up for this test\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const zeroHosts = "no targets to scan: every target is excluded or the target list is empty; 0 hosts scanned"
	tests := []struct {
		name      string
		args      []string
		code      int
		stdoutHas []string
		stderrHas []string
		ndjson    bool // stdout must be events only
	}{
		{"help after the targets", []string{"-n", "-p", "22", "127.0.0.1", "--help"}, 0, []string{"USAGE:", "Exit status:"}, nil, false},
		{"-h before the targets", []string{"-h", "127.0.0.1"}, 0, []string{"USAGE:"}, nil, false},
		{"probe help", []string{"help"}, 0, []string{"USAGE:"}, nil, false},
		{"help shows Nmap's single-dash flags", []string{"--help"}, 0, []string{"   -iL FILE ", "   -Pn "}, nil, false},
		{"empty -p", []string{"-n", "-Pn", "-p", "", "127.0.0.1"}, 2, nil, []string{"-p: empty value"}, false},
		{"empty -p=", []string{"-n", "-Pn", "-p=", "127.0.0.1"}, 2, nil, []string{"-p: empty value"}, false},
		{"empty --exclude-ports", []string{"-n", "-Pn", "-p", open, "--exclude-ports", " ", "127.0.0.1"}, 2, nil, []string{"-exclude-ports: empty value"}, false},
		{"-v is verbose, not the version", []string{"-n", "-Pn", "-p", open, "-v", "127.0.0.1"}, 0,
			[]string{`"state":"open"`}, []string{"probe: debug: start version=", "probe: debug: scan setup addresses=1 ports=1"}, true},
		{"-vv", []string{"-n", "-Pn", "-p", open, "127.0.0.1", "-vv"}, 0, []string{`"state":"open"`},
			[]string{"probe: debug: scan setup", "probe: debug: scan scope targets=127.0.0.1 exclude=\"\" ports=T:" + open}, true},
		{"--version alone prints it", []string{"--version"}, 0, []string{"probe version "}, nil, false},
		{"-q and -v", []string{"-q", "-v", "127.0.0.1"}, 2, nil, []string{"-q and -v contradict"}, false},
		{"--top-ports beyond 1000", []string{"-n", "-Pn", "--top-ports", "65535", "--timeout", "50ms", "127.0.0.1"}, 0,
			[]string{`"ports":"T:1-35,37-226,`, `"complete":true`}, nil, true},
		{"--top-ports 0", []string{"-n", "-Pn", "--top-ports", "0", "127.0.0.1"}, 2, nil, []string{"out of range 1-65535"}, false},
		{"service names from --servicedb", []string{"-n", "-Pn", "--servicedb", services, "-p", "picket-*", "127.0.0.1"}, 0,
			[]string{`"ports":"T:` + open + `"`, `"state":"open"`}, nil, true},
		{"no services file: the built-in table", []string{"-n", "-Pn", "--servicedb", filepath.Join(dir, "none"), "-p", "ssh", "--timeout", "50ms", "127.0.0.1"}, 0,
			[]string{`"ports":"T:22"`}, nil, true},
		{"every target excluded", []string{"-n", "-Pn", "-p", open, "127.0.0.1", "--exclude", "127.0.0.0/8"}, 0,
			[]string{`"hosts_total":0`, `"complete":true`}, []string{zeroHosts}, true},
		{"empty -iL", []string{"-n", "-Pn", "-p", open, "-iL", empty}, 0,
			[]string{`"hosts_total":0`, `"complete":true`}, []string{zeroHosts}, true},
		{"-iL of comments only", []string{"-n", "-Pn", "-p", open, "-iL", comments}, 0,
			[]string{`"hosts_total":0`, `"targets":[]`}, []string{zeroHosts}, true},
		{"unknown flag", []string{"--bogus", "127.0.0.1"}, 2, nil, []string{"flag provided but not defined"}, false},
		{"-6 with an IPv4 address", []string{"-n", "-Pn", "-6", "-p", open, "::1", "127.0.0.1"}, 2, nil,
			[]string{`argument 2: bad target "127.0.0.1": an IPv4 target, but -6 scans IPv6 addresses only`}, false},
		{"-6 with an IPv4 prefix", []string{"-n", "-Pn", "-6", "-p", open, "127.0.0.0/30"}, 2, nil,
			[]string{`bad target "127.0.0.0/30"`, "-6 scans IPv6 addresses only"}, false},
		{"-6 with an IPv4-mapped address", []string{"-n", "-Pn", "-6", "-p", open, "::ffff:127.0.0.1"}, 2, nil,
			[]string{`bad target "::ffff:127.0.0.1"`, "-6 scans IPv6 addresses only"}, false},
		{"bad flag value", []string{"--rate", "fast", "127.0.0.1"}, 2, nil, []string{`invalid value "fast"`}, false},
		{"bad duration", []string{"--timeout", "5", "127.0.0.1"}, 2, nil, []string{`invalid value "5"`}, false},
		{"value flag without its value", []string{"127.0.0.1", "-p"}, 2, nil, []string{"flag needs an argument: -p"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %.2000s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%.2000s", s, r.stdout)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tc.ndjson {
				checkNDJSON(t, r.stdout)
			}
		})
	}
}

// TestExcludedBySpelling scans through the real binary with the target
// and the exclusion spelled differently and checks the listener was never
// reached.
func TestExcludedBySpelling(t *testing.T) {
	labnet.Require(t)
	ln := labnet.Listen(t, "127.0.0.1:0")
	port := strconv.Itoa(int(ln.Port))
	for _, tc := range [][2]string{
		{"127.0.0.1", "::ffff:127.0.0.1"},
		{"127.0.0.1", "::ffff:127.0.0.0/126"},
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"::ffff:127.0.0.0/127", "127.0.0.0/8"},
	} {
		r := probe(t, "-n", "-Pn", "-p", port, tc[0], "--exclude", tc[1])
		if r.code != 0 || !strings.Contains(r.stdout, `"excluded":`) {
			t.Fatalf("target %s, exclusion %s: exit %d\n%s%s", tc[0], tc[1], r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, `"port":`+port) || strings.Contains(r.stdout, "::ffff:") && strings.Contains(r.stdout, `"type":"host"`) {
			t.Errorf("target %s, exclusion %s: the excluded address was reported:\n%s", tc[0], tc[1], r.stdout)
		}
	}
	if hits := ln.Hits(); len(hits) > 0 {
		t.Errorf("the excluded address was probed: %v", hits)
	}
}
