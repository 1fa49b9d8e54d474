package app

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// NewLogger returns the logger for a command's diagnostics on w. Format
// "text" writes one human line per record ("probe: warning: message
// key=value"); "json" writes one JSON object per record, for log stacks.
func NewLogger(w io.Writer, name, format string, level slog.Level) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(&textHandler{w: w, name: name, level: level, mu: new(sync.Mutex)}), nil
	case "json":
		h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
		return slog.New(h).With("tool", name), nil
	}
	return nil, Usagef("bad --log-format %q: want text or json", format)
}

// textHandler writes records as "name: level: msg key=value ...". Info
// records have no level word, so ordinary messages read like those of
// any Unix tool. Values are quoted when they contain spaces or control
// characters, so text from remote hosts cannot forge log lines.
type textHandler struct {
	w     io.Writer
	name  string
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.name)
	b.WriteString(": ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(quoteIfNeeded(r.Message, false))
	write := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(quoteIfNeeded(a.Value.Resolve().String(), true))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

// WithGroup is not needed by Picket's messages; groups are flattened.
func (h *textHandler) WithGroup(string) slog.Handler { return h }

// quoteIfNeeded quotes s when it holds control or non-printable
// characters, or (for attribute values) spaces, '=' or quotes.
func quoteIfNeeded(s string, value bool) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || (value && (r == ' ' || r == '=' || r == '"')) {
			return strconv.Quote(s)
		}
	}
	if value && s == "" {
		return `""`
	}
	return s
}
