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

// Top returns the n most frequently open ports of each of protos (TCP when
// none is given), as Nmap's --top-ports selects them. It fails if n is below
// 1 or above the size of the embedded table for a protocol (1000).
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
		if n < 1 || n > len(table) {
			return List{}, fmt.Errorf("top ports: %d is out of range 1-%d for %v", n, len(table), p)
		}
		for _, port := range table[:n] {
			spans[p-1] = append(spans[p-1], span{port, port})
		}
	}
	return newList(spans), nil
}
