package raw

import (
	"context"

	"github.com/picketscan/picket/lib/scan"
)

// Open starts what every raw method's session needs, in the order that
// loses no answer: the receive socket (for answers to ports PortBase to
// PortBase+PortSpan-1), then the senders, then the receiving goroutine,
// which decodes each packet and hands it to receive. A probe the senders
// cannot put on the wire is reported to sink as a local failure. The
// caller closes both when its session ends.
func Open(ctx context.Context, sink scan.Sink, craft Craft, receive func(*Packet)) (*Receiver, *Sender, error) {
	recv, err := Listen(PortBase, PortBase+PortSpan-1)
	if err != nil {
		return nil, nil, err
	}
	send, err := NewSender(ctx, craft, func(p scan.Probe, err error) {
		sink(scan.Answer{Dst: p.Dst, Try: p.Try, Result: Failed(err)})
	})
	if err != nil {
		recv.Close()
		return nil, nil, err
	}
	dec := NewDecoder()
	var pkt Packet
	recv.Start(func(b []byte) {
		if dec.Decode(b, &pkt) {
			receive(&pkt)
		}
	})
	return recv, send, nil
}
