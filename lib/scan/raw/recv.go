package raw

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receiver reads the packets that pass its filter on one cooked packet
// socket bound to every interface, in batches, and hands each to a
// handler on its own goroutine.
type Receiver struct {
	fd      int
	stop    atomic.Bool
	wg      sync.WaitGroup
	handler func(pkt []byte)
}

// rcvBuf is the receive buffer the socket asks for: room for a burst of
// answers at full speed while the handler is busy.
const rcvBuf = 64 << 20

// batch is how many packets one system call moves.
const batch = 64

// pollEvery is how often a receiver blocked on an idle socket looks
// whether it was closed: a scan's end waits for it, and a wakeup costs
// one system call.
const pollEvery = 5 * time.Millisecond

// Listen opens the receive socket for packets to ports [lo, hi] (and ICMP
// errors), before any probe is sent, so no answer can be missed.
// Handler runs on the receiver's goroutine once Start is called; the
// slice it gets is reused after it returns.
func Listen(lo, hi uint16) (*Receiver, error) {
	prog, err := filter(lo, hi)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, privError("packet socket", err)
	}
	fail := func(what string, err error) (*Receiver, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("receive socket: %s: %w", what, err)
	}
	// A filter that drops everything first, so that nothing unfiltered
	// queues up before the real one is attached; then drain.
	if err := attach(fd, []unix.SockFilter{{Code: 0x06, K: 0}}); err != nil {
		return fail("attach filter", err)
	}
	var buf [Snap]byte
	for {
		if _, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	raw := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		raw[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := attach(fd, raw); err != nil {
		return fail("attach filter", err)
	}
	// Outgoing packets are dropped by the filter too; this drops them
	// before it, where the kernel supports it (Linux 4.20).
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	tv := unix.NsecToTimeval(pollEvery.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("set timeout", err)
	}
	return &Receiver{fd: fd}, nil
}

func attach(fd int, prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Start runs handler on every packet until Close.
func (r *Receiver) Start(handler func(pkt []byte)) {
	r.handler = handler
	r.wg.Add(1)
	go r.loop()
}

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2).
type mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
}

func (r *Receiver) loop() {
	defer r.wg.Done()
	bufs := make([]byte, batch*Snap)
	iovs := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		iovs[i].Base = &bufs[i*Snap]
		iovs[i].SetLen(Snap)
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	for !r.stop.Load() {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&msgs[0])),
			batch, unix.MSG_WAITFORONE, 0, 0)
		if errno != 0 {
			if errno == unix.EAGAIN || errno == unix.EINTR {
				continue
			}
			if r.stop.Load() {
				return
			}
			// A receive socket that fails is a broken scan; the engine
			// times out what is left.
			fmt.Fprintln(os.Stderr, "probe: receive:", errno.Error())
			return
		}
		for i := range int(n) {
			l := int(msgs[i].Len)
			r.handler(bufs[i*Snap : i*Snap+min(l, Snap)])
		}
	}
}

// Drops is how many packets the kernel dropped for want of room in the
// receive buffer since the last call.
func (r *Receiver) Drops() uint32 {
	st, err := unix.GetsockoptTpacketStats(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0
	}
	return st.Drops
}

// Close stops the receiver and waits for its goroutine.
func (r *Receiver) Close() error {
	r.stop.Store(true)
	r.wg.Wait()
	return unix.Close(r.fd)
}
