package ports_test

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/ports"
)

func mustParse(t testing.TB, spec string) ports.List {
	t.Helper()
	l, err := ports.Parse(spec, ports.ParseOptions{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return l
}

func TestProto(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ports.Proto
		str  string
	}{
		{"tcp", "tcp", ports.TCP, "tcp"},
		{"udp upper-case", "UDP", ports.UDP, "udp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ports.ParseProto(tt.in)
			if err != nil || p != tt.want || p.String() != tt.str {
				t.Errorf("ParseProto(%q) = %v, %v; want %v", tt.in, p, err, tt.want)
			}
		})
	}
	if _, err := ports.ParseProto("sctp"); err == nil || err.Error() != `unknown protocol "sctp": want tcp or udp` {
		t.Errorf("ParseProto(sctp) error = %v", err)
	}
	if got := ports.Proto(0).String(); got != "proto(0)" {
		t.Errorf("Proto(0).String() = %q", got)
	}
	if got := (ports.Port{Proto: ports.UDP, Num: 53}).String(); got != "53/udp" {
		t.Errorf("Port.String() = %q", got)
	}
}

func TestLenAt(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"single", "22", []string{"22/tcp"}},
		{"ranges and protocols", "T:0-2,100,U:7-8", []string{"0/tcp", "1/tcp", "2/tcp", "100/tcp", "7/udp", "8/udp"}},
		{"udp only", "U:65534-", []string{"65534/udp", "65535/udp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, tt.spec)
			if l.Len() != len(tt.want) {
				t.Fatalf("Len() = %d, want %d", l.Len(), len(tt.want))
			}
			for i, w := range tt.want {
				if got := l.At(i).String(); got != w {
					t.Errorf("At(%d) = %s, want %s", i, got, w)
				}
			}
		})
	}
}

func TestAllPorts(t *testing.T) {
	l := mustParse(t, "T:-,U:0-")
	if l.Len() != 65535+65536 {
		t.Fatalf("Len() = %d", l.Len())
	}
	checks := map[int]ports.Port{
		0:             {Proto: ports.TCP, Num: 1},
		65534:         {Proto: ports.TCP, Num: 65535},
		65535:         {Proto: ports.UDP, Num: 0},
		65535 + 65535: {Proto: ports.UDP, Num: 65535},
	}
	for i, want := range checks {
		if got := l.At(i); got != want {
			t.Errorf("At(%d) = %v, want %v", i, got, want)
		}
	}
}

// TestAtMatchesPorts checks At against the expanded Ports slices on random
// lists with many ranges.
func TestAtMatchesPorts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		l := mustParse(t, randomSpec(rng))
		var want []ports.Port
		for _, p := range []ports.Proto{ports.TCP, ports.UDP} {
			for _, n := range l.Ports(p) {
				want = append(want, ports.Port{Proto: p, Num: n})
			}
		}
		if l.Len() != len(want) {
			t.Fatalf("round %d %q: Len() = %d, Ports has %d", round, l, l.Len(), len(want))
		}
		for i, w := range want {
			if got := l.At(i); got != w {
				t.Fatalf("round %d %q: At(%d) = %v, want %v", round, l, i, got, w)
			}
			if !l.Contains(w) {
				t.Fatalf("round %d %q: Contains(%v) = false", round, l, w)
			}
		}
	}
}

func TestAtOutOfRangePanics(t *testing.T) {
	l := mustParse(t, "22,80")
	for _, i := range []int{-1, 2, 100} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "out of range") {
					t.Errorf("At(%d) recovered %v, want an out of range panic", i, r)
				}
			}()
			l.At(i)
		})
	}
}

func TestContains(t *testing.T) {
	l := mustParse(t, "T:22,100-200,U:53")
	tests := []struct {
		port ports.Port
		want bool
	}{
		{ports.Port{Proto: ports.TCP, Num: 22}, true},
		{ports.Port{Proto: ports.TCP, Num: 100}, true},
		{ports.Port{Proto: ports.TCP, Num: 200}, true},
		{ports.Port{Proto: ports.TCP, Num: 201}, false},
		{ports.Port{Proto: ports.TCP, Num: 53}, false},
		{ports.Port{Proto: ports.UDP, Num: 53}, true},
		{ports.Port{Proto: ports.UDP, Num: 22}, false},
		{ports.Port{Proto: 0, Num: 22}, false},
	}
	for _, tt := range tests {
		t.Run(tt.port.String(), func(t *testing.T) {
			if got := l.Contains(tt.port); got != tt.want {
				t.Errorf("Contains(%v) = %v", tt.port, got)
			}
		})
	}
}

func TestPorts(t *testing.T) {
	l := mustParse(t, "T:22,80-82,U:53")
	if got := l.Ports(ports.TCP); !slices.Equal(got, []uint16{22, 80, 81, 82}) {
		t.Errorf("Ports(TCP) = %v", got)
	}
	if got := l.Ports(ports.UDP); !slices.Equal(got, []uint16{53}) {
		t.Errorf("Ports(UDP) = %v", got)
	}
	if got := l.Ports(0); got != nil {
		t.Errorf("Ports(0) = %v", got)
	}
}

func TestZeroList(t *testing.T) {
	var l ports.List
	if l.Len() != 0 || l.String() != "" || len(l.Ports(ports.TCP)) != 0 {
		t.Errorf("zero List = %q, Len %d", l, l.Len())
	}
	if !l.Equal(mustParse(t, "22").Without(mustParse(t, "22"))) {
		t.Error("empty lists differ")
	}
}

func TestWithout(t *testing.T) {
	tests := []struct {
		name, spec, exclude, want string
	}{
		{"nothing excluded", "1-100", "U:1-100", "T:1-100"},
		{"hole in the middle", "T:1-100,U:53", "T:50-60,U:1-1000", "T:1-49,61-100"},
		{"edges", "1-100", "1,100", "T:2-99"},
		{"everything", "T:1-10,U:5", "T:-,U:-", ""},
		{"one exclusion spans several ranges", "1-5,10-15,20-25,30", "3-22", "T:1-2,23-25,30"},
		{"several exclusions in one range", "1-100", "10,20-30,99-200", "T:1-9,11-19,31-98"},
		{"exclusion around single ports", "5,7,9", "6-8", "T:5,9"},
		{"port zero", "0-", "1-", "T:0"},
		{"service names", "http,https,8080", "80,443", "T:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.spec).Without(mustParse(t, tt.exclude))
			if got.String() != tt.want {
				t.Errorf("%q without %q = %q, want %q", tt.spec, tt.exclude, got, tt.want)
			}
		})
	}
}

// TestWithoutMatchesSetDifference compares Without with a plain set
// difference on random lists.
func TestWithoutMatchesSetDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		a, b := mustParse(t, randomSpec(rng)), mustParse(t, randomSpec(rng))
		got := a.Without(b)
		var want []ports.Port
		for i := range a.Len() {
			if p := a.At(i); !b.Contains(p) {
				want = append(want, p)
			}
		}
		if got.Len() != len(want) {
			t.Fatalf("round %d: %q without %q has %d ports, want %d", round, a, b, got.Len(), len(want))
		}
		for i, w := range want {
			if got.At(i) != w {
				t.Fatalf("round %d: %q without %q: At(%d) = %v, want %v", round, a, b, i, got.At(i), w)
			}
		}
	}
}

// randomSpec returns a spec of random ports and ranges under 2000, mixing
// both protocols, so lists have many adjacent and overlapping ranges.
func randomSpec(rng *rand.Rand) string {
	var items []string
	for range 1 + rng.IntN(30) {
		switch rng.IntN(6) {
		case 0:
			items = append(items, "T:"+strconv.Itoa(rng.IntN(2000)))
		case 1:
			items = append(items, "U:"+strconv.Itoa(rng.IntN(2000)))
		case 2, 3:
			items = append(items, strconv.Itoa(rng.IntN(2000)))
		default:
			lo := rng.IntN(2000)
			items = append(items, strconv.Itoa(lo)+"-"+strconv.Itoa(lo+rng.IntN(50)))
		}
	}
	return strings.Join(items, ",")
}
