package notify

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/picketscan/picket/lib/event"
)

// View is what a message template sees: the alert with every string that
// came from the network already escaped for the sink's syntax.
type View struct {
	// Title is a one-line summary: "3 changes on 10.0.0.0/24" or
	// "port-opened 10.0.0.7:8080/tcp".
	Title      string
	Key        string
	ScanID     string
	Digest     bool
	Incomplete bool
	// Severity is the most urgent severity of the changes.
	Severity string
	// Count is the number of changes; Shown of them are listed in Hosts
	// and Omitted are not (digest mode caps the list).
	Count, Shown, Omitted int
	Hosts                 []HostView
}

// HostView is one host's changes.
type HostView struct {
	IP, Hostname string
	Changes      []ChangeView
}

// ChangeView is one change.
type ChangeView struct {
	Kind, Severity, IP, Hostname, Proto, Rule, FirstSeen string
	Port                                                 int
	// Where is "ip:port/proto", or the ip alone for a host change.
	Where string
	// Before and After describe the two sides ("open ssh OpenSSH 9.2p1").
	Before, After string
	// Text is a one-line description: the change's summary when it has
	// one, else kind, port and service.
	Text string
}

// Renderer renders alerts through a text/template with a given escaping.
type Renderer struct {
	tmpl *template.Template
	esc  func(string) string
	max  int
}

// NewRenderer compiles tmpl (text/template over a View). esc escapes
// strings from the network for the target syntax; max caps the changes
// listed (0: no cap).
func NewRenderer(name, tmpl string, esc func(string) string, max int) (*Renderer, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	if esc == nil {
		esc = StripControl
	}
	return &Renderer{tmpl: t, esc: esc, max: max}, nil
}

// Render executes the template for a.
func (r *Renderer) Render(a *Alert) (string, error) {
	var b strings.Builder
	if err := r.tmpl.Execute(&b, r.View(a)); err != nil {
		return "", fmt.Errorf("render alert %s: %w", a.Key, err)
	}
	return b.String(), nil
}

// View builds the escaped view of a.
func (r *Renderer) View(a *Alert) View {
	items := a.Items()
	if a.Digest {
		sortByHost(items)
	}
	v := View{
		Title:      r.esc(Title(a)),
		Key:        r.esc(a.Key),
		ScanID:     r.esc(a.ScanID),
		Digest:     a.Digest,
		Incomplete: a.Incomplete,
		Severity:   r.esc(a.Severity()),
		Count:      len(items),
	}
	for i, it := range items {
		if r.max > 0 && i >= r.max {
			v.Omitted = len(items) - i
			break
		}
		cv := r.change(it)
		if n := len(v.Hosts); n == 0 || v.Hosts[n-1].IP != cv.IP {
			v.Hosts = append(v.Hosts, HostView{IP: cv.IP, Hostname: cv.Hostname})
		}
		h := &v.Hosts[len(v.Hosts)-1]
		h.Changes = append(h.Changes, cv)
		v.Shown++
	}
	return v
}

func (r *Renderer) change(it Item) ChangeView {
	cv := ChangeView{
		Kind:      r.esc(OneLine(it.Kind)),
		Severity:  r.esc(OneLine(it.Severity)),
		IP:        r.esc(OneLine(it.IP)),
		Hostname:  r.esc(OneLine(it.Hostname)),
		Proto:     r.esc(OneLine(it.Proto)),
		Rule:      r.esc(OneLine(it.Rule)),
		FirstSeen: r.esc(OneLine(it.FirstSeen)),
		Port:      int(it.Port),
		Where:     r.esc(OneLine(where(it))),
		Before:    r.esc(OneLine(observed(it.Before))),
		After:     r.esc(OneLine(observed(it.After))),
		Text:      r.esc(OneLine(describe(it))),
	}
	return cv
}

func where(it Item) string {
	if it.Port == 0 {
		return it.IP
	}
	return it.IP + ":" + strconv.Itoa(int(it.Port)) + "/" + it.Proto
}

func portProto(it Item) string {
	if it.Port == 0 {
		return ""
	}
	return strconv.Itoa(int(it.Port)) + "/" + it.Proto
}

func observed(o *event.Observed) string {
	if o == nil {
		return ""
	}
	parts := []string{o.State}
	if s := o.Service; s != nil {
		parts = append(parts, s.Name, s.Product, s.Version, s.ExtraInfo)
	}
	return joinNonEmpty(parts)
}

func joinNonEmpty(parts []string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// describe is a change's one-line text without its address: the summary
// ndiff wrote, or kind, port and what is there now.
func describe(it Item) string {
	if it.Summary != "" {
		return it.Summary
	}
	side := observed(it.After)
	if side == "" {
		side = observed(it.Before)
	}
	text := joinNonEmpty([]string{it.Kind, portProto(it), side})
	if it.Rule != "" {
		text += " (rule " + it.Rule + ")"
	}
	return text
}

// Title is the alert's one-line title, unescaped but free of control
// characters: "3 changes on 10.0.0.0/24" for a digest,
// "port-opened 10.0.0.7:8080/tcp" for one change.
func Title(a *Alert) string {
	items := a.Items()
	var t string
	if a.Digest || len(items) != 1 {
		noun := "changes"
		if len(items) == 1 {
			noun = "change"
		}
		t = fmt.Sprintf("%d %s", len(items), noun)
		if a.Scope != "" {
			t += " on " + a.Scope
		}
		if a.Incomplete {
			t += " (scan incomplete)"
		}
	} else {
		it := items[0]
		t = joinNonEmpty([]string{it.Kind, where(it)})
		if it.Hostname != "" {
			t += " (" + it.Hostname + ")"
		}
	}
	return OneLine(t)
}

// Default templates, one per target syntax. Sinks pick one; --template
// replaces it.
const (
	// PlainTemplate is plain text, for e-mail, files and webhooks.
	PlainTemplate = `{{.Title}}
{{range .Hosts}}
{{.IP}}{{if .Hostname}} ({{.Hostname}}){{end}}
{{range .Changes}}  [{{.Severity}}] {{.Text}}
{{end}}{{end}}{{if .Omitted}}
{{.Omitted}} more not shown
{{end}}{{if .ScanID}}
scan {{.ScanID}}
{{end}}`

	// MarkdownTemplate is for Slack mrkdwn, Discord and Teams Markdown;
	// the view's strings are already escaped for the one in use.
	MarkdownTemplate = `{{range .Hosts}}*{{.IP}}*{{if .Hostname}} ({{.Hostname}}){{end}}
{{range .Changes}}• {{.Severity}}: {{.Text}}
{{end}}
{{end}}{{if .Omitted}}_{{.Omitted}} more not shown_
{{end}}`
)

// Chunks splits text at line ends into pieces of at most max bytes (a
// longer line is cut at a rune boundary), for receivers that limit the
// size of one block of text. Empty pieces are dropped.
func Chunks(text string, max int) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimRight(cur.String(), "\n"); strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for line := range strings.SplitAfterSeq(text, "\n") {
		for len(line) > max {
			cut := max
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			if cut == 0 {
				cut = max
			}
			flush()
			out = append(out, line[:cut])
			line = line[cut:]
		}
		if cur.Len()+len(line) > max {
			flush()
		}
		cur.WriteString(line)
	}
	flush()
	return out
}

// Truncate cuts s to at most max bytes at a rune boundary, ending in "…"
// when cut.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
