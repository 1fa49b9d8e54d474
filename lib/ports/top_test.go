package ports_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/ports"
)

func TestTop(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		protos []ports.Proto
		want   string
	}{
		// The expected sets are what Nmap 7.93 scans for --top-ports.
		{"first tcp", 1, []ports.Proto{ports.TCP}, "T:80"},
		{"default is tcp", 1, nil, "T:80"},
		{"top 10 tcp", 10, []ports.Proto{ports.TCP}, "T:21-23,25,80,110,139,443,445,3389"},
		{"first udp", 1, []ports.Proto{ports.UDP}, "U:631"},
		{"top 10 udp", 10, []ports.Proto{ports.UDP}, "U:53,67,123,135,137-138,161,445,631,1434"},
		{"both", 3, []ports.Proto{ports.TCP, ports.UDP}, "T:23,80,443,U:137,161,631"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ports.Top(tt.n, tt.protos...)
			if err != nil {
				t.Fatal(err)
			}
			if l.String() != tt.want {
				t.Errorf("Top(%d, %v) = %q, want %q", tt.n, tt.protos, l, tt.want)
			}
		})
	}
}

func TestTopFull(t *testing.T) {
	for _, p := range []ports.Proto{ports.TCP, ports.UDP} {
		t.Run(p.String(), func(t *testing.T) {
			l, err := ports.Top(1000, p)
			if err != nil {
				t.Fatal(err)
			}
			got := l.Ports(p)
			if len(got) != 1000 || l.Len() != 1000 {
				t.Fatalf("Top(1000, %v) has %d distinct ports", p, len(got))
			}
			if !slices.IsSorted(got) {
				t.Errorf("Ports(%v) is not sorted", p)
			}
			for _, must := range []uint16{22, 53, 80, 161, 443} {
				if p == ports.TCP && !slices.Contains(got, must) {
					t.Errorf("Top(1000, tcp) lacks %d", must)
				}
			}
			// Each smaller top-N set is contained in the next larger one.
			prev := ports.List{}
			for n := 1; n <= 1000; n += 37 {
				cur, err := ports.Top(n, p)
				if err != nil {
					t.Fatal(err)
				}
				if cur.Len() != n || prev.Without(cur).Len() != 0 {
					t.Fatalf("Top(%d, %v) = %d ports, not a superset of the previous", n, p, cur.Len())
				}
				prev = cur
			}
		})
	}
}

// TestTopWholeTable checks --top-ports beyond 1000, up to 65535: the
// table ranks every port Nmap's does (8366 TCP, 19022 UDP), and, as with
// Nmap, asking for more gives those, not every port.
func TestTopWholeTable(t *testing.T) {
	for _, tt := range []struct {
		p    ports.Proto
		want int
	}{{ports.TCP, 8366}, {ports.UDP, 19022}} {
		if got := ports.TopLen(tt.p); got != tt.want {
			t.Errorf("TopLen(%v) = %d, want %d", tt.p, got, tt.want)
		}
		for _, n := range []int{1001, 5000, tt.want, tt.want + 1, ports.MaxTop} {
			l, err := ports.Top(n, tt.p)
			if err != nil {
				t.Fatalf("Top(%d, %v): %v", n, tt.p, err)
			}
			if want := min(n, tt.want); l.Len() != want {
				t.Errorf("Top(%d, %v) has %d ports, want %d", n, tt.p, l.Len(), want)
			}
		}
	}
	// What Nmap 7.93 scans for --top-ports 65535 starts like this.
	all, err := ports.Top(ports.MaxTop)
	if err != nil {
		t.Fatal(err)
	}
	if s := all.String(); !strings.HasPrefix(s, "T:1-35,37-226,228-231,233-238,242-271,273,276-277,280-284,") {
		t.Errorf("Top(65535) = %.80s...", s)
	}
}

func TestTopErrors(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		proto   ports.Proto
		wantErr string
	}{
		{"zero", 0, ports.TCP, "top ports: 0 is out of range 1-65535"},
		{"negative", -5, ports.UDP, "top ports: -5 is out of range 1-65535"},
		{"too many", 65536, ports.TCP, "top ports: 65536 is out of range 1-65535"},
		{"bad protocol", 10, 9, "top ports: protocol proto(9) is not tcp or udp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ports.Top(tt.n, tt.proto)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Top(%d, %v) error = %v, want %q", tt.n, tt.proto, err, tt.wantErr)
			}
		})
	}
}
