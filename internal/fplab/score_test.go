package fplab

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionMatches(t *testing.T) {
	tests := []struct {
		reported, want string
		match, prefix  bool
	}{
		{"9.2p1 Debian 2+deb12u10", "9.2p1", true, false},
		{"5.5.5-10.11.19-MariaDB-0+deb12u1", "10.11.19", true, false},
		{"9.18.49-1~deb12u3-Debian", "9.18.49", true, false},
		{"1.6.7~rc0", "1.6.7", true, false},
		{"2.4.71", "2.4.71", true, false},
		{"1.22.10", "1.22.1", false, false},
		{"11.22.1", "1.22.1", false, false},
		{"1.22.1.5", "1.22.1", false, false},
		{"7.1", "7.1.1", false, true},
		{"3", "3.15.0", false, true},
		{"", "3.15.0", false, false},
		{"4.96", "", false, false},
	}
	for _, tt := range tests {
		if got := VersionMatches(tt.reported, tt.want); got != tt.match {
			t.Errorf("VersionMatches(%q, %q) = %v, want %v", tt.reported, tt.want, got, tt.match)
		}
		if got := VersionPrefix(tt.reported, tt.want); got != tt.prefix {
			t.Errorf("VersionPrefix(%q, %q) = %v, want %v", tt.reported, tt.want, got, tt.prefix)
		}
	}
}

const truthSample = "ip\tport\tproto\tservice\tproduct\tpackage\tdpkg_version\tversion\tname\tshown\n" +
	"127.0.0.1\t22\ttcp\tssh\topenssh\topenssh-server\t1:9.2p1-2+deb12u10\t9.2p1\tsshd\tyes\n" +
	"127.0.0.1\t8443\ttcp\tssl/http|https\tnginx\tnginx\t1.22.1-9\t1.22.1\tnginx-tls\tyes\n" +
	"127.0.0.1\t53\tudp\tdomain\tbind\tbind9\t1:9.18.49-1~deb12u3\t9.18.49\tnamed-udp\tyes\n" +
	"127.0.0.1\t143\ttcp\timap\tdovecot\tdovecot-imapd\t1:2.3.19.1+dfsg1-2.1\t2.3.19.1\tdovecot-imap\tno\n"

func TestTallyFingerprintAndNmap(t *testing.T) {
	truth, err := parseTruth("sample", strings.NewReader(truthSample))
	if err != nil {
		t.Fatal(err)
	}
	if got := PortSpec(truth); got != "T:22,8443,143,U:53" {
		t.Errorf("PortSpec = %q", got)
	}
	var events bytes.Buffer
	if err := WriteEvents(&events, truth); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(events.String(), "\n"); n != 6 {
		t.Errorf("WriteEvents wrote %d lines, want 6", n)
	}
	if !strings.Contains(events.String(), `"port":53,"proto":"udp","state":"open|filtered"`) {
		t.Errorf("UDP port event not open|filtered:\n%s", events.String())
	}

	fp := `{"type":"scan","phase":"start"}
{"type":"port","ip":"127.0.0.1","port":22,"proto":"tcp","state":"open","service":{"name":"ssh","product":"OpenSSH","version":"9.2p1 Debian 2+deb12u10"}}
{"type":"port","ip":"127.0.0.1","port":8443,"proto":"tcp","state":"open","service":{"name":"http","product":"nginx","version":"1.22.1","tunnel":"ssl"}}
{"type":"port","ip":"127.0.0.1","port":53,"proto":"udp","state":"open|filtered","service":{"name":"domain","product":"ISC BIND","version":"9.18.49"}}
{"type":"port","ip":"127.0.0.1","port":143,"proto":"tcp","state":"open","service":{"name":"imap","product":"Dovecot imapd"}}
`
	got, err := ReadFingerprint(strings.NewReader(fp))
	if err != nil {
		t.Fatal(err)
	}
	if sc := Tally(truth, got); sc != (Score{Ports: 4, Names: 4, Products: 4, Versions: 3}) {
		t.Errorf("fingerprint score %+v", sc)
	}

	nmapXML := `<?xml version="1.0"?><nmaprun><host><address addr="127.0.0.1" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u10"/></port>
<port protocol="tcp" portid="8443"><state state="open"/><service name="http" product="nginx" version="1.22.1" tunnel="ssl"/></port>
<port protocol="udp" portid="53"><state state="open"/><service name="domain" product="ISC BIND" version="9.18.4"/></port>
<port protocol="tcp" portid="143"><state state="open"/><service name="imap" product="Dovecot imapd"/></port>
</ports></host></nmaprun>`
	got, err = ReadNmapXML(strings.NewReader(nmapXML))
	if err != nil {
		t.Fatal(err)
	}
	if sc := Tally(truth, got); sc != (Score{Ports: 4, Names: 4, Products: 4, Versions: 2, WrongVersions: 1}) {
		t.Errorf("nmap score %+v", sc)
	}
}

func TestParseTruthErrors(t *testing.T) {
	head := "ip\tport\tproto\tservice\tproduct\tpackage\tdpkg_version\tversion\tname\tshown\n"
	for _, tt := range []struct{ in, want string }{
		{"ip\tport\n", "t:1: header"},
		{head + "127.0.0.1\t99999\ttcp\tssh\to\tp\tv\tv\tn\tyes\n", "t:2: bad port"},
		{head + "127.0.0.1\t22\tsctp\tssh\to\tp\tv\tv\tn\tyes\n", "t:2: bad protocol"},
		{head + "127.0.0.1\t22\ttcp\tssh\t(\tp\tv\tv\tn\tyes\n", "t:2: product pattern"},
		{head + "127.0.0.1\t22\ttcp\n", "t:2: 3 fields"},
	} {
		_, err := parseTruth("t", strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseTruth(%q) = %v, want an error with %q", tt.in, err, tt.want)
		}
	}
	if _, err := parseTruth("t", strings.NewReader(head)); err != nil {
		t.Errorf("empty truth: %v", err)
	}
}
