// Package raw is the raw-socket plumbing shared by the stateless probe
// methods (syn, udp, ping): a sender that writes whole IPv4 and IPv6
// packets on raw IP sockets from several threads in sendmmsg batches, a
// receiver that reads the network-layer packets of every interface on
// one packet socket behind a BPF filter, a decoder built on gopacket's
// DecodingLayerParser, the keyed cookie that lets a method recognise its
// own answers without a table of outstanding probes, and the source
// address the kernel would use for a destination.
//
// Everything here needs CAP_NET_RAW; Available says whether the process
// has it. It builds without cgo and without libpcap.
package raw

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNoPrivilege says raw sockets are not allowed to this process.
var ErrNoPrivilege = errors.New("raw sockets need CAP_NET_RAW, which this process lacks (root has it unless a container or setpriv dropped it; or give the binary the capability: setcap cap_net_raw+ep probe)")

// Available reports whether the process may open the sockets the raw
// methods use, and if not, why.
func Available() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return privError("packet socket", err)
	}
	unix.Close(fd)
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return privError("raw socket", err)
	}
	unix.Close(fd)
	return nil
}

// privError names a refused socket as missing privilege and anything
// else as what it is.
func privError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return ErrNoPrivilege
	}
	return fmt.Errorf("open %s: %w", what, os.NewSyscallError("socket", err))
}
