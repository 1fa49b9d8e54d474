// Command gentop writes the frequency-ordered port tables that package ports
// embeds for --top-ports.
//
// It reads an installed nmap-services file at development time and keeps only
// the facts Picket needs: which port numbers rank highest by open frequency.
// Service names, frequencies and comments are not written, so none of the
// file's text ends up in the repository. Run it through go generate in
// lib/ports, or directly:
//
//	go run ./internal/gentop -services /usr/share/nmap/nmap-services -out .
//
// Ports with equal frequency are ordered by ascending port number, which is
// the order Nmap 7.93 uses when it selects its top ports. By default every
// port the file ranks is kept (a frequency of 0 included, as Nmap counts
// those too), so --top-ports can go as far as Nmap's does.
package main

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gentop:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gentop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	services := fs.String("services", "/usr/share/nmap/nmap-services", "nmap-services file to rank ports from")
	out := fs.String("out", ".", "directory to write top_tcp.txt and top_udp.txt into")
	n := fs.Int("n", 0, "number of ports to keep per protocol (0: every ranked port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*services)
	if err != nil {
		return fmt.Errorf("open services: %w", err)
	}
	defer f.Close()
	ranked, err := rank(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", *services, err)
	}
	for _, proto := range []string{"tcp", "udp"} {
		ports := ranked[proto]
		if len(ports) < *n {
			return fmt.Errorf("%s has only %d %s ports with a frequency, want %d", *services, len(ports), proto, *n)
		}
		if *n > 0 {
			ports = ports[:*n]
		}
		path := filepath.Join(*out, "top_"+proto+".txt")
		if err := os.WriteFile(path, format(ports), 0o644); err != nil {
			return fmt.Errorf("write top ports: %w", err)
		}
	}
	return nil
}

type entry struct {
	port uint16
	freq float64
}

// rank reads nmap-services lines ("name port/proto frequency # comment") and
// returns, per protocol, the port numbers ordered by descending frequency.
// Lines without a frequency (as in /etc/services) are skipped because they
// carry no ranking.
func rank(r io.Reader) (map[string][]uint16, error) {
	byProto := map[string][]entry{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) < 3 {
			continue
		}
		num, proto, ok := strings.Cut(fields[1], "/")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not port/proto", line, fields[1])
		}
		port, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("line %d: port %q: %w", line, num, err)
		}
		freq, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			continue
		}
		byProto[proto] = append(byProto[proto], entry{uint16(port), freq})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(byProto) == 0 {
		return nil, errors.New("no ports with frequencies found")
	}
	out := make(map[string][]uint16, len(byProto))
	for proto, es := range byProto {
		slices.SortFunc(es, func(a, b entry) int {
			if c := cmp.Compare(b.freq, a.freq); c != 0 {
				return c
			}
			return cmp.Compare(a.port, b.port)
		})
		ports := make([]uint16, 0, len(es))
		seen := map[uint16]bool{}
		for _, e := range es {
			if !seen[e.port] {
				seen[e.port] = true
				ports = append(ports, e.port)
			}
		}
		out[proto] = ports
	}
	return out, nil
}

// format writes one port number per line.
func format(ports []uint16) []byte {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(strconv.Itoa(int(p)))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
