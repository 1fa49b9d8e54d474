package nmapxml

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/state"
)

func readFile(t testing.TB, name string) (*state.Scan, Info) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := state.NewBuilder()
	info, err := ReadScan(f, name, b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Scan()
	if err != nil {
		t.Fatal(err)
	}
	return s, info
}

func TestReadScan(t *testing.T) {
	s, info := readFile(t, "cert.xml")
	if !info.Complete || info.Truncated || s.ScanID != "nmap-1795000000" || s.Start != "2026-11-18T11:06:40.000000000Z" {
		t.Errorf("info %+v, scan %s at %s", info, s.ScanID, s.Start)
	}
	if !s.Complete() {
		t.Error("a finished run read as incomplete")
	}
	h := s.Hosts[netip.MustParseAddr("192.0.2.7")]
	if h == nil || h.State != "up" || h.Hostname != "www.example.com" || len(h.Ports) != 2 {
		t.Fatalf("host: %+v", h)
	}
	ssh := h.Port("tcp", 22)
	if ssh.State != "open" || ssh.Reason != "syn-ack" || ssh.Service.Product != "OpenSSH" || ssh.Service.Version != "9.2p1" ||
		!slices.Equal(ssh.Service.CPE, []string{"cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:linux:linux_kernel"}) || ssh.Service.Conf != 10 {
		t.Errorf("22/tcp: %+v %+v", ssh, ssh.Service)
	}
	tls := h.Port("tcp", 443).TLS
	if tls == nil || tls.SubjectCN != "www.example.com" || tls.Issuer != "Example CA" || tls.NotAfter != "2026-12-01T00:00:00" || tls.SHA256 != "abcdef" {
		t.Errorf("443/tcp tls: %+v", tls)
	}
	if d := s.Hosts[netip.MustParseAddr("192.0.2.8")]; d == nil || d.State != "down" {
		t.Errorf("down host: %+v", d)
	}
	// Scope from args: the /28 and the name, without 192.0.2.9; ports 22 and 443.
	for _, c := range []struct {
		ip   string
		name string
		want bool
	}{
		{"192.0.2.3", "", true}, {"192.0.2.9", "", false}, {"192.0.2.20", "", false}, {"198.51.100.1", "www.example.com", true},
	} {
		if got := len(s.Checked(netip.MustParseAddr(c.ip), c.name)) > 0; got != c.want {
			t.Errorf("covers %s: %v, want %v", c.ip, got, c.want)
		}
	}
	parts := s.Checked(netip.MustParseAddr("192.0.2.7"), "")
	if !state.PortChecked(parts, "tcp", 443) || state.PortChecked(parts, "tcp", 80) {
		t.Error("port scope is not scaninfo's 22,443")
	}
}

func TestReadTruncated(t *testing.T) {
	s, info := readFile(t, "truncated.xml")
	if !info.Truncated || s.Complete() {
		t.Errorf("truncated document read as whole: %+v", info)
	}
	if s.Hosts[netip.MustParseAddr("192.0.2.7")] == nil {
		t.Error("the host read before the cut was lost")
	}
	if h := s.Hosts[netip.MustParseAddr("192.0.2.10")]; h != nil {
		t.Errorf("a host cut in the middle was kept: %+v", h)
	}
}

func TestReadErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"", "no nmaprun"},
		{"<html><body>hi</body></html>", "no nmaprun"},
		{"<nmaprun><host><address addr=\"300.1.1.1\" addrtype=\"ipv4\"/></host></nmaprun>", "x.xml:1: bad address"},
		{"<nmaprun><host><ports><port protocol=\"tcp\" portid=\"70000\"/></ports></host></nmaprun>", "bad portid"},
		{"<nmaprun>\n<host></nmaprun>", "x.xml:2: unexpected </nmaprun>"},
		{"<nmaprun></nmaprun><nmaprun></nmaprun>", "a second root element"},
		{"<nmaprun><nmaprun></nmaprun></nmaprun>", "second nmaprun"},
		{"<nmaprun a=b></nmaprun>", "not quoted"},
		{"<nmaprun a=\"&bogus;\"></nmaprun>", "unknown entity"},
	} {
		_, err := ReadScan(strings.NewReader(c.doc), "x.xml", state.NewBuilder())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestArgsTargets(t *testing.T) {
	for _, c := range []struct {
		args   string
		tg, ex []string
		ok     bool
	}{
		{"nmap -sT -p 22,80 -oX a.xml 10.0.0.0/24", []string{"10.0.0.0/24"}, nil, true},
		{"nmap -p- --exclude 10.0.0.5,10.0.0.6 10.0.0.1-20 example.com", []string{"10.0.0.1-20", "example.com"}, []string{"10.0.0.5", "10.0.0.6"}, true},
		{"nmap --top-ports=100 -T4 192.0.2.1", []string{"192.0.2.1"}, nil, true},
		{"nmap -iL hosts.txt", nil, nil, false},
		{"nmap -p 22", nil, nil, false},
		{"nmap 10.0.0.300", nil, nil, false},
	} {
		tg, ex, ok := ArgsTargets(c.args)
		if ok != c.ok || !slices.Equal(tg, c.tg) || !slices.Equal(ex, c.ex) {
			t.Errorf("%q: %q %q %v", c.args, tg, ex, ok)
		}
	}
}

func TestLooks(t *testing.T) {
	if !Looks([]byte("\xef\xbb\xbf  <?xml")) || Looks([]byte(`{"type":"scan"}`)) || Looks(nil) {
		t.Error("Looks")
	}
}

func FuzzReadScan(f *testing.F) {
	for _, n := range []string{"cert.xml", "truncated.xml", "moved-a.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		b := state.NewBuilder()
		if _, err := ReadScan(bytes.NewReader(doc), "fuzz", b); err != nil {
			return
		}
		s, err := b.Scan()
		if err != nil {
			return
		}
		for _, h := range s.Hosts {
			for i := 1; i < len(h.Ports); i++ {
				if state.ComparePorts(&h.Ports[i-1], &h.Ports[i]) >= 0 {
					t.Fatalf("ports not sorted and unique: %+v", h.Ports)
				}
			}
		}
	})
}
