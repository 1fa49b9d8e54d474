package service

import "time"

// DefaultBacktrackBudget bounds the total time the backtracking engine
// may spend on one answer, over all its patterns.
const DefaultBacktrackBudget = 500 * time.Millisecond

// Hit is a match line that matched an answer, with its template expanded.
type Hit struct {
	Match *Match
	Info  Info
}

// Matcher runs the match lines of a probe set over answers.
type Matcher struct {
	null map[string]*Probe // the NULL probe of each protocol
}

// NewMatcher returns a Matcher over set.
func NewMatcher(set *ProbeSet) *Matcher {
	m := &Matcher{null: map[string]*Probe{}}
	for _, p := range set.Probes {
		if p.Name == "NULL" && m.null[p.Proto] == nil {
			m.null[p.Proto] = p
		}
	}
	return m
}

// candidates returns the probes whose match lines apply to an answer to
// p, in order: p itself, its fallbacks, and for TCP the NULL probe (a
// service that talks first may talk whatever it is sent).
func (m *Matcher) candidates(p *Probe) []*Probe {
	out := append(make([]*Probe, 0, 2+len(p.Fallbacks)), p)
	out = append(out, p.Fallbacks...)
	if n := m.null[p.Proto]; n != nil && p.Proto == TCP {
		out = append(out, n)
	}
	// Drop repeats while keeping the order.
	for i := 1; i < len(out); i++ {
		for j := 0; j < i; j++ {
			if out[j] == out[i] {
				out = append(out[:i], out[i+1:]...)
				i--
				break
			}
		}
	}
	return out
}

// Match runs the match lines that apply to an answer to p over answer and
// returns the first hard match, or else the first softmatch (nil, nil
// when nothing matched). When only is not empty, lines for other services
// are skipped: after a softmatch, only a hard match for the same service
// can improve on it. The backtracking engine gets at most budget in all
// (DefaultBacktrackBudget when 0); patterns it would run after that are
// skipped, so a hostile answer cannot stall the matching.
func (m *Matcher) Match(p *Probe, answer []byte, only string, budget time.Duration) (hard, soft *Hit) {
	if len(answer) == 0 {
		return nil, nil
	}
	if budget <= 0 {
		budget = DefaultBacktrackBudget
	}
	text := Latin1(answer)
	for _, pr := range m.candidates(p) {
		for _, ml := range pr.Matches {
			// TLS is a layer under the service, not a rival to it, so
			// its lines stay in play after a softmatch.
			if only != "" && ml.Service != only && ml.Service != "ssl" {
				continue
			}
			if soft != nil && ml.Soft {
				continue
			}
			var groups [][]byte
			if ml.re.backtracking() {
				if budget <= 0 {
					continue
				}
				start := time.Now()
				groups = ml.Find(text)
				budget -= time.Since(start)
			} else {
				groups = ml.Find(text)
			}
			if groups == nil {
				continue
			}
			hit := &Hit{Match: ml, Info: ml.Template.Expand(groups)}
			if !ml.Soft {
				return hit, nil
			}
			soft = hit
		}
	}
	return nil, soft
}

// CanMatch reports whether an answer to p could give a hard match for
// service; after a softmatch, only such probes are worth sending.
func (m *Matcher) CanMatch(p *Probe, service string) bool {
	// The NULL probe's lines apply to every answer, but an answer to p
	// that NULL's lines could match would have come without sending p.
	for _, pr := range append([]*Probe{p}, p.Fallbacks...) {
		for _, ml := range pr.Matches {
			if !ml.Soft && ml.Service == service {
				return true
			}
		}
	}
	return false
}
