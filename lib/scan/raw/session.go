package raw

import (
	"context"
	"time"

	"github.com/picketscan/picket/lib/scan"
)

// Base is what the session of every raw method holds: the scan's
// context and sink, the key of its cookies, the epoch of its send
// stamps, the source addresses it picked, and its sockets. A method's
// session embeds it and adds how it crafts and reads its probes.
type Base struct {
	Ctx   context.Context
	Sink  scan.Sink
	Key   Key
	Epoch time.Time
	Src   Sources
	recv  *Receiver
	send  *Sender
}

// Open fills in b for one scan and starts its sockets (see Open): craft
// makes each probe, receive reads each answer.
func (b *Base) Open(ctx context.Context, sink scan.Sink, craft Craft, receive func(*Packet)) error {
	b.Ctx, b.Sink, b.Key, b.Epoch = ctx, sink, NewKey(), time.Now()
	var err error
	b.recv, b.send, err = Open(ctx, sink, craft, receive)
	return err
}

// Queue hands p to the sender threads; its outcome comes later through
// the sink. Once the scan is stopped it sends nothing and says why.
func (b *Base) Queue(p scan.Probe) (scan.Result, bool) {
	if err := b.Ctx.Err(); err != nil {
		return scan.Result{Err: context.Cause(b.Ctx)}, true
	}
	b.send.Send(p)
	return scan.Result{}, false
}

// Close stops the senders, then the receiver.
func (b *Base) Close() error {
	b.send.Close()
	return b.recv.Close()
}
