package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sample is written for this test in nmap-services' format; its ranks are
// made up.
const sample = `# made-up ranking
web	80/tcp	0.9	# comment
mail	25/tcp	0.2
tie-b	300/tcp	0.1
tie-a	200/tcp	0.1
dns	53/udp	0.7
plain	9/tcp
multi	25/sctp	0.99
dup	80/tcp	0.05
`

func TestRank(t *testing.T) {
	got, err := rank(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		proto string
		want  []uint16
	}{
		{"tcp", []uint16{80, 25, 200, 300}},
		{"udp", []uint16{53}},
		{"sctp", []uint16{25}},
	}
	for _, tt := range tests {
		t.Run(tt.proto, func(t *testing.T) {
			if !slices.Equal(got[tt.proto], tt.want) {
				t.Errorf("rank[%s] = %v, want %v", tt.proto, got[tt.proto], tt.want)
			}
		})
	}
}

func TestRankErrors(t *testing.T) {
	tests := []struct{ name, input, wantErr string }{
		{"no slash", "a 80 0.1\n", `line 1: "80" is not port/proto`},
		{"bad port", "a 99999/tcp 0.1\n", `line 1: port "99999": strconv.ParseUint: parsing "99999": value out of range`},
		{"no frequencies", "a 80/tcp\n", "no ports with frequencies found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rank(strings.NewReader(tt.input))
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("rank error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	services := filepath.Join(dir, "services")
	if err := os.WriteFile(services, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-services", services, "-out", dir, "-n", "1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"top_tcp.txt": "80\n", "top_udp.txt": "53\n"} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	err := run([]string{"-services", services, "-out", dir, "-n", "2"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "has only 1 udp ports") {
		t.Errorf("run with too few ports: %v", err)
	}
	// By default every ranked port is kept.
	if err := run([]string{"-services", services, "-out", dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "top_tcp.txt")); string(got) != "80\n25\n200\n300\n" {
		t.Errorf("top_tcp.txt = %q, want every ranked port", got)
	}
}

// TestEmbeddedTablesAreCurrent regenerates the tables from the installed
// nmap-services and compares them with the ones package ports embeds.
func TestEmbeddedTablesAreCurrent(t *testing.T) {
	const installed = "/usr/share/nmap/nmap-services"
	if _, err := os.Stat(installed); err != nil {
		t.Skipf("no %s (install nmap): %v", installed, err)
	}
	dir := t.TempDir()
	if err := run([]string{"-services", installed, "-out", dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"top_tcp.txt", "top_udp.txt"} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(embedded) {
			t.Errorf("%s differs from what the installed nmap-services gives; run go generate ./lib/ports", file)
		}
	}
}
