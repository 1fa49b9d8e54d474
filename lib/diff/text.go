package diff

import (
	"bytes"

	"github.com/picketscan/picket/lib/event"
)

// Text renders changes as a human report in the spirit of Ndiff's: a line
// for each side's scan, then, for each host with changes, its address
// (and name) and the changes' summaries. changes must be grouped by
// address, as Compare returns them. old and cur describe the two scans
// ("scan 01M8… at 2026-11-25T17:08:25Z").
func Text(old, cur string, changes []event.Change) []byte {
	var b bytes.Buffer
	b.WriteString("-" + escape(old) + "\n")
	b.WriteString("+" + escape(cur) + "\n")
	ip := ""
	for i := range changes {
		x := &changes[i]
		if i == 0 || x.IP != ip {
			ip = x.IP
			b.WriteString("\n" + escape(x.IP))
			if x.Hostname != "" {
				b.WriteString(" (" + escape(x.Hostname) + ")")
			}
			b.WriteString(":\n")
		}
		s := x.Summary
		if s == "" {
			s = summary(x)
		}
		b.WriteString(s + "\n")
	}
	return b.Bytes()
}
