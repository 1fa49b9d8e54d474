package scan

import "github.com/picketscan/picket/lib/event"

// sendStart queues the scan start and, when its scope is too long for
// one line, the "scope" events that continue it (event.SplitScope), so
// that they come before any host event and every line stays well under
// the readers' line limit. The parts share the scope's slices: nothing is
// copied.
func (s *scanner) sendStart(start *event.ScanStart) {
	first, parts := event.SplitScope(start.Scope, event.MaxScopeBytes)
	start.Scope, start.ScopeParts = first, len(parts)
	s.out.send(start)
	for i := range parts {
		parts[i].Time, parts[i].ScanID = start.Time, start.ScanID
		s.out.send(&parts[i])
	}
}
