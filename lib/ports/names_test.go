package ports_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/ports"
)

func TestWellKnown(t *testing.T) {
	tests := []struct {
		pattern string
		proto   ports.Proto
		want    []uint16
	}{
		{"ssh", ports.TCP, []uint16{22}},
		{"SSH", ports.UDP, []uint16{22}},
		{"domain", ports.UDP, []uint16{53}},
		{"ms-wbt-server", ports.TCP, []uint16{3389}},
		{"microsoft-ds", ports.TCP, []uint16{445}},
		{"ms-sql-s", ports.TCP, []uint16{1433}},
		{"http-alt", ports.TCP, []uint16{591, 8008, 8080}},
		{"biff", ports.TCP, nil},
		{"biff", ports.UDP, []uint16{512}},
		{"redis", ports.UDP, nil},
		{"nosuch", ports.TCP, nil},
		{"ssh", 0, nil},
		{"pop3*", ports.TCP, []uint16{110, 995}},
		{"*3s", ports.TCP, []uint16{995}},
		{"imap*", ports.UDP, []uint16{143, 993}},
		{"imap?", ports.TCP, []uint16{993}},
		{"?", ports.TCP, nil},
		{"x??", ports.TCP, []uint16{x11}},
		{"*-*-*", ports.TCP, []uint16{1433, 1434, 3389, 4500}},
		{"**ss**h**", ports.TCP, []uint16{22}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.proto.String(), func(t *testing.T) {
			got := ports.WellKnown().Lookup(tt.pattern, tt.proto)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Lookup(%q, %v) = %v, want %v", tt.pattern, tt.proto, got, tt.want)
			}
		})
	}
}

const x11 = 6000

func TestWellKnownSize(t *testing.T) {
	all := ports.WellKnown().Lookup("*", ports.TCP)
	if len(all) < 100 {
		t.Errorf("built-in table has %d tcp ports, want at least 100", len(all))
	}
	for _, name := range strings.Fields(`ssh telnet smtp domain http https pop3 imap imaps pop3s ftp ftp-data
		ntp snmp ldap ldaps microsoft-ds netbios-ssn mysql postgresql ms-wbt-server http-alt rdp redis
		mongodb vnc sip bgp kerberos nfs rsync submission smtps ipp irc xmpp-client ms-sql-s oracle`) {
		if len(ports.WellKnown().Lookup(name, ports.TCP)) == 0 {
			t.Errorf("built-in table lacks %s", name)
		}
	}
}

// sampleServices is written for this test in the shared format of
// /etc/services and nmap-services.
const sampleServices = `# sample services file for the ports tests

alpha     1000/tcp
alpha     1000/udp    0.500000   # a frequency column, as nmap-services has
beta      2000/tcp    bee b2     # aliases, as /etc/services has
gamma	3000/sctp	0.1
Delta 4000/TCP
echo 7/ddp
   
wide      0/tcp
wide      65535/tcp
`

func TestParseServicesFile(t *testing.T) {
	n, err := ports.ParseServicesFile(strings.NewReader(sampleServices))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		proto   ports.Proto
		want    []uint16
	}{
		{"alpha", ports.TCP, []uint16{1000}},
		{"alpha", ports.UDP, []uint16{1000}},
		{"beta", ports.TCP, []uint16{2000}},
		{"bee", ports.TCP, []uint16{2000}},
		{"b2", ports.TCP, []uint16{2000}},
		{"0.500000", ports.UDP, nil},
		{"beta", ports.UDP, nil},
		{"gamma", ports.TCP, nil},
		{"delta", ports.TCP, []uint16{4000}},
		{"echo", ports.TCP, nil},
		{"wide", ports.TCP, []uint16{0, 65535}},
		{"b*", ports.TCP, []uint16{2000}},
		{"*", ports.TCP, []uint16{0, 1000, 2000, 4000, 65535}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.proto.String(), func(t *testing.T) {
			got := n.Lookup(tt.pattern, tt.proto)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Lookup(%q, %v) = %v, want %v", tt.pattern, tt.proto, got, tt.want)
			}
		})
	}

	l, err := ports.Parse("alpha,ssh,U:alpha", ports.ParseOptions{Names: ports.MultiNames(ports.WellKnown(), n, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if l.String() != "T:22,1000,U:1000" {
		t.Errorf("Parse with MultiNames = %q", l)
	}
}

func TestParseServicesFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{"name only", "ok 1/tcp\nalpha\n", `services line 2: "alpha" has no port/proto`},
		{"no slash", "alpha 1000\n", `services line 1: "1000" is not port/proto`},
		{"port too big", "alpha 70000/tcp\n", `services line 1: "70000" is not a port number 0-65535`},
		{"port not a number", "alpha x/tcp\n", `services line 1: "x" is not a port number 0-65535`},
		{"signed port", "alpha +1/tcp\n", `services line 1: "+1" is not a port number 0-65535`},
		{"empty port", "alpha /tcp\n", `services line 1: "" is not a port number 0-65535`},
		{"line too long", "alpha 1/tcp " + strings.Repeat("x", 70000) + "\n", "read services line 1: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ports.ParseServicesFile(strings.NewReader(tt.input))
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestInstalledServicesFiles reads the services files of this machine, when
// present, the way the probe command will offer to.
func TestInstalledServicesFiles(t *testing.T) {
	tests := []struct {
		path string
		spec string
		want []uint16
	}{
		{"/etc/services", "ssh,domain", []uint16{22, 53}},
		{"/usr/share/nmap/nmap-services", "ssh,ms-wbt-server", []uint16{22, 3389}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, err := os.Open(tt.path)
			if err != nil {
				t.Skip(err)
			}
			defer f.Close()
			n, err := ports.ParseServicesFile(f)
			if err != nil {
				t.Fatal(err)
			}
			l, err := ports.Parse(tt.spec, ports.ParseOptions{Names: n})
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Ports(ports.TCP); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.spec, got, tt.want)
			}
			web, err := ports.Parse("http*", ports.ParseOptions{Names: n})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []uint16{80, 443} {
				if !web.Contains(ports.Port{Proto: ports.TCP, Num: p}) {
					t.Errorf("http* from %s lacks %d: %q", tt.path, p, web)
				}
			}
		})
	}
}
