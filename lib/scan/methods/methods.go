// Package methods lists Picket's probe methods in one place: the table
// a command hands to scan.Setup. A new method is one more line here and
// a package of its own under lib/scan/.
package methods

import (
	"slices"

	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/connect"
	"github.com/picketscan/picket/lib/scan/ping"
	"github.com/picketscan/picket/lib/scan/raw"
	"github.com/picketscan/picket/lib/scan/syn"
	"github.com/picketscan/picket/lib/scan/udp"
)

// List returns the probe methods. The first is the one scan.Setup takes
// when none is named; a command picks with Default.
func List() []scan.MethodSpec {
	return []scan.MethodSpec{
		{Name: "connect", Proto: ports.TCP, New: connect.New,
			Doc: "a full TCP handshake through the kernel; needs no privileges"},
		{Name: "syn", Proto: ports.TCP, New: syn.New, Tune: syn.Tune, Concurrency: 2048,
			Doc: "a raw SYN, answered by SYN-ACK (open) or reset (closed), read statelessly; needs CAP_NET_RAW"},
		{Name: "udp", Proto: ports.UDP, New: udp.New, Tune: udp.Tune,
			Doc: "a UDP datagram with a request of the port's protocol where known; answer open, ICMP port unreachable closed, silence open|filtered; needs CAP_NET_RAW"},
	}
}

// Default names the TCP method a scan uses when the user names none, as
// Nmap chooses: syn where the process may send raw packets, else connect,
// with the reason it could not use syn.
func Default() (name string, why error) {
	if err := raw.Available(); err != nil {
		return "connect", err
	}
	return "syn", nil
}

// Ping is Nmap's privileged host discovery: ICMP echo, a SYN to 443 and
// an ACK to 80, sent raw; with timestamp an ICMP timestamp request too
// (Nmap's -PP), which some hosts that drop echo requests still answer.
func Ping(timestamp bool) *scan.DiscoverySpec {
	kinds := ping.Kinds
	if timestamp {
		kinds = append(slices.Clone(kinds), ping.KindTimestamp)
	}
	return &scan.DiscoverySpec{Name: ping.Describe(kinds), Ports: kinds, New: ping.New}
}
