package ports_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/ports"
)

// services is written for these tests in nmap-services' format; the
// names and ranks are made up.
const services = `# test services
http	80/tcp	0.48
http-alt	8080/tcp	0.01
http-proxy	3128/tcp	0.02
httpx	8008/tcp	0.001
https	443/tcp	0.2
http	80/udp	0.001
domain	53/udp	0.2
`

func TestServicesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nmap-services")
	if err := os.WriteFile(path, []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad-services")
	if err := os.WriteFile(bad, []byte("http 99999/tcp 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, spec, want, wantErr string
	}{
		{"installed file gives every http name", path, "http*", "T:80,443,3128,8008,8080", ""},
		{"installed file, udp", path, "U:http*,domain", "U:53,80", ""},
		{"names not in the file are not found", path, "ssh", "", `bad port spec "ssh": no tcp service matches "ssh"`},
		{"no file: the built-in table", filepath.Join(dir, "missing"), "ssh", "T:22", ""},
		{"bad file names itself", bad, "http", "", `read service names from ` + bad + `: services line 1: "99999" is not a port number 0-65535`},
		{"numbers never read the file", bad, "22,80", "T:22,80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ports.Parse(tt.spec, ports.ParseOptions{LoadNames: ports.ServicesFile(tt.path)})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Parse(%q) error %v, want %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.String() != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.spec, l, tt.want)
			}
		})
	}
}

// TestLoadNamesOnce checks that LoadNames is called only for a spec that
// names a service, once, and that its error passes through.
func TestLoadNamesOnce(t *testing.T) {
	calls := 0
	load := func() (ports.Names, error) { calls++; return ports.WellKnown(), nil }
	if _, err := ports.Parse("1-1024,T:80", ports.ParseOptions{LoadNames: load}); err != nil || calls != 0 {
		t.Fatalf("numbers only: err %v, %d calls", err, calls)
	}
	if _, err := ports.Parse("ssh,http,https", ports.ParseOptions{LoadNames: load}); err != nil || calls != 1 {
		t.Fatalf("three names: err %v, %d calls", err, calls)
	}
	boom := errors.New("boom")
	_, err := ports.Parse("ssh", ports.ParseOptions{LoadNames: func() (ports.Names, error) { return nil, boom }})
	if !errors.Is(err, boom) || errors.Is(err, ports.ErrBadSpec) {
		t.Errorf("load error = %v", err)
	}
}

// TestInstalledNmapServices reads the nmap-services that Nmap installs, as
// probe does by default: http* gives Nmap's twelve TCP ports.
func TestInstalledNmapServices(t *testing.T) {
	if _, err := os.Stat(ports.NmapServicesPath); err != nil {
		t.Skipf("no %s (install nmap): %v", ports.NmapServicesPath, err)
	}
	l, err := ports.Parse("http*", ports.ParseOptions{LoadNames: ports.ServicesFile(ports.NmapServicesPath)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 12 || !l.Contains(ports.Port{Proto: ports.TCP, Num: 8080}) {
		t.Errorf("http* = %s (%d ports), want Nmap's 12", l, l.Len())
	}
}

// TestProtocolParts checks that a list of both protocols parses and splits
// into its TCP and UDP parts.
func TestProtocolParts(t *testing.T) {
	l, err := ports.Parse("T:22,U:53", ports.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Only(ports.TCP).String(); got != "T:22" {
		t.Errorf("Only(TCP) = %q", got)
	}
	if got := l.Only(ports.UDP).String(); got != "U:53" {
		t.Errorf("Only(UDP) = %q", got)
	}
	if got := l.Only(0).Len(); got != 0 {
		t.Errorf("Only(0) has %d ports", got)
	}
	if !slices.Equal(l.Ports(ports.TCP), []uint16{22}) || !slices.Equal(l.Ports(ports.UDP), []uint16{53}) {
		t.Errorf("Ports: %v %v", l.Ports(ports.TCP), l.Ports(ports.UDP))
	}
	if strings.Contains(l.Only(ports.TCP).String(), "U:") {
		t.Error("TCP part holds UDP")
	}
}
