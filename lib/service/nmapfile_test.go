package service

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
)

// nmapProbes is where Debian's nmap package installs Nmap's probe file.
const nmapProbes = "/usr/share/nmap/nmap-service-probes"

// TestLoadNmapFile loads the real Nmap probe file when it is installed and
// checks that nearly all of its match lines compile, most with Go's
// regexp.
func TestLoadNmapFile(t *testing.T) {
	data, err := os.ReadFile(nmapProbes)
	if err != nil {
		t.Skipf("Nmap's probe file is not installed (apt-get install nmap): %v", err)
	}
	var skipped []*LineError
	set, err := Parse(nmapProbes, data, ParseOptions{Report: func(e *LineError) { skipped = append(skipped, e) }})
	if err != nil {
		t.Fatal(err)
	}
	st := set.Stats
	t.Logf("%s", st)
	for i, e := range skipped {
		if i < 20 {
			t.Logf("skipped %s", e)
		}
	}
	if st.Probes < 100 {
		t.Errorf("%d probes, want more than 100", st.Probes)
	}
	total := st.Matches + st.Skipped
	if st.Skipped*100 > total {
		t.Errorf("%d of %d lines skipped, want under 1%%", st.Skipped, total)
	}
	if st.Backtrack*10 > st.Matches {
		t.Errorf("%d of %d patterns need the backtracking engine, want under 10%%", st.Backtrack, st.Matches)
	}
	// Go patterns compile lazily; every one accepted at load must
	// compile, and most should have a literal prefix to rule answers
	// out cheaply.
	withPrefix := 0
	for _, p := range set.Probes {
		for _, m := range p.Matches {
			rm, ok := m.re.(*re2Matcher)
			if !ok {
				continue
			}
			if _, err := regexp.Compile(rm.src); err != nil {
				t.Errorf("%s: accepted at load but does not compile: %v", m.Source, err)
			}
			if len(rm.prefix) > 0 {
				withPrefix++
			}
		}
	}
	t.Logf("%d of %d Go patterns have a literal prefix", withPrefix, st.RE2)
	null := set.Probes[0]
	if null.Name != "NULL" || len(null.Matches) < 1000 {
		t.Errorf("first probe %s with %d matches, want NULL with thousands", null.Name, len(null.Matches))
	}
}

func loadNmap(b *testing.B) *ProbeSet {
	data, err := os.ReadFile(nmapProbes)
	if err != nil {
		b.Skipf("Nmap's probe file is not installed: %v", err)
	}
	set, err := Parse(nmapProbes, data, ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkParseNmapFile measures loading Nmap's whole probe file.
func BenchmarkParseNmapFile(b *testing.B) {
	data, err := os.ReadFile(nmapProbes)
	if err != nil {
		b.Skipf("Nmap's probe file is not installed: %v", err)
	}
	for b.Loop() {
		if _, err := Parse(nmapProbes, data, ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchNmapNULL matches answers against every line that applies
// to the NULL probe of Nmap's file: one that matches early, and one that
// matches nothing (the worst case: every pattern runs).
func BenchmarkMatchNmapNULL(b *testing.B) {
	set := loadNmap(b)
	m := NewMatcher(set)
	for _, bc := range []struct{ name, answer string }{
		{"openssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"},
		{"nomatch-1KiB", string(make([]byte, 1024))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				m.Match(set.Probes[0], []byte(bc.answer), "", 0)
			}
		})
	}
}

// TestNmapFileIdentifies runs the engine with Nmap's own probe file
// against servers the test starts: an SSH server, a web server and a
// vsftpd banner. It shows that Nmap's directives (fallbacks, ports,
// totalwaitms, templates) work through the engine, not only parse.
func TestNmapFileIdentifies(t *testing.T) {
	labnet.Require(t)
	data, err := os.ReadFile(nmapProbes)
	if err != nil {
		t.Skipf("Nmap's probe file is not installed (apt-get install nmap): %v", err)
	}
	set, err := Parse(nmapProbes, data, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(Config{Probes: set, Timeout: testTimeout, BannerWait: testBannerWait})
	if err != nil {
		t.Fatal(err)
	}
	ssh := serve(t, func(c net.Conn) {
		_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"))
		_, _ = io.Copy(io.Discard, c)
	})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
	}))
	defer web.Close()
	ftp := serve(t, func(c net.Conn) {
		_, _ = c.Write([]byte("220 (vsFTPd 3.0.3)\r\n"))
		_, _ = io.Copy(io.Discard, c)
	})
	tests := []struct {
		port                   uint16
		name, product, version string
	}{
		{ssh, "ssh", "OpenSSH", "9.2p1 Debian 2+deb12u3"},
		{uint16(web.Listener.Addr().(*net.TCPAddr).Port), "http", "nginx", "1.22.1"},
		{ftp, "ftp", "vsftpd", "3.0.3"},
	}
	for _, tt := range tests {
		r := identify(t, e, tt.port)
		if s := r.Service; s.Name != tt.name || s.Product != tt.product || s.Version != tt.version || s.Conf != 10 {
			t.Errorf("port %d: %+v, want %s %s %s", tt.port, s, tt.name, tt.product, tt.version)
		}
	}
}
