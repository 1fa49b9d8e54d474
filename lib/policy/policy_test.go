package policy

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/event"
)

func TestAllowed(t *testing.T) {
	f, err := os.Open("testdata/policy.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := Parse(f, "policy.txt")
	if err != nil {
		t.Fatal(err)
	}
	ssh := &event.Service{Name: "ssh", Product: "OpenSSH"}
	dropbear := &event.Service{Name: "ssh", Product: "Dropbear sshd"}
	web := &event.Service{Name: "https"}
	for _, c := range []struct {
		ip, name, proto string
		port            uint16
		svc             *event.Service
		ok              bool
		rule            string
	}{
		{"10.0.0.9", "", "tcp", 22, ssh, true, "policy.txt:2"},
		{"10.0.0.9", "", "tcp", 22, nil, true, "policy.txt:2"}, // service unknown: not held to it
		{"10.0.0.9", "", "tcp", 22, dropbear, false, "policy.txt:2: expects product openssh"},
		{"10.0.2.9", "", "tcp", 22, ssh, false, ""},
		{"10.0.1.6", "", "tcp", 443, web, true, "policy.txt:3"},
		{"10.0.1.6", "", "tcp", 443, ssh, false, "policy.txt:3: expects service http*"},
		{"10.0.1.7", "", "tcp", 443, web, false, ""},
		{"192.0.2.1", "WWW.Example.com", "tcp", 443, web, true, "policy.txt:4"},
		{"192.0.2.1", "example.com", "tcp", 443, web, false, ""},
		{"192.0.2.1", "", "udp", 53, nil, true, "policy.txt:5"},
		{"192.0.2.1", "", "udp", 54, nil, false, ""},
	} {
		ok, rule := p.Allowed(netip.MustParseAddr(c.ip), c.name, c.proto, c.port, c.svc)
		if ok != c.ok || rule != c.rule {
			t.Errorf("%s %s %d/%s: %v %q, want %v %q", c.ip, c.name, c.port, c.proto, ok, rule, c.ok, c.rule)
		}
	}
	if p.Severity[event.KindPolicyViolation] != "warning" || p.Severity[event.KindPortOpened] != "info" {
		t.Errorf("severity: %v", p.Severity)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"deny * 22", "p:1: unknown directive \"deny\""},
		{"\nallow 10.0.0.0/33 22", "p:2: bad host"},
		{"allow * 22-x", "p:1: bad ports"},
		{"allow *", "p:1: want \"allow"},
		{"allow * 22 version=1", "unknown expectation"},
		{"allow * 22 service=[", "bad pattern"},
		{"severity port-opened loud", "not info, warning or critical"},
		{"severity port-gone info", "unknown kind"},
		{"allow " + strings.Repeat("a", 70000) + " 22", "p: line 1"},
	} {
		_, err := Parse(strings.NewReader(c.text), "p")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want %q", c.text, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/policy.txt")
	f.Add(b)
	f.Add([]byte("allow 10.0-3.1.1-254,host?.lan -,U:1-9 service=* product=x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		p.Allowed(netip.MustParseAddr("10.0.0.1"), "host1.lan", "tcp", 22, &event.Service{Name: "ssh"})
	})
}
