package ports

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// The top-ports tables hold port numbers only, most frequently open first,
// one per line. internal/gentop derives them from a developer's installed
// nmap-services; no other part of that file is kept.
var (
	//go:embed top_tcp.txt
	topTCPText string
	//go:embed top_udp.txt
	topUDPText string
)

// topTables parses the embedded tables once, on first use.
var topTables = sync.OnceValues(func() ([numProtos][]uint16, error) {
	var t [numProtos][]uint16
	var err error
	if t[TCP-1], err = parseTop(topTCPText); err != nil {
		return t, fmt.Errorf("top_tcp.txt: %w", err)
	}
	if t[UDP-1], err = parseTop(topUDPText); err != nil {
		return t, fmt.Errorf("top_udp.txt: %w", err)
	}
	return t, nil
})

func parseTop(text string) ([]uint16, error) {
	fields := strings.Fields(text)
	out := make([]uint16, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out[i] = uint16(n)
	}
	return out, nil
}

// MaxTop is the largest n Top accepts, as for Nmap's --top-ports.
const MaxTop = 65535

// TopLen returns how many ports of protocol p the embedded table ranks
// (8366 TCP and 19022 UDP ports from Nmap 7.93's nmap-services), or 0 for
// an invalid protocol.
func TopLen(p Proto) int {
	tables, err := topTables()
	if err != nil || !p.valid() {
		return 0
	}
	return len(tables[p-1])
}

// Top returns the n most frequently open ports of each of protos (TCP when
// none is given), as Nmap's --top-ports selects them. n may be 1 to MaxTop;
// like Nmap, a number above the ports the table ranks for a protocol (see
// TopLen) gives all of them, not every port.
func Top(n int, protos ...Proto) (List, error) {
	if len(protos) == 0 {
		protos = []Proto{TCP}
	}
	tables, err := topTables()
	if err != nil {
		return List{}, fmt.Errorf("top ports: %w", err)
	}
	var spans [numProtos][]span
	for _, p := range protos {
		if !p.valid() {
			return List{}, fmt.Errorf("top ports: protocol %v is not tcp or udp", p)
		}
		table := tables[p-1]
		if n < 1 || n > MaxTop {
			return List{}, fmt.Errorf("top ports: %d is out of range 1-%d", n, MaxTop)
		}
		for _, port := range table[:min(n, len(table))] {
			spans[p-1] = append(spans[p-1], span{port, port})
		}
	}
	return newList(spans), nil
}
