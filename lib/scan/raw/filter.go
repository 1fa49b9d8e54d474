package raw

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Snap is how many bytes of a packet the receive filter keeps: the IP
// and transport headers, and the start of a UDP answer or of the packet
// an ICMP error quotes.
const Snap = 1600

// filter is the classic BPF program of the receive socket. The socket
// is a cooked packet socket, so a packet starts at its IP header. It
// keeps packets the host received (not those it sent) that are ICMP or
// ICMPv6, or TCP or UDP to a port in [lo, hi]: the answers to probes,
// whose source ports lie in that range, and the errors that quote them.
func filter(lo, hi uint16) ([]bpf.RawInstruction, error) {
	const (
		packetOutgoing = 4
		etherIPv4      = 0x0800
		etherIPv6      = 0x86dd
	)
	// The program jumps forward to labels; each jump's skip is worked
	// out from the labels' positions below.
	type jump struct {
		at          int
		true, false string
	}
	var (
		prog   []bpf.Instruction
		labels = map[string]int{}
		jumps  []jump
	)
	emit := func(i bpf.Instruction) { prog = append(prog, i) }
	jmp := func(cond bpf.JumpTest, val uint32, t, f string) {
		jumps = append(jumps, jump{len(prog), t, f})
		emit(bpf.JumpIf{Cond: cond, Val: val})
	}
	label := func(name string) { labels[name] = len(prog) }

	emit(bpf.LoadExtension{Num: bpf.ExtType})
	jmp(bpf.JumpEqual, packetOutgoing, "drop", "")
	emit(bpf.LoadExtension{Num: bpf.ExtProto})
	jmp(bpf.JumpEqual, etherIPv4, "", "v6")
	// IPv4: the protocol, then the destination port past the header.
	emit(bpf.LoadAbsolute{Off: 9, Size: 1})
	jmp(bpf.JumpEqual, ProtoICMP, "accept", "")
	jmp(bpf.JumpEqual, ProtoTCP, "port4", "")
	jmp(bpf.JumpEqual, ProtoUDP, "port4", "drop")
	label("port4")
	emit(bpf.LoadMemShift{Off: 0})
	emit(bpf.LoadIndirect{Off: 2, Size: 2})
	jmp(bpf.JumpGreaterOrEqual, uint32(lo), "", "drop")
	jmp(bpf.JumpGreaterThan, uint32(hi), "drop", "accept")
	label("v6")
	jmp(bpf.JumpEqual, etherIPv6, "", "drop")
	emit(bpf.LoadAbsolute{Off: 6, Size: 1})
	jmp(bpf.JumpEqual, ProtoICMPv6, "accept", "")
	jmp(bpf.JumpEqual, ProtoTCP, "port6", "")
	jmp(bpf.JumpEqual, ProtoUDP, "port6", "drop")
	label("port6")
	emit(bpf.LoadAbsolute{Off: 42, Size: 2})
	jmp(bpf.JumpGreaterOrEqual, uint32(lo), "", "drop")
	jmp(bpf.JumpGreaterThan, uint32(hi), "drop", "accept")
	label("accept")
	emit(bpf.RetConstant{Val: Snap})
	label("drop")
	emit(bpf.RetConstant{Val: 0})

	for _, j := range jumps {
		ji := prog[j.at].(bpf.JumpIf)
		for _, side := range []struct {
			name string
			skip *uint8
		}{{j.true, &ji.SkipTrue}, {j.false, &ji.SkipFalse}} {
			if side.name == "" {
				continue
			}
			to, ok := labels[side.name]
			if !ok || to <= j.at || to-j.at-1 > 255 {
				return nil, fmt.Errorf("bpf: bad jump to %s", side.name)
			}
			*side.skip = uint8(to - j.at - 1)
		}
		prog[j.at] = ji
	}
	return bpf.Assemble(prog)
}
