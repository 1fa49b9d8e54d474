package raw

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/picketscan/picket/lib/scan"
)

// Frame is the reusable state of crafting one packet: gopacket's
// SerializeBuffer and the layers a probe is made of, kept from probe to
// probe so that crafting allocates nothing.
type Frame struct {
	Buf   gopacket.SerializeBuffer
	IP4   layers.IPv4
	IP6   layers.IPv6
	TCP   layers.TCP
	UDP   layers.UDP
	ICMP4 layers.ICMPv4
	ICMP6 layers.ICMPv6
	// Opts is room for TCP options.
	Opts     [2]layers.TCPOption
	src, dst [16]byte
}

// IP fills in the frame's IPv4 or IPv6 header from src to dst carrying
// proto, and returns it for the transport layer's checksum and for
// serialising.
func (f *Frame) IP(src, dst netip.Addr, proto uint8, id uint16) IPLayer {
	if dst.Is4() {
		s4, d4 := src.As4(), dst.As4()
		copy(f.src[:], s4[:])
		copy(f.dst[:], d4[:])
		f.IP4 = layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Protocol: layers.IPProtocol(proto),
			SrcIP: f.src[:4], DstIP: f.dst[:4]}
		return &f.IP4
	}
	f.src, f.dst = src.As16(), dst.As16()
	f.IP6 = layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(proto),
		SrcIP: f.src[:], DstIP: f.dst[:]}
	return &f.IP6
}

// IPLayer is an IPv4 or IPv6 header of a Frame.
type IPLayer interface {
	gopacket.NetworkLayer
	gopacket.SerializableLayer
}

// Opts are the serialisation options every probe uses: lengths and
// checksums computed by gopacket.
var Opts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// Craft serialises probe p into f.Buf, whole IP header included, and
// returns the destination address.
type Craft func(f *Frame, p scan.Probe) (netip.Addr, error)

// Sender writes whole IP packets (header included) on two raw sockets,
// one per address family. Send queues a probe; a few sender threads,
// one per CPU and each locked to its OS thread, take probes off the
// queue in batches, craft them and write each batch with one sendmmsg
// call, so that sending runs on every core and costs one system call per
// batch rather than per packet. On loopback and veth the kernel does a
// probe's whole round trip on the sending core, so a single sending
// thread could use only one.
type Sender struct {
	ctx      context.Context
	fd4, fd6 int
	craft    Craft
	fail     func(scan.Probe, error)
	queue    chan scan.Probe
	wg       sync.WaitGroup
}

// sendBatch is the most packets one sendmmsg call writes.
const sendBatch = 64

// maxPacket is the largest probe a sender writes.
const maxPacket = 1500

// NewSender opens the raw sockets and starts the sender threads. craft
// makes a probe's packet; fail hears of probes that could not be sent
// (after Send returned). Nothing is sent once ctx ends.
func NewSender(ctx context.Context, craft Craft, fail func(scan.Probe, error)) (*Sender, error) {
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, privError("raw IPv4 socket", err)
	}
	// On IPv6, IPPROTO_RAW means the packet carries its own header, as
	// IP_HDRINCL does on IPv4.
	fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		unix.Close(fd4)
		return nil, privError("raw IPv6 socket", err)
	}
	for _, fd := range []int{fd4, fd6} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		}
	}
	n := max(1, runtime.GOMAXPROCS(0))
	s := &Sender{ctx: ctx, fd4: fd4, fd6: fd6, craft: craft, fail: fail,
		queue: make(chan scan.Probe, n*4*sendBatch)}
	for range n {
		s.wg.Go(s.loop)
	}
	return s, nil
}

// Send queues p. It blocks only while every sender thread is busy and the
// queue is full.
func (s *Sender) Send(p scan.Probe) { s.queue <- p }

// outbox is one sender thread's batch for one socket.
type outbox struct {
	fd     int
	n      int
	bufs   [sendBatch][maxPacket]byte
	iovs   [sendBatch]unix.Iovec
	names4 [sendBatch]unix.RawSockaddrInet4
	names6 [sendBatch]unix.RawSockaddrInet6
	msgs   [sendBatch]mmsghdr
	probes [sendBatch]scan.Probe
}

func (s *Sender) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f := &Frame{Buf: gopacket.NewSerializeBuffer()}
	v4, v6 := &outbox{fd: s.fd4}, &outbox{fd: s.fd6}
	for {
		p, ok := <-s.queue
		if !ok {
			return
		}
		s.add(f, v4, v6, p)
	drain:
		for v4.n < sendBatch && v6.n < sendBatch {
			select {
			case p, ok = <-s.queue:
				if !ok {
					break drain
				}
				s.add(f, v4, v6, p)
			default:
				break drain
			}
		}
		s.flush(v4)
		s.flush(v6)
	}
}

// add crafts p into the batch of its family.
func (s *Sender) add(f *Frame, v4, v6 *outbox, p scan.Probe) {
	dst, err := s.craft(f, p)
	if err != nil {
		s.fail(p, err)
		return
	}
	b := f.Buf.Bytes()
	if len(b) > maxPacket {
		s.fail(p, fmt.Errorf("probe of %d bytes is over %d", len(b), maxPacket))
		return
	}
	o := v6
	if dst.Is4() {
		o = v4
	}
	i := o.n
	copy(o.bufs[i][:], b)
	o.iovs[i] = unix.Iovec{Base: &o.bufs[i][0]}
	o.iovs[i].SetLen(len(b))
	h := &o.msgs[i].Hdr
	*h = unix.Msghdr{Iov: &o.iovs[i]}
	h.SetIovlen(1)
	if dst.Is4() {
		o.names4[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.As4()}
		h.Name = (*byte)(unsafe.Pointer(&o.names4[i]))
		h.Namelen = unix.SizeofSockaddrInet4
	} else {
		o.names6[i] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
		if z := dst.Zone(); z != "" {
			if ifi, zerr := net.InterfaceByName(z); zerr == nil {
				o.names6[i].Scope_id = uint32(ifi.Index)
			}
		}
		h.Name = (*byte)(unsafe.Pointer(&o.names6[i]))
		h.Namelen = unix.SizeofSockaddrInet6
	}
	o.probes[i] = p
	o.n++
}

// flush writes the batch, unless the scan has stopped.
func (s *Sender) flush(o *outbox) {
	defer func() { o.n = 0 }()
	sent := 0
	for sent < o.n {
		if err := s.ctx.Err(); err != nil {
			for _, p := range o.probes[sent:o.n] {
				s.fail(p, context.Cause(s.ctx))
			}
			return
		}
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(o.fd), uintptr(unsafe.Pointer(&o.msgs[sent])),
			uintptr(o.n-sent), 0, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			// The first packet of the rest failed; the others are
			// tried again.
			p := o.probes[sent]
			err := os.NewSyscallError("sendmmsg", errno)
			if errno == unix.ENOBUFS || errno == unix.EAGAIN || errno == unix.ENOMEM {
				err = scan.Transient(err)
			}
			s.fail(p, fmt.Errorf("send to %v: %w", p.Dst.Addr(), err))
			sent++
		default:
			sent += int(n)
		}
	}
}

// Close stops the sender threads once the queue is empty and closes the
// sockets. Send must not be called after it.
func (s *Sender) Close() error {
	close(s.queue)
	s.wg.Wait()
	unix.Close(s.fd6)
	return unix.Close(s.fd4)
}

// Failed turns an error from sending a probe into its result: the kernel
// refuses to send to a destination it has no route to, or a route that
// prohibits it, as a router would answer with an ICMP error, so those
// are filtered ports with the matching reason; anything else is a local
// failure.
func Failed(err error) scan.Result {
	switch {
	case errors.Is(err, unix.EHOSTUNREACH), errors.Is(err, unix.EHOSTDOWN):
		return scan.Result{State: scan.StateFiltered, Reason: scan.ReasonHostUnreach}
	case errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.ENETDOWN):
		return scan.Result{State: scan.StateFiltered, Reason: scan.ReasonNetUnreach}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return scan.Result{State: scan.StateFiltered, Reason: scan.ReasonAdminProhibited}
	}
	return scan.Result{Err: err}
}
