// Package fplab drives the lab of real daemons in testdata/lab/services.sh
// for fingerprint's end-to-end test and benchmark: it brings the lab up and
// down, reads the truth the lab wrote, turns it into port events, reads
// what fingerprint and Nmap said about the same ports, and scores both
// against the truth.
package fplab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Service is one line of the lab's truth file: a daemon the lab started
// and what a correct fingerprint of its port says.
type Service struct {
	Name    string // the lab's name for the daemon, such as "nginx-tls"
	IP      string
	Port    int
	Proto   string   // "tcp" or "udp"
	Names   []string // acceptable service names, such as ["http-proxy", "http"]
	Product *regexp.Regexp
	Package string // the Debian package the daemon came from
	Dpkg    string // the package's full version
	Version string // the daemon's own version: Dpkg without epoch, revision or repack suffix
	// Shown is whether the daemon, as the lab configures it, tells an
	// anonymous client its version.
	Shown bool
}

// Key names the port of a service: "127.0.0.1 8443/tcp".
func (s Service) Key() string { return Key(s.IP, s.Port, s.Proto) }

// Key names a port the way Service.Key does.
func Key(ip string, port int, proto string) string {
	return fmt.Sprintf("%s %d/%s", ip, port, strings.ToLower(proto))
}

var truthHeader = []string{"ip", "port", "proto", "service", "product", "package", "dpkg_version", "version", "name", "shown"}

// ReadTruth reads a truth file written by services.sh up.
func ReadTruth(path string) ([]Service, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read truth: %w", err)
	}
	defer f.Close()
	return parseTruth(path, f)
}

func parseTruth(name string, r io.Reader) ([]Service, error) {
	var out []Service
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Split(sc.Text(), "\t")
		if n == 1 {
			if strings.Join(f, "\t") != strings.Join(truthHeader, "\t") {
				return nil, fmt.Errorf("%s:1: header %q, want %q", name, sc.Text(), strings.Join(truthHeader, "\t"))
			}
			continue
		}
		if len(f) != len(truthHeader) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", name, n, len(f), len(truthHeader))
		}
		port, err := strconv.Atoi(f[1])
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("%s:%d: bad port %q", name, n, f[1])
		}
		if f[2] != "tcp" && f[2] != "udp" {
			return nil, fmt.Errorf("%s:%d: bad protocol %q", name, n, f[2])
		}
		product, err := regexp.Compile("(?i)" + f[4])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: product pattern: %w", name, n, err)
		}
		out = append(out, Service{
			IP: f[0], Port: port, Proto: f[2], Names: strings.Split(f[3], "|"), Product: product,
			Package: f[5], Dpkg: f[6], Version: f[7], Name: f[8], Shown: f[9] == "yes",
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// PortSpec returns the lab's ports in Nmap's syntax, "T:22,80,U:53".
func PortSpec(services []Service) string {
	var tcp, udp []string
	for _, s := range services {
		if s.Proto == "udp" {
			udp = append(udp, strconv.Itoa(s.Port))
		} else {
			tcp = append(tcp, strconv.Itoa(s.Port))
		}
	}
	var parts []string
	if len(tcp) > 0 {
		parts = append(parts, "T:"+strings.Join(tcp, ","))
	}
	if len(udp) > 0 {
		parts = append(parts, "U:"+strings.Join(udp, ","))
	}
	return strings.Join(parts, ",")
}

// WriteEvents writes a scan start, one port event per service (open for
// TCP, open|filtered for UDP, as probe reports them) and a scan end.
func WriteEvents(w io.Writer, services []Service) error {
	const scanID = "01M8FPLAB0000000000000000"
	const when = "2026-11-27T00:00:00.000000000Z"
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `{"type":"scan","time":%q,"scan_id":%q,"phase":"start"}`+"\n", when, scanID)
	for _, s := range services {
		state, reason := "open", "syn-ack"
		if s.Proto == "udp" {
			state, reason = "open|filtered", "no-response"
		}
		fmt.Fprintf(bw, `{"type":"port","time":%q,"scan_id":%q,"ip":%q,"port":%d,"proto":%q,"state":%q,"reason":%q}`+"\n",
			when, scanID, s.IP, s.Port, s.Proto, state, reason)
	}
	fmt.Fprintf(bw, `{"type":"scan","time":%q,"scan_id":%q,"phase":"end","complete":true}`+"\n", when, scanID)
	return bw.Flush()
}
