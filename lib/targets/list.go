package targets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Source is one target or exclusion specification together with where it
// came from, so that an error can point at it.
type Source struct {
	// Text is the specification, e.g. "10.0.0.0/24".
	Text string
	// Where names its origin: "argument 2", "hosts.txt:14", "--exclude 1".
	Where string
}

// Args wraps command-line texts as Sources. The i-th text (from 0) is
// said to come from where followed by i+1, e.g. Args(texts, "argument")
// gives "argument 1", "argument 2", and so on.
func Args(texts []string, where string) []Source {
	out := make([]Source, len(texts))
	for i, t := range texts {
		out[i] = Source{Text: t, Where: fmt.Sprintf("%s %d", where, i+1)}
	}
	return out
}

// MaxEntry is the longest entry ReadList accepts, in bytes. No valid
// specification comes near it; the bound keeps a corrupt or binary file
// from being read into memory as one entry.
const MaxEntry = 1024

// ReadList reads a target list in the format of Nmap's -iL and
// --exclude-file: entries separated by any whitespace, with '#' starting
// a comment that runs to the end of the line. name is used in each
// entry's Where ("name:line") and in errors. The entries are returned
// unparsed; Build parses them.
func ReadList(r io.Reader, name string) ([]Source, error) {
	br := bufio.NewReader(r)
	var (
		out     []Source
		cur     []byte
		line    = 1
		comment bool
	)
	flush := func() {
		if len(cur) > 0 {
			out = append(out, Source{Text: string(cur), Where: fmt.Sprintf("%s:%d", name, line)})
			cur = cur[:0]
		}
	}
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			flush()
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s at line %d: %w", name, line, err)
		}
		switch {
		case c == '\n':
			flush()
			comment = false
			line++
		case comment:
		case c == '#':
			flush()
			comment = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			flush()
		default:
			if len(cur) == MaxEntry {
				return nil, fmt.Errorf("%s:%d: entry longer than %d bytes", name, line, MaxEntry)
			}
			cur = append(cur, c)
		}
	}
}
