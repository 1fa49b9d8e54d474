package scan

import (
	"context"
	"fmt"
	"sync"

	"github.com/picketscan/picket/lib/event"
)

// output is the scan's single writer: workers hand it events over a
// channel and one goroutine encodes them, so lines never interleave. On a
// write error it cancels the scan and drops the rest.
type output struct {
	ch     chan any
	wg     sync.WaitGroup
	err    error
	cancel context.CancelCauseFunc
}

func newOutput(w *event.Writer, cancel context.CancelCauseFunc) *output {
	o := &output{ch: make(chan any, 256), cancel: cancel}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for v := range o.ch {
			if o.err != nil {
				continue
			}
			if err := w.Encode(v); err != nil {
				o.fail(err)
				continue
			}
			// Flush when no more events are waiting, so a slow scan
			// still streams its findings line by line.
			if len(o.ch) == 0 {
				if err := w.Flush(); err != nil {
					o.fail(err)
				}
			}
		}
		if o.err == nil {
			if err := w.Flush(); err != nil {
				o.fail(err)
			}
		}
	}()
	return o
}

func (o *output) fail(err error) {
	o.err = fmt.Errorf("write events: %w", err)
	o.cancel(o.err)
}

// send queues one event. It must not be called after close.
func (o *output) send(v any) { o.ch <- v }

// close waits until every queued event is written and returns the first
// write error.
func (o *output) close() error {
	close(o.ch)
	o.wg.Wait()
	return o.err
}
