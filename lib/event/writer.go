package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNewline is returned by WriteLine for a line that contains "\n" and so
// would split into two.
var ErrNewline = errors.New("line contains a newline")

// writerBufSize is the output buffer size; larger lines are written
// straight through.
const writerBufSize = 64 << 10

// Writer writes NDJSON lines to an output through a buffer. Output reaches
// the underlying writer when the buffer fills or on Flush, so a stage that
// streams to a live consumer flushes after each batch. Errors from the
// underlying writer are wrapped with %w, so errors.Is(err, syscall.EPIPE)
// detects a closed stdout; after one, every later call fails the same way.
//
// A Writer is meant for one goroutine: it is not safe for concurrent use.
type Writer struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, writerBufSize)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &Writer{bw: bw, enc: enc}
}

// WriteLine writes raw followed by "\n". raw must not contain "\n".
func (w *Writer) WriteLine(raw []byte) error {
	if bytes.IndexByte(raw, '\n') >= 0 {
		return fmt.Errorf("write event: %w", ErrNewline)
	}
	if _, err := w.bw.Write(raw); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if err := w.bw.WriteByte('\n'); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

// Encode writes the JSON encoding of v as one line. HTML characters are
// not escaped. Nothing is written if v cannot be encoded.
func (w *Writer) Encode(v any) error {
	// json.Encoder encodes into its own buffer before writing, so a
	// value that fails to encode leaves no partial line behind, and its
	// output never contains a raw newline (it compacts MarshalJSON output).
	if err := w.enc.Encode(v); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

// Flush writes any buffered lines to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return nil
}
