package service_test

// Checks of the embedded probe file, picket-service-probes, that stand on
// their own: every line parses, every pattern compiles with Go's regexp,
// enough protocols are covered, and each pattern pulls the right product
// and version out of the banners that real daemons sent in the lab
// (testdata/banners, recorded with testdata/lab/capture.py).
//
// The reader here is deliberately small and separate from the engine's, so
// that the file is checked against the format itself and not only against
// one implementation of it.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/service"
)

const pfPath = "picket-service-probes"

// pfMatch is one match or softmatch line.
type pfMatch struct {
	line    int
	soft    bool
	service string
	re      *regexp.Regexp
	tmpl    map[string]string // "p", "v", "i", "h", "o", "d" -> template
	cpes    []string
}

// pfProbe is one Probe with its directives and match lines.
type pfProbe struct {
	line     int
	proto    string
	name     string
	payload  []byte
	ports    string
	sslports string
	rarity   int
	fallback []string
	matches  []pfMatch
}

var pfServiceName = regexp.MustCompile(`^[a-z][a-z0-9_./-]*$`)

// pfLoad reads the probe file and fails the test on any line it cannot
// take, naming the line.
func pfLoad(t *testing.T) []*pfProbe {
	t.Helper()
	f, err := os.Open(pfPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var probes []*pfProbe
	var cur *pfProbe
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if word != "Probe" && word != "Exclude" && cur == nil {
			t.Fatalf("%s:%d: %s before any Probe", pfPath, n, word)
		}
		switch word {
		case "Exclude":
		case "Probe":
			p, err := pfParseProbe(rest)
			if err != nil {
				t.Fatalf("%s:%d: %v", pfPath, n, err)
			}
			p.line = n
			probes = append(probes, p)
			cur = p
		case "match", "softmatch":
			m, err := pfParseMatch(rest)
			if err != nil {
				t.Fatalf("%s:%d: %v", pfPath, n, err)
			}
			m.line, m.soft = n, word == "softmatch"
			cur.matches = append(cur.matches, m)
		case "ports":
			cur.ports = rest
		case "sslports":
			cur.sslports = rest
		case "rarity":
			r, err := strconv.Atoi(rest)
			if err != nil || r < 1 || r > 9 {
				t.Fatalf("%s:%d: rarity %q is not 1-9", pfPath, n, rest)
			}
			cur.rarity = r
		case "totalwaitms", "tcpwrappedms":
			if v, err := strconv.Atoi(rest); err != nil || v <= 0 {
				t.Fatalf("%s:%d: %s %q is not a positive number", pfPath, n, word, rest)
			}
		case "fallback":
			cur.fallback = strings.Split(rest, ",")
		default:
			t.Fatalf("%s:%d: unknown directive %q", pfPath, n, word)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return probes
}

func pfParseProbe(rest string) (*pfProbe, error) {
	f := strings.SplitN(rest, " ", 3)
	if len(f) != 3 || (f[0] != "TCP" && f[0] != "UDP") {
		return nil, fmt.Errorf("want Probe TCP|UDP name q|payload|, got %q", rest)
	}
	q := f[2]
	if len(q) < 3 || q[0] != 'q' {
		return nil, fmt.Errorf("probe %s: payload does not start with q", f[1])
	}
	end := strings.IndexByte(q[2:], q[1])
	if end < 0 {
		return nil, fmt.Errorf("probe %s: payload not closed by %q", f[1], q[1])
	}
	payload, err := pfUnescape(q[2 : 2+end])
	if err != nil {
		return nil, fmt.Errorf("probe %s: %v", f[1], err)
	}
	return &pfProbe{proto: f[0], name: f[1], payload: payload}, nil
}

// pfUnescape decodes a probe payload: \0 \r \n \t \a \b \f \v \\ \xHH.
func pfUnescape(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("trailing backslash")
		}
		i++
		switch c := s[i]; c {
		case '0':
			b = append(b, 0)
		case 'r':
			b = append(b, '\r')
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'a':
			b = append(b, '\a')
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'v':
			b = append(b, '\v')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape %q", s[i-1:i+3])
			}
			b = append(b, byte(v))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return b, nil
}

// pfParseMatch parses "service m<d>pattern<d>[flags] templates...".
func pfParseMatch(rest string) (pfMatch, error) {
	var m pfMatch
	service, rest, ok := strings.Cut(rest, " ")
	if !ok || !pfServiceName.MatchString(service) {
		return m, fmt.Errorf("bad service name %q", service)
	}
	m.service = service
	if len(rest) < 3 || rest[0] != 'm' {
		return m, fmt.Errorf("pattern does not start with m")
	}
	d := rest[1]
	end := strings.IndexByte(rest[2:], d)
	if end < 0 {
		return m, fmt.Errorf("pattern not closed by %q", d)
	}
	pat := rest[2 : 2+end]
	rest = rest[2+end+1:]
	flags := ""
	for rest != "" && (rest[0] == 's' || rest[0] == 'i') {
		flags += rest[:1]
		rest = rest[1:]
	}
	if rest != "" && rest[0] != ' ' {
		return m, fmt.Errorf("unknown pattern flag %q", rest[:1])
	}
	if regexp.MustCompile(`\\0[0-9]`).MatchString(pat) {
		return m, fmt.Errorf("pattern has \\0 followed by a digit (ambiguous octal): %s", pat)
	}
	goPat := pat
	if flags != "" {
		goPat = "(?" + flags + ")" + pat
	}
	re, err := regexp.Compile(goPat)
	if err != nil {
		return m, fmt.Errorf("pattern does not compile with Go's regexp: %v", err)
	}
	m.re = re
	m.tmpl = map[string]string{}
	rest = strings.TrimLeft(rest, " ")
	for rest != "" {
		if strings.HasPrefix(rest, "cpe:") {
			if len(rest) < 5 {
				return m, fmt.Errorf("cut short cpe template")
			}
			d := rest[4]
			end := strings.IndexByte(rest[5:], d)
			if end < 0 {
				return m, fmt.Errorf("cpe template not closed by %q", d)
			}
			m.cpes = append(m.cpes, "cpe:/"+rest[5:5+end])
			rest = rest[5+end+1:]
			if rest != "" && rest[0] == 'a' {
				rest = rest[1:]
			}
		} else {
			k := rest[:1]
			if !strings.Contains("pvihod", k) || len(rest) < 3 {
				return m, fmt.Errorf("unknown template %q", rest)
			}
			d := rest[1]
			end := strings.IndexByte(rest[2:], d)
			if end < 0 {
				return m, fmt.Errorf("template %s not closed by %q", k, d)
			}
			if _, dup := m.tmpl[k]; dup {
				return m, fmt.Errorf("template %s given twice", k)
			}
			m.tmpl[k] = rest[2 : 2+end]
			rest = rest[2+end+1:]
		}
		if rest != "" && rest[0] != ' ' {
			return m, fmt.Errorf("templates must be separated by spaces near %q", rest)
		}
		rest = strings.TrimLeft(rest, " ")
	}
	// Every $N a template uses must be a group of the pattern.
	for k, v := range m.tmpl {
		for _, g := range regexp.MustCompile(`\$(?:P\(|I\()?(\d)`).FindAllStringSubmatch(v, -1) {
			if n, _ := strconv.Atoi(g[1]); n > re.NumSubexp() {
				return m, fmt.Errorf("template %s uses $%d but the pattern has %d groups", k, n, re.NumSubexp())
			}
		}
	}
	return m, nil
}

// pfLatin1 maps each byte to the rune of the same number, so that \xNN in
// a pattern matches the byte NN.
func pfLatin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// pfExpand fills a template's $N and $P(N) from the submatches.
func pfExpand(tmpl string, sub []string) string {
	var out strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '$' || i+1 >= len(tmpl) {
			out.WriteByte(c)
			continue
		}
		switch {
		case tmpl[i+1] >= '1' && tmpl[i+1] <= '9':
			n := int(tmpl[i+1] - '0')
			if n < len(sub) {
				out.WriteString(sub[n])
			}
			i++
		case strings.HasPrefix(tmpl[i+1:], "P(") && i+4 < len(tmpl) && tmpl[i+4] == ')':
			n := int(tmpl[i+3] - '0')
			if n < len(sub) {
				for _, r := range sub[n] {
					if r >= 0x20 && r < 0x7f {
						out.WriteRune(r)
					}
				}
			}
			i += 4
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}

type pfResult struct {
	service, product, version string
	line                      int
}

// pfIdentify runs a response through the matches of its probe and then of
// the probe's fallbacks, as Nmap does: the first hard match wins; a
// softmatch is kept in case nothing harder comes.
func pfIdentify(probes []*pfProbe, probe string, banner []byte) (pfResult, bool) {
	byName := map[string]*pfProbe{}
	for _, p := range probes {
		byName[p.name] = p
	}
	p := byName[probe]
	if p == nil {
		return pfResult{}, false
	}
	order := []*pfProbe{p}
	for _, fb := range p.fallback {
		if q := byName[fb]; q != nil {
			order = append(order, q)
		}
	}
	if p.proto == "TCP" && probe != "NULL" && !slices.Contains(p.fallback, "NULL") {
		order = append(order, byName["NULL"])
	}
	text := pfLatin1(banner)
	var soft *pfResult
	for _, q := range order {
		for _, m := range q.matches {
			sub := m.re.FindStringSubmatch(text)
			if sub == nil {
				continue
			}
			r := pfResult{service: m.service, product: pfExpand(m.tmpl["p"], sub), version: pfExpand(m.tmpl["v"], sub), line: m.line}
			if !m.soft {
				return r, true
			}
			if soft == nil {
				soft = &r
			}
		}
	}
	if soft != nil {
		return *soft, true
	}
	return pfResult{}, false
}

func TestProbeFileParses(t *testing.T) {
	probes := pfLoad(t)
	if probes[0].name != "NULL" || probes[0].proto != "TCP" || len(probes[0].payload) != 0 {
		t.Errorf("the first probe must be TCP NULL with an empty payload, got %s %s", probes[0].proto, probes[0].name)
	}
	names := map[string]bool{}
	services := map[string]bool{}
	total := 0
	for _, p := range probes {
		if names[p.proto+" "+p.name] {
			t.Errorf("%s:%d: probe %s %s defined twice", pfPath, p.line, p.proto, p.name)
		}
		names[p.proto+" "+p.name] = true
		for _, m := range p.matches {
			total++
			if !m.soft {
				services[m.service] = true
			}
		}
	}
	for _, p := range probes {
		for _, fb := range p.fallback {
			if !names[p.proto+" "+fb] {
				t.Errorf("%s:%d: probe %s falls back to %s, which is not a %s probe", pfPath, p.line, p.name, fb, p.proto)
			}
		}
		if p.name != "NULL" && p.ports == "" && p.rarity == 0 {
			t.Errorf("%s:%d: probe %s has neither ports nor rarity", pfPath, p.line, p.name)
		}
	}
	if len(services) < 40 {
		t.Errorf("hard matches name %d services, want at least 40: %v", len(services), slices.Sorted(func(yield func(string) bool) {
			for s := range services {
				if !yield(s) {
					return
				}
			}
		}))
	}
	t.Logf("%d probes, %d match lines, %d services with hard matches", len(probes), total, len(services))
}

// TestProbeFileBanners matches every recorded banner and checks the
// service, product and version that come out. testdata/banners/expect.tsv
// lists, for each recording <daemon>__<Probe>.bin, what a correct answer
// is; the recordings are the lab daemons' real replies to that probe.
func TestProbeFileBanners(t *testing.T) {
	probes := pfLoad(t)
	data, err := os.ReadFile(filepath.Join("testdata", "banners", "expect.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if i == 0 || strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("expect.tsv:%d: want 4 tab-separated fields, got %d", i+1, len(f))
		}
		file, service, product, version := f[0], f[1], f[2], f[3]
		seen[file] = true
		t.Run(strings.TrimSuffix(file, ".bin"), func(t *testing.T) {
			banner, err := os.ReadFile(filepath.Join("testdata", "banners", file))
			if err != nil {
				t.Fatal(err)
			}
			_, probe, ok := strings.Cut(strings.TrimSuffix(file, ".bin"), "__")
			if !ok {
				t.Fatalf("fixture %s is not named <daemon>__<Probe>.bin", file)
			}
			got, ok := pfIdentify(probes, probe, banner)
			if !ok {
				t.Fatalf("no match for %q", pfShow(banner))
			}
			if got.service != service || got.product != product || got.version != version {
				t.Errorf("line %d gave service %q product %q version %q, want %q %q %q\nbanner: %q",
					got.line, got.service, got.product, got.version, service, product, version, pfShow(banner))
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "banners", "*.bin"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("recording %s has no line in expect.tsv", filepath.Base(f))
		}
	}
}

func pfShow(b []byte) []byte {
	if len(b) > 300 {
		b = append(bytes.Clone(b[:300]), "..."...)
	}
	return b
}

// TestEmbeddedProbesThroughEngine loads the embedded file with the
// engine's own parser (strict, so any malformed line fails) and runs every
// recorded banner through the engine's matcher: both readers of the file
// must agree on what each banner is.
func TestEmbeddedProbesThroughEngine(t *testing.T) {
	set, err := service.Parse(pfPath, service.Embedded(), service.ParseOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if set.Stats.Skipped != 0 || set.Stats.Backtrack != 0 {
		t.Errorf("embedded file: %d lines skipped, %d patterns need the backtracking engine; want 0 and 0 (%v)",
			set.Stats.Skipped, set.Stats.Backtrack, set.Stats.Reasons)
	}
	probes := map[string]*service.Probe{}
	for _, p := range set.Probes {
		probes[p.Name] = p
	}
	m := service.NewMatcher(set)
	data, err := os.ReadFile(filepath.Join("testdata", "banners", "expect.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if i == 0 || line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		file, svc, product, version := f[0], f[1], f[2], f[3]
		_, name, _ := strings.Cut(strings.TrimSuffix(file, ".bin"), "__")
		p := probes[name]
		if p == nil {
			t.Errorf("%s: no probe %s in the embedded file", file, name)
			continue
		}
		banner, err := os.ReadFile(filepath.Join("testdata", "banners", file))
		if err != nil {
			t.Fatal(err)
		}
		hard, soft := m.Match(p, banner, "", 0)
		hit := hard
		if hit == nil {
			hit = soft
		}
		if hit == nil {
			t.Errorf("%s: the engine matched nothing", file)
			continue
		}
		if hit.Match.Service != svc || hit.Info.Product != product || hit.Info.Version != version {
			t.Errorf("%s: engine gave %q %q %q (%s), want %q %q %q", file,
				hit.Match.Service, hit.Info.Product, hit.Info.Version, hit.Match.Source, svc, product, version)
		}
	}
}
