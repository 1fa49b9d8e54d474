// Package targets turns Nmap-style target specifications into the list of
// addresses a scan covers.
//
// A specification is an address, a CIDR block, an IPv4 octet range or a
// host name (see ParseSpec). Build parses a list of them, resolves the
// names, applies exclusions, and returns a Set that enumerates the
// addresses lazily: a /8 or an IPv6 /104 is never expanded into memory.
//
// Decisions where Nmap leaves room:
//   - A target name stands for one address, the first IPv4 address it
//     resolves to or else the first IPv6 one, and that address is reported
//     with the name. With a prefix (example.com/28) the block around that
//     address is scanned, and only the resolved address carries the name.
//   - A target name that does not resolve is reported through Config.Warn
//     and skipped, as Nmap does. An exclusion name that does not resolve
//     is an error: scanning something the user meant to leave alone is
//     worse than not scanning.
//   - An exclusion name excludes every address it resolves to.
//   - The targets may cover at most MaxLen (2^63) addresses in all, so an
//     IPv6 target prefix must be /65 or longer. Exclusions have no limit.
//   - Duplicates are kept: a target given twice is enumerated twice.
//   - An address has one identity however it is spelled: an
//     IPv4-mapped IPv6 address (::ffff:10.0.0.1) and a prefix inside the
//     mapped block (::ffff:10.0.0.0/120) are read as the IPv4 address and
//     prefix they map, for targets, exclusions and resolved names alike,
//     and an IPv6 exclusion that covers the whole mapped block (::/64)
//     excludes every IPv4 address. An excluded address is never yielded,
//     whichever way either side is written.
//   - If exclusions remove every target, or no target is given at all
//     (an empty -iL file), Build still succeeds and All yields nothing;
//     the caller reports a scan of zero hosts, the same way for both.
package targets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// MaxLen is the most addresses a Set may cover.
const MaxLen = 1 << 63

// ErrNoTargets is returned by Build when target names were given and none
// of them resolved, so nothing is left to scan.
var ErrNoTargets = errors.New("no targets to scan")

// Resolver looks up host names. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// Config is the input of Build.
type Config struct {
	// Targets are the target specifications, in scan order.
	Targets []Source
	// Exclude are the exclusion specifications.
	Exclude []Source
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Warn, if set, receives one-line messages about targets that were
	// skipped, such as names that did not resolve.
	Warn func(msg string)
	// ResolveAll scans every address a target name resolves to, as
	// Nmap's --resolve-all; otherwise only the first (IPv4 first).
	ResolveAll bool
	// IPv6 takes only the IPv6 addresses of target names, as Nmap's -6,
	// and makes an IPv4 address, prefix or range among the targets a
	// SpecError (exclusions may still name IPv4 addresses).
	IPv6 bool
}

// Target is one address to scan.
type Target struct {
	Addr netip.Addr
	// Name is the host name the address was given as, "" otherwise.
	Name string
}

// block is one target specification, resolved, with its position in the
// whole list.
type block struct {
	start uint64 // index of the block's first address in the Set
	n     uint64
	spec  Spec // KindAddr, KindPrefix or KindRange
	name  string
	named netip.Addr // the address that carries name
}

// Set is a lazily enumerable list of targets with its exclusions. It is
// safe for concurrent use once built.
type Set struct {
	blocks  []block
	total   uint64
	specs   []string
	exSpecs []string
	ex      excluder
}

// Build parses c.Targets and c.Exclude, resolves the host names among
// them (concurrently, each distinct name once) and returns the Set. Syntax
// errors are reported before any name is looked up. Errors name the
// Source's Where and text; see the package documentation for how names
// that fail to resolve are treated.
func Build(ctx context.Context, c Config) (*Set, error) {
	resolver := c.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	warn := c.Warn
	if warn == nil {
		warn = func(string) {}
	}
	tspecs, err := parseAll(c.Targets, false)
	if err != nil {
		return nil, err
	}
	if c.IPv6 {
		if err := only6(c.Targets, tspecs); err != nil {
			return nil, err
		}
	}
	xspecs, err := parseAll(c.Exclude, true)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range append(tspecs[:len(tspecs):len(tspecs)], xspecs...) {
		if s.kind == KindName {
			names = append(names, s.name)
		}
	}
	found, err := resolveAll(ctx, resolver, names)
	if err != nil {
		return nil, err
	}

	s := &Set{
		specs:   texts(c.Targets),
		exSpecs: texts(c.Exclude),
	}
	for i, sp := range xspecs {
		if err := s.exclude(c.Exclude[i], sp, found[sp.name]); err != nil {
			return nil, err
		}
	}
	if err := s.ex.finish(); err != nil {
		return nil, fmt.Errorf("build exclusions: %w", err)
	}

	// Names that do not resolve are warned about once the list is known
	// to hold something else; when nothing resolved, the error alone
	// names them, on one line.
	var misses []string
	for i, sp := range tspecs {
		src := c.Targets[i]
		b := block{spec: sp}
		if sp.kind == KindName {
			l := found[sp.name]
			if l.err != nil {
				misses = append(misses, fmt.Sprintf("%s: resolve %q: %v", src.Where, sp.name, l.err))
				continue
			}
			addrs := pickAddrs(l.addrs, c.ResolveAll, c.IPv6)
			if len(addrs) == 0 {
				misses = append(misses, fmt.Sprintf("%s: resolve %q: no IPv6 addresses", src.Where, sp.name))
				continue
			}
			for _, a := range addrs {
				nb, err := nameBlock(src, sp, []netip.Addr{a})
				if err != nil {
					return nil, err
				}
				if err := s.addBlock(src, nb); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := s.addBlock(src, b); err != nil {
			return nil, err
		}
	}
	if len(s.blocks) == 0 && len(misses) > 0 {
		more := ""
		if len(misses) > 1 {
			more = fmt.Sprintf("; %d more", len(misses)-1)
		}
		return nil, fmt.Errorf("%w: no target name resolved (%d tried): %s%s", ErrNoTargets, len(misses), misses[0], more)
	}
	for _, m := range misses {
		warn(m)
	}
	return s, nil
}

// addBlock appends b to the set's blocks.
func (s *Set) addBlock(src Source, b block) error {
	n, ok := b.spec.Len()
	if !ok {
		return &SpecError{Where: src.Where, Text: src.Text, Reason: tooLarge(b.spec)}
	}
	if n > MaxLen-s.total {
		return fmt.Errorf("%s: targets cover more than 2^63 addresses in all", src.Where)
	}
	b.start, b.n = s.total, n
	s.total += n
	s.blocks = append(s.blocks, b)
	return nil
}

// pickAddrs chooses the addresses of a resolved name to scan: with v6
// only the IPv6 ones; all of them with all, else one — Nmap's choice of
// the first IPv4 address, else the first IPv6 one.
func pickAddrs(addrs []netip.Addr, all, v6 bool) []netip.Addr {
	if v6 {
		var only []netip.Addr
		for _, a := range addrs {
			if a.Is6() {
				only = append(only, a)
			}
		}
		addrs = only
	}
	if all || len(addrs) == 0 {
		return addrs
	}
	for _, a := range addrs {
		if a.Is4() {
			return []netip.Addr{a}
		}
	}
	return addrs[:1]
}

func texts(srcs []Source) []string {
	out := make([]string, len(srcs))
	for i, s := range srcs {
		out[i] = s.Text
	}
	return out
}

func parseAll(srcs []Source, exclude bool) ([]Spec, error) {
	out := make([]Spec, len(srcs))
	for i, src := range srcs {
		sp, err := ParseSpec(src.Text)
		if err != nil {
			var se *SpecError
			if errors.As(err, &se) {
				se.Where, se.Exclude = src.Where, exclude
			}
			return nil, err
		}
		out[i] = sp
	}
	return out, nil
}

// only6 rejects the IPv4 addresses, prefixes and octet ranges among the
// target specs: IPv6 (-6) filters what names resolve to, and would
// otherwise scan a literal IPv4 target as if the option were not given.
func only6(srcs []Source, specs []Spec) error {
	for i, sp := range specs {
		v4 := sp.kind == KindRange ||
			(sp.kind == KindAddr || sp.kind == KindPrefix) && sp.addr.Is4()
		if v4 {
			return &SpecError{Where: srcs[i].Where, Text: srcs[i].Text,
				Reason: "an IPv4 target, but -6 scans IPv6 addresses only"}
		}
	}
	return nil
}

func tooLarge(sp Spec) string {
	return fmt.Sprintf("prefix /%d covers 2^%d addresses, more than the limit of 2^63 (use /65 or longer)",
		sp.bits, sp.addr.BitLen()-sp.bits)
}

// prefixFor applies a name's prefix length to one of its addresses.
func prefixFor(src Source, exclude bool, sp Spec, a netip.Addr) (netip.Prefix, error) {
	if a.Is4() && sp.bits > 32 {
		return netip.Prefix{}, &SpecError{Where: src.Where, Text: src.Text, Exclude: exclude,
			Reason: fmt.Sprintf("prefix /%d is over 32 for IPv4 address %s", sp.bits, a)}
	}
	return netip.PrefixFrom(a.WithZone(""), sp.bits).Masked(), nil
}

// nameBlock turns a resolved target name into a block: Nmap's choice of
// the first IPv4 address, else the first IPv6 one.
func nameBlock(src Source, sp Spec, addrs []netip.Addr) (block, error) {
	a := addrs[0]
	for _, x := range addrs {
		if x.Is4() {
			a = x
			break
		}
	}
	b := block{name: sp.name, named: a}
	if sp.bits < 0 {
		b.spec = Spec{text: sp.text, kind: KindAddr, addr: a, bits: -1}
		return b, nil
	}
	p, err := prefixFor(src, false, sp, a)
	if err != nil {
		return block{}, err
	}
	b.spec = Spec{text: sp.text, kind: KindPrefix, addr: p.Addr(), bits: p.Bits()}
	return b, nil
}

func (s *Set) exclude(src Source, sp Spec, l lookup) error {
	switch sp.kind {
	case KindAddr:
		s.ex.addAddr(sp.addr)
	case KindPrefix:
		s.ex.addPrefix(sp.Prefix())
	case KindRange:
		s.ex.ranges = append(s.ex.ranges, sp.oct)
	case KindName:
		if l.err != nil {
			return fmt.Errorf("%s: resolve exclusion %q: %w", src.Where, sp.name, l.err)
		}
		for _, a := range l.addrs {
			if sp.bits < 0 {
				s.ex.addAddr(a)
				continue
			}
			p, err := prefixFor(src, true, sp, a)
			if err != nil {
				return err
			}
			s.ex.addPrefix(p)
		}
	}
	return nil
}

// lookup is the outcome of resolving one name: at least one address, or
// an error.
type lookup struct {
	addrs []netip.Addr
	err   error
}

// maxLookups bounds the concurrent lookups of one Build.
const maxLookups = 8

// resolveAll looks up each distinct name once, a few at a time. Lookup
// failures are recorded per name; only the end of ctx fails the whole.
func resolveAll(ctx context.Context, r Resolver, names []string) (map[string]lookup, error) {
	found := make(map[string]lookup, len(names))
	var todo []string
	for _, n := range names {
		if _, ok := found[n]; !ok {
			found[n] = lookup{}
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return found, nil
	}
	results := make([]lookup, len(todo))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(maxLookups, len(todo)) {
		wg.Go(func() {
			for i := range next {
				results[i] = resolveOne(ctx, r, todo[i])
			}
		})
	}
feed:
	for i := range todo {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("resolve targets: %w", err)
	}
	for i, n := range todo {
		found[n] = results[i]
	}
	return found, nil
}

func resolveOne(ctx context.Context, r Resolver, name string) lookup {
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return lookup{err: err}
	}
	// The standard resolver returns IPv4 answers in their IPv4-mapped
	// form; they are IPv4 targets.
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 {
		return lookup{err: errors.New("no addresses")}
	}
	return lookup{addrs: out}
}

// Len returns the number of addresses the target specifications cover,
// duplicates included, before exclusions.
func (s *Set) Len() uint64 { return s.total }

// At returns the i-th target in specification order, before exclusions
// (check Excluded), or the zero Target if i >= Len(). Within an octet
// range the last octet varies fastest.
func (s *Set) At(i uint64) Target {
	if i >= s.total {
		return Target{}
	}
	k, found := slices.BinarySearchFunc(s.blocks, i, func(b block, i uint64) int { return cmp.Compare(b.start, i) })
	if !found {
		k--
	}
	b := &s.blocks[k]
	return b.target(b.spec.At(i - b.start).Unmap())
}

// target returns the Target for the address a of b, already unmapped.
func (b *block) target(a netip.Addr) Target {
	if b.name != "" && a == b.named {
		return Target{Addr: a, Name: b.name}
	}
	return Target{Addr: a}
}

// Excluded reports whether a is covered by an exclusion, however either
// is spelled: zones are ignored, and an IPv4-mapped IPv6 address
// (::ffff:10.0.0.1) is the IPv4 address it maps (10.0.0.1), for the
// exclusions as for a. It takes a binary search over the address and
// prefix exclusions plus one bitmap test per octet-range exclusion.
func (s *Set) Excluded(a netip.Addr) bool { return s.ex.contains(a) }

// All yields every target that is not excluded, in specification order.
// An IPv4-mapped IPv6 address comes out as the IPv4 address it maps, so
// that events carry one spelling of each address; an IPv6 zone is kept.
// A run of addresses inside one
// excluded interval is skipped at once rather than tested address by
// address.
func (s *Set) All() iter.Seq[Target] {
	return func(yield func(Target) bool) {
		for bi := range s.blocks {
			b := &s.blocks[bi]
			for j := uint64(0); j < b.n; j++ {
				a := b.spec.At(j).Unmap()
				if s.ex.empty() || !s.ex.contains(a) {
					if !yield(b.target(a)) {
						return
					}
					continue
				}
				if b.spec.kind == KindRange {
					continue
				}
				c := canonical(a)
				last, ok := s.ex.last(c)
				if !ok {
					continue
				}
				// c and last are of one family; an IPv4 interval met
				// inside an IPv6 block ends with the mapped block, so the
				// block's addresses stay consecutive over the skip.
				dhi, dlo := distance(c, last)
				if dhi != 0 || dlo >= b.n-j-1 {
					break
				}
				j += dlo
			}
		}
	}
}

// Specs returns the target specifications as given, in order.
func (s *Set) Specs() []string { return slices.Clone(s.specs) }

// ExcludeSpecs returns the exclusion specifications as given, in order.
func (s *Set) ExcludeSpecs() []string { return append([]string(nil), s.exSpecs...) }
