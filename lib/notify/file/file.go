// Package file is the file sink: it appends each alert as one line of
// NDJSON (notify.Payload) to a file and fsyncs it before reporting
// success.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure a Sink.
type Options struct {
	Name      string // default "file"
	Path      string
	Template  string // replaces notify.PlainTemplate for the "text" field
	DigestMax int
}

// Sink appends alerts to a file.
type Sink struct {
	opts   Options
	render *notify.Renderer
	mu     sync.Mutex
}

var _ notify.Sink = (*Sink)(nil)

// New returns a file sink.
func New(o Options) (*Sink, error) {
	if o.Path == "" {
		return nil, errors.New("file: no path")
	}
	if o.Name == "" {
		o.Name = "file"
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

// Send appends the alert as one line and syncs the file. The line is
// written with a single write on a file opened for appending, so
// concurrent writers do not interleave lines.
func (s *Sink) Send(ctx context.Context, a *notify.Alert) error {
	text, err := s.render.Render(a)
	if err != nil {
		return notify.Permanent(err)
	}
	line, err := notify.EncodePayload(a, text)
	if err != nil {
		return notify.Permanent(err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", s.opts.Name, err)
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: append to %s: %w", s.opts.Name, s.opts.Path, err)
	}
	return nil
}
