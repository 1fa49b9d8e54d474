// Package exec is the command sink: it runs a program for each alert with
// the alert as JSON (notify.Payload, one line) on its standard input. The
// program is started directly from its argument vector, never through a
// shell, so nothing in an alert can become part of a command line.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	osexec "os/exec"
	"strings"
	"time"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure a Sink.
type Options struct {
	Name string // default "exec"
	// Argv is the program and its arguments.
	Argv      []string
	Template  string // replaces notify.PlainTemplate for the "text" field
	DigestMax int
	// Dir is the working directory ("" for the current one).
	Dir string
}

// Sink runs a command for each alert.
type Sink struct {
	opts   Options
	render *notify.Renderer
}

var _ notify.Sink = (*Sink)(nil)

// New returns an exec sink.
func New(o Options) (*Sink, error) {
	if len(o.Argv) == 0 || o.Argv[0] == "" {
		return nil, errors.New("exec: no command")
	}
	if o.Name == "" {
		o.Name = "exec"
	}
	tmpl := notify.PlainTemplate
	if o.Template != "" {
		tmpl = o.Template
	}
	r, err := notify.NewRenderer(o.Name, tmpl, notify.StripControl, o.DigestMax)
	if err != nil {
		return nil, err
	}
	return &Sink{opts: o, render: r}, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

// maxOutput bounds the command output kept for an error message.
const maxOutput = 4 << 10

// capped keeps the first maxOutput bytes written to it.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Send runs the command with the alert on stdin. Exit status 0 is
// success; any other status, or a command killed at the timeout, is a
// failure worth retrying. A command that cannot be started at all is a
// permanent failure.
func (s *Sink) Send(ctx context.Context, a *notify.Alert) error {
	text, err := s.render.Render(a)
	if err != nil {
		return notify.Permanent(err)
	}
	payload, err := notify.EncodePayload(a, text)
	if err != nil {
		return notify.Permanent(err)
	}
	cmd := osexec.CommandContext(ctx, s.opts.Argv[0], s.opts.Argv[1:]...)
	cmd.Dir = s.opts.Dir
	cmd.Stdin = bytes.NewReader(append(payload, '\n'))
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if err == nil {
		return nil
	}
	var ee *osexec.ExitError
	var detail string
	if msg := strings.TrimSpace(notify.OneLine(out.String())); msg != "" {
		detail = ": " + notify.Truncate(msg, 300)
	}
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %s: %w%s", s.opts.Name, s.opts.Argv[0], err, detail)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %s: %w", s.opts.Name, s.opts.Argv[0], ctx.Err())
	}
	return notify.Permanent(fmt.Errorf("%s: %w", s.opts.Name, err))
}

// SplitArgs splits a command line into words the way a shell splits
// simple words, but with no expansion of any kind: words are separated by
// blanks; 'single quotes' keep everything literally; "double quotes" and
// a backslash outside quotes escape the next character. It fails on an
// unterminated quote or a trailing backslash.
func SplitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("command %q: unterminated '", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("command %q: unterminated \"", s)
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("command %q: trailing backslash", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
