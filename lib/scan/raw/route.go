package raw

import (
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// Sources finds the source address the kernel would use to reach a
// destination — the address answers come back to, and part of the TCP
// and UDP checksums — by connecting a UDP socket (which sends nothing)
// and reading its local address. It keeps the answers for the hosts of
// a scan, a bounded number at a time.
type Sources struct {
	mu    sync.Mutex
	cache map[netip.Addr]netip.Addr
}

// maxSources bounds the cache; it starts afresh when full.
const maxSources = 1 << 16

// Source returns the source address for dst.
func (s *Sources) Source(dst netip.Addr) (netip.Addr, error) {
	dst = dst.Unmap()
	s.mu.Lock()
	src, ok := s.cache[dst]
	s.mu.Unlock()
	if ok {
		return src, nil
	}
	src, err := lookupSource(dst)
	if err != nil {
		return netip.Addr{}, err
	}
	s.mu.Lock()
	if s.cache == nil || len(s.cache) >= maxSources {
		s.cache = make(map[netip.Addr]netip.Addr)
	}
	s.cache[dst] = src
	s.mu.Unlock()
	return src, nil
}

func lookupSource(dst netip.Addr) (netip.Addr, error) {
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: 9, Addr: dst.As16()}
	if dst.Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %v: %w", dst, err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return netip.Addr{}, fmt.Errorf("route to %v: %w", dst, err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %v: %w", dst, err)
	}
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr), nil
	}
	return netip.Addr{}, fmt.Errorf("route to %v: no source address", dst)
}
