package ports_test

import (
	"errors"
	"testing"

	"github.com/picketscan/picket/lib/ports"
)

func TestParse(t *testing.T) {
	tcp := []ports.Proto{ports.TCP}
	udp := []ports.Proto{ports.UDP}
	both := []ports.Proto{ports.TCP, ports.UDP}
	tests := []struct {
		name     string
		spec     string
		defaults []ports.Proto
		want     string
	}{
		{"single port", "22", nil, "T:22"},
		{"list", "22,80,443", nil, "T:22,80,443"},
		{"unsorted with duplicates", "443,80,22,80", nil, "T:22,80,443"},
		{"range", "1-1024", nil, "T:1-1024"},
		{"open start", "-1024", nil, "T:1-1024"},
		{"open end", "60000-", nil, "T:60000-65535"},
		{"all ports", "-", nil, "T:1-65535"},
		{"highest port", "65535", nil, "T:65535"},
		{"leading zeros", "00080", nil, "T:80"},
		{"explicit zero", "0", nil, "T:0"},
		{"zero open range", "0-", nil, "T:0-65535"},
		{"overlapping and adjacent ranges merge", "0-10,5-20,21,23", nil, "T:0-21,23"},
		{"qualifiers", "T:80,443,U:53,161", nil, "T:80,443,U:53,161"},
		{"udp qualifier first", "U:53,T:22", nil, "T:22,U:53"},
		{"unqualified then qualified", "22,U:53", nil, "T:22,U:53"},
		{"qualifier with range", "U:-", nil, "U:1-65535"},
		{"spaces around items", " 22, 80 ,\t443 ", nil, "T:22,80,443"},
		{"trailing comma as in nmap", "22,", nil, "T:22"},
		{"space after qualifier", "T: 80", nil, "T:80"},
		{"default udp", "53,161", udp, "U:53,161"},
		{"explicit tcp default", "53", tcp, "T:53"},
		{"default both", "53,T:80", both, "T:53,80,U:53"},
		{"service names", "ssh,http", nil, "T:22,80"},
		{"service names for udp", "U:domain,snmp", nil, "U:53,161"},
		{"service name case-insensitive", "SSH", nil, "T:22"},
		{"service name with several ports", "http-alt", nil, "T:591,8008,8080"},
		{"star wildcard", "http*", nil, "T:80,443,591,8008,8080,8443"},
		{"question wildcard", "pop3?", nil, "T:995"},
		{"wildcard under udp qualifier", "T:22,U:snmp*", nil, "T:22,U:161-162"},
		{"name only for one of the protocols", "exec", both, "T:512"},
		{"names mixed with ports", "ssh,1000-1002,U:ntp", nil, "T:22,1000-1002,U:123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ports.Parse(tt.spec, ports.ParseOptions{Default: tt.defaults})
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			if got := l.String(); got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		wantErr string
	}{
		{"empty", "", `bad port spec "": empty`},
		{"blank", "  ", `bad port spec "  ": empty`},
		{"bad range end", "22,80-x", `bad port spec "22,80-x": "80-x" is not a port or range`},
		{"bad range start", "x1-80", `bad port spec "x1-80": no tcp service matches "x1-80"`},
		{"two dashes", "1-2-3", `bad port spec "1-2-3": "1-2-3" is not a port or range`},
		{"double dash", "--", `bad port spec "--": "--" is not a port or range`},
		{"out of range", "65536", `bad port spec "65536": port 65536 is out of range 0-65535`},
		{"huge number", "99999999999999999999", `bad port spec "99999999999999999999": port 99999999999999999999 is out of range 0-65535`},
		{"out of range end", "1-70000", `bad port spec "1-70000": "1-70000": port 70000 is out of range 0-65535`},
		{"out of range open start", "-65536", `bad port spec "-65536": "-65536": port 65536 is out of range 0-65535`},
		{"reversed range", "100-1", `bad port spec "100-1": "100-1" is a reversed range`},
		{"open start to zero", "-0", `bad port spec "-0": "-0" is a reversed range`},
		{"qualifier alone", "T:", `bad port spec "T:": "T:" is followed by no ports`},
		{"qualifier then comma", "T:,80", `bad port spec "T:,80": "T:" is followed by no ports`},
		{"qualifier then qualifier", "T:U:53", `bad port spec "T:U:53": "T:" is followed by no ports`},
		{"trailing qualifier", "22,U:", `bad port spec "22,U:": "U:" is followed by no ports`},
		{"unknown name", "nosuch", `bad port spec "nosuch": no tcp service matches "nosuch"`},
		{"unknown wildcard", "zz*", `bad port spec "zz*": no tcp service matches "zz*"`},
		{"name not under udp", "U:exec", `bad port spec "U:exec": no udp service matches "exec"`},
		{"bad qualifier", "X:1", `bad port spec "X:1": "X:1" has unknown protocol qualifier "X:", want T: or U:`},
		{"lower-case qualifier", "t:80", `bad port spec "t:80": "t:80" has unknown protocol qualifier "t:", want T: or U:`},
		{"sctp", "S:1", `bad port spec "S:1": "S:1": SCTP (S:) is not supported`},
		{"ip protocols", "P:6", `bad port spec "P:6": "P:6": IP protocols (P:) are not supported`},
		{"double comma", "22,,80", `bad port spec "22,,80": stray comma: item 2 is empty`},
		{"leading comma", ",22", `bad port spec ",22": stray comma: item 1 is empty`},
		{"two trailing commas", "22,,", `bad port spec "22,,": stray comma: item 2 is empty`},
		{"comma alone", ",", `bad port spec ",": stray comma: item 1 is empty`},
		{"plus sign", "+80", `bad port spec "+80": "+80" is not a port, range or service name`},
		{"nmap brackets", "[1-1024]", `bad port spec "[1-1024]": "[1-1024]" is not a port, range or service name`},
		{"space inside range", "1 - 5", `bad port spec "1 - 5": "1 - 5" is not a port or range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ports.Parse(tt.spec, ports.ParseOptions{})
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tt.spec, l)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.spec, err, tt.wantErr)
			}
			if !errors.Is(err, ports.ErrBadSpec) {
				t.Errorf("Parse(%q) error does not wrap ErrBadSpec", tt.spec)
			}
		})
	}
}

func TestParseInvalidDefault(t *testing.T) {
	_, err := ports.Parse("22", ports.ParseOptions{Default: []ports.Proto{0}})
	const want = "parse ports: default protocol proto(0) is not tcp or udp"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse with invalid default: %v, want %q", err, want)
	}
}

func TestParseCustomNames(t *testing.T) {
	custom := fakeNames{"web": {ports.TCP: {8000, 8001}}}
	tests := []struct {
		name  string
		names ports.Names
		spec  string
		want  string
	}{
		{"custom only", custom, "web", "T:8000-8001"},
		{"custom hides built-in", custom, "web,8080", "T:8000-8001,8080"},
		{"combined with built-in", ports.MultiNames(ports.WellKnown(), custom), "ssh,web", "T:22,8000-8001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ports.Parse(tt.spec, ports.ParseOptions{Names: tt.names})
			if err != nil {
				t.Fatal(err)
			}
			if l.String() != tt.want {
				t.Errorf("got %q, want %q", l, tt.want)
			}
		})
	}
	if _, err := ports.Parse("ssh", ports.ParseOptions{Names: custom}); err == nil {
		t.Error("custom Names should replace the built-in table, but ssh resolved")
	}
}

// fakeNames resolves exact names only.
type fakeNames map[string]map[ports.Proto][]uint16

func (f fakeNames) Lookup(pattern string, p ports.Proto) []uint16 { return f[pattern][p] }

func TestStringRoundTrip(t *testing.T) {
	specs := []string{
		"22", "-", "0-", "0,65535", "T:1-1024,8080,U:53", "U:1-5,7,9-11", "http*,U:snmp*",
		"1,3,5,7-9,T:100-200,U:100-200,300",
	}
	for _, spec := range specs {
		t.Run(spec, func(t *testing.T) {
			l, err := ports.Parse(spec, ports.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, def := range [][]ports.Proto{nil, {ports.UDP}, {ports.TCP, ports.UDP}} {
				again, err := ports.Parse(l.String(), ports.ParseOptions{Default: def})
				if err != nil {
					t.Fatalf("re-parse %q: %v", l, err)
				}
				if !again.Equal(l) || again.String() != l.String() {
					t.Errorf("re-parse %q with default %v = %q", l, def, again)
				}
			}
		})
	}
}
