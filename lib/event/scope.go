package event

// MaxScopeBytes bounds the target and exclusion specifications that one
// line carries (a scan start or a "scope" event), in bytes of JSON: a
// quarter of the 1 MiB line limit of the event reader, which leaves room
// for the rest of the line (a long port spec included).
const MaxScopeBytes = 256 << 10

// SplitScope cuts a scope whose targets and exclusions take more than
// limit bytes of JSON into the scope for the scan start, which keeps the
// first specifications, and the "scope" events that continue it, each
// with at most limit bytes of specifications (a single specification
// longer than limit goes alone). Targets come first, then exclusions, in
// order; appending each part's Targets and Exclude to the start's, in
// Seq order, gives sc back. A scope within limit is returned as it is,
// with no parts. The parts share sc's slices; their Time and ScanID are
// left for the caller to set.
func SplitScope(sc Scope, limit int) (Scope, []ScopePart) {
	all := len(sc.Targets) + len(sc.Exclude)
	spec := func(i int) string {
		if i < len(sc.Targets) {
			return sc.Targets[i]
		}
		return sc.Exclude[i-len(sc.Targets)]
	}
	// cut returns where the chunk starting at i ends.
	cut := func(i int) int {
		size := 0
		j := i
		for j < all {
			n := specBytes(spec(j))
			if j > i && size+n > limit {
				break
			}
			size += n
			j++
		}
		return j
	}
	end := cut(0)
	if end == all {
		return sc, nil
	}
	// chunk returns the targets and exclusions of specs i to j.
	chunk := func(i, j int) (ts, xs []string) {
		nt := len(sc.Targets)
		if i < nt {
			ts = sc.Targets[i:min(j, nt):min(j, nt)]
		}
		if j > nt {
			xs = sc.Exclude[max(i, nt)-nt : j-nt : j-nt]
		}
		return ts, xs
	}
	first := sc
	first.Targets, first.Exclude = chunk(0, end)
	if first.Targets == nil && sc.Targets != nil {
		first.Targets = sc.Targets[:0:0]
	}
	var parts []ScopePart
	for i := end; i < all; {
		j := cut(i)
		ts, xs := chunk(i, j)
		parts = append(parts, ScopePart{Type: TypeScope, Seq: len(parts) + 1, Targets: ts, Exclude: xs})
		i = j
	}
	return first, parts
}

// specBytes is at most the bytes s takes in a JSON array: its quotes, a
// comma and its characters, escaped as encoding/json escapes them.
func specBytes(s string) int {
	n := 3
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			n += 2
		case c < 0x20:
			n += 6 // \u00XX
		case c >= 0x80:
			n += 3 // an invalid byte becomes U+FFFD; U+2028 (3 bytes) becomes 6
		default:
			n++
		}
	}
	return n
}
