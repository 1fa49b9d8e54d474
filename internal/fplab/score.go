package fplab

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Observed is what a tool said about one port.
type Observed struct {
	Name    string // service name, with "ssl/" in front when tunnelled in TLS
	Product string
	Version string
}

// ReadFingerprint reads fingerprint's output and returns the service of
// each port event, by Key.
func ReadFingerprint(r io.Reader) (map[string]Observed, error) {
	out := map[string]Observed{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		var ev struct {
			Type    string `json:"type"`
			IP      string `json:"ip"`
			Port    int    `json:"port"`
			Proto   string `json:"proto"`
			Service *struct {
				Name    string `json:"name"`
				Product string `json:"product"`
				Version string `json:"version"`
				Tunnel  string `json:"tunnel"`
			} `json:"service"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("fingerprint output line %d: %w", n, err)
		}
		if ev.Type != "port" || ev.Service == nil {
			continue
		}
		out[Key(ev.IP, ev.Port, ev.Proto)] = Observed{
			Name: tunnelled(ev.Service.Tunnel, ev.Service.Name), Product: ev.Service.Product, Version: ev.Service.Version,
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("fingerprint output: %w", err)
	}
	return out, nil
}

// ReadNmapXML reads Nmap's -oX output and returns the service of each
// port, by Key.
func ReadNmapXML(r io.Reader) (map[string]Observed, error) {
	var run struct {
		Hosts []struct {
			Addresses []struct {
				Addr string `xml:"addr,attr"`
				Type string `xml:"addrtype,attr"`
			} `xml:"address"`
			Ports []struct {
				Proto   string `xml:"protocol,attr"`
				Port    int    `xml:"portid,attr"`
				Service struct {
					Name    string `xml:"name,attr"`
					Product string `xml:"product,attr"`
					Version string `xml:"version,attr"`
					Tunnel  string `xml:"tunnel,attr"`
				} `xml:"service"`
			} `xml:"ports>port"`
		} `xml:"host"`
	}
	if err := xml.NewDecoder(r).Decode(&run); err != nil {
		return nil, fmt.Errorf("nmap XML: %w", err)
	}
	out := map[string]Observed{}
	for _, h := range run.Hosts {
		ip := ""
		for _, a := range h.Addresses {
			if a.Type == "ipv4" || a.Type == "ipv6" {
				ip = a.Addr
			}
		}
		for _, p := range h.Ports {
			out[Key(ip, p.Port, p.Proto)] = Observed{
				Name: tunnelled(p.Service.Tunnel, p.Service.Name), Product: p.Service.Product, Version: p.Service.Version,
			}
		}
	}
	return out, nil
}

func tunnelled(tunnel, name string) string {
	if tunnel != "" && name != "" && !strings.HasPrefix(name, tunnel+"/") {
		return tunnel + "/" + name
	}
	return name
}

// Verdict is how one observation compares with the truth.
type Verdict struct {
	Name, Product, Version bool
	// VersionWrong is set when a version was given that disagrees with
	// the installed one (neither it nor a shorter form of it).
	VersionWrong bool
}

// Judge compares what a tool observed on a service's port with the truth.
// The name must be one of the accepted names; the product must match the
// truth's pattern; the version must contain the daemon's own version as a
// whole token ("9.2p1 Debian 2+deb12u10" and "5.5.5-10.11.19-MariaDB"
// both count for 9.2p1 and 10.11.19).
func Judge(s Service, o Observed) Verdict {
	v := Verdict{
		Name:    slices.Contains(s.Names, o.Name),
		Product: o.Product != "" && s.Product.MatchString(o.Product),
		Version: VersionMatches(o.Version, s.Version),
	}
	v.VersionWrong = o.Version != "" && !v.Version && !VersionPrefix(o.Version, s.Version)
	return v
}

// VersionMatches reports whether reported contains want as a token: not
// preceded or followed by a letter, digit or dot-digit.
func VersionMatches(reported, want string) bool {
	if want == "" || reported == "" {
		return false
	}
	re := regexp.MustCompile(`(^|[^\w.])` + regexp.QuoteMeta(want) + `($|[^\w.]|\.($|\D))`)
	return re.MatchString(reported)
}

// VersionPrefix reports whether reported is a shorter form of want, cut at
// a dot: "7.1" of "7.1.1", "3" of "3.15.0".
func VersionPrefix(reported, want string) bool {
	return reported != "" && strings.HasPrefix(want, reported+".")
}

// Score counts correct names, products and versions.
type Score struct {
	Ports, Names, Products, Versions, WrongVersions int
}

// Tally scores a tool's observations against the truth.
func Tally(truth []Service, got map[string]Observed) Score {
	sc := Score{Ports: len(truth)}
	for _, s := range truth {
		v := Judge(s, got[s.Key()])
		if v.Name {
			sc.Names++
		}
		if v.Product {
			sc.Products++
		}
		if v.Version {
			sc.Versions++
		}
		if v.VersionWrong {
			sc.WrongVersions++
		}
	}
	return sc
}
