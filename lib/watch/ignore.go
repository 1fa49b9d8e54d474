package watch

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// DefaultIgnores are the patterns ignored unless Config.NoDefaultIgnores
// is set: editors' swap, backup and lock files, and version-control
// folders. Vim's "4913" is the file it creates to test whether a folder
// is writable before saving.
var DefaultIgnores = []string{
	"*.swp", "*.swo", "*.swx", "*.swpx", ".*.sw?",
	"*~", ".#*", `\#*#`, "4913", "*.kate-swp", ".*.kate-swp",
	".git/", ".hg/", ".svn/",
}

// maxPatternLen bounds one pattern, and maxSegments the segments in it,
// so that a hostile ignore file cannot make matching slow.
const (
	maxPatternLen = 4096
	maxSegments   = 64
)

// Rule is one pattern of a .gitignore-style list.
type Rule struct {
	// Negate re-includes what an earlier rule ignored ("!pattern").
	Negate bool
	// DirOnly matches folders only (a pattern that ends in "/").
	DirOnly bool
	// segments are the pattern's path segments; "**" matches any number
	// of segments. An unanchored pattern (no "/" but a trailing one)
	// starts with "**", so it matches at any depth.
	segments []string
	text     string
}

// String returns the pattern as written.
func (r Rule) String() string { return r.text }

// ParsePattern parses one .gitignore-style pattern. It returns ok false
// for a blank line or a comment.
func ParsePattern(line string) (r Rule, ok bool, err error) {
	if len(line) > maxPatternLen {
		return Rule{}, false, fmt.Errorf("pattern longer than %d bytes", maxPatternLen)
	}
	line = strings.TrimSuffix(line, "\r")
	// Trailing spaces are dropped unless escaped with a backslash.
	for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, `\ `) {
		line = line[:len(line)-1]
	}
	if line == "" || line[0] == '#' {
		return Rule{}, false, nil
	}
	text := line
	switch {
	case line[0] == '!':
		r.Negate = true
		line = line[1:]
	case strings.HasPrefix(line, `\#`), strings.HasPrefix(line, `\!`):
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		r.DirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if line == "" {
		return Rule{}, false, fmt.Errorf("pattern %q matches nothing", text)
	}
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	var segs []string
	if !anchored {
		segs = append(segs, "**")
	}
	for _, s := range strings.Split(line, "/") {
		if s == "" {
			continue // "a//b" reads as "a/b"
		}
		if s == "**" && len(segs) > 0 && segs[len(segs)-1] == "**" {
			continue // "**/**" is "**"
		}
		if _, err := path.Match(s, ""); err != nil {
			return Rule{}, false, fmt.Errorf("bad pattern %q", text)
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return Rule{}, false, fmt.Errorf("pattern %q matches nothing", text)
	}
	if len(segs) > maxSegments {
		return Rule{}, false, fmt.Errorf("pattern %q has more than %d segments", text, maxSegments)
	}
	r.segments = segs
	r.text = text
	return r, true, nil
}

// ParseIgnore parses a .gitignore-style file: one pattern a line, "#"
// comments, "!" to re-include, a trailing "/" for folders only, a "/"
// elsewhere to anchor the pattern to the file's folder, "*", "?", "[…]"
// and "**". name is used in errors, which say "name:line: reason".
func ParseIgnore(name string, data []byte) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPatternLen+2)
	n := 0
	for sc.Scan() {
		n++
		r, ok, err := ParsePattern(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if ok {
			rules = append(rules, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return rules, nil
}

// Match reports whether the rule matches rel, a slash-separated path
// relative to the folder the rule belongs to. isDir says whether rel
// names a folder.
func (r Rule) Match(rel string, isDir bool) bool {
	if r.DirOnly && !isDir {
		return false
	}
	if rel == "" || rel == "." {
		return false
	}
	return r.matchSplit(strings.Split(rel, "/"), isDir)
}

// matchSplit is Match on a path already split into segments.
func (r Rule) matchSplit(segs []string, isDir bool) bool {
	if r.DirOnly && !isDir {
		return false
	}
	if len(r.segments) == 2 && r.segments[0] == "**" && r.segments[1] != "**" {
		// The common unanchored "*.swp": only the last segment counts.
		ok, _ := path.Match(r.segments[1], segs[len(segs)-1])
		return ok
	}
	return matchSegments(r.segments, segs)
}

func matchSegments(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				// A trailing "**" matches what is inside, not the
				// folder itself.
				return len(segs) > 0
			}
			for i := 0; i <= len(segs); i++ {
				if matchSegments(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// Ruleset is a list of rules that apply below one folder, as a
// .gitignore applies below the folder it sits in.
type Ruleset struct {
	// Base is the absolute folder the rules' paths are relative to; "/"
	// for rules that apply everywhere.
	Base  string
	Rules []Rule
}

// decide applies the rules to abs and returns whether the last rule that
// matched ignores it (matched false when no rule matched).
func (rs Ruleset) decide(abs string, isDir bool) (ignored, matched bool) {
	rel, ok := relativeTo(rs.Base, abs)
	if !ok {
		return false, false
	}
	segs := strings.Split(rel, "/")
	for _, r := range rs.Rules {
		if r.matchSplit(segs, isDir) {
			ignored, matched = !r.Negate, true
		}
	}
	return ignored, matched
}

// relativeTo returns abs relative to base with forward slashes, and
// false when abs is not below base.
func relativeTo(base, abs string) (string, bool) {
	rel, err := filepath.Rel(base, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Filter decides which paths may trigger a run. A path is ignored when the
// last ignore rule that matches it (over all rulesets, in order) is not a
// negation, or when a folder between the watched root and the path is
// ignored; when include rulesets are given (--glob), a file must also
// match one of them.
type Filter struct {
	Ignore  []Ruleset
	Include []Ruleset
}

// Ignored reports whether abs, below the watched folder root, is ignored
// as a folder (isDir) or a file. Include patterns do not apply to it.
func (f *Filter) Ignored(root, abs string, isDir bool) bool {
	// A path inside an ignored folder is ignored, whatever later rules
	// say of the path itself, as with git.
	rel, ok := relativeTo(root, abs)
	if !ok {
		return f.ignoredSelf(abs, isDir)
	}
	dir := root
	parts := strings.Split(rel, "/")
	for _, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		if f.ignoredSelf(dir, true) {
			return true
		}
	}
	return f.ignoredSelf(abs, isDir)
}

func (f *Filter) ignoredSelf(abs string, isDir bool) bool {
	ignored := false
	for _, rs := range f.Ignore {
		if ig, matched := rs.decide(abs, isDir); matched {
			ignored = ig
		}
	}
	return ignored
}

// Included reports whether abs passes the include patterns: always when
// there are none, otherwise when the last matching rule of some include
// ruleset is not a negation.
func (f *Filter) Included(abs string, isDir bool) bool {
	if len(f.Include) == 0 {
		return true
	}
	for _, rs := range f.Include {
		if in, matched := rs.decide(abs, isDir); matched && in {
			return true
		}
	}
	return false
}

// Triggers reports whether a change of abs, below the watched folder
// root, should trigger a run.
func (f *Filter) Triggers(root, abs string, isDir bool) bool {
	return !f.Ignored(root, abs, isDir) && f.Included(abs, isDir)
}
