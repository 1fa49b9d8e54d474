// Package teams is the Microsoft Teams sink: it posts an Adaptive Card in
// the message envelope that Teams workflow webhooks take, with every
// string from the network escaped with notify.Teams (HTML entities and
// Markdown), so a banner can neither mention anyone nor inject markup.
package teams

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure the teams sink (its Name defaults to "teams").
type Options = notify.HookOptions

// Template is the default body: the Markdown subset of Adaptive Cards.
const Template = `{{range .Hosts}}**{{.IP}}**{{if .Hostname}} ({{.Hostname}}){{end}}

{{range .Changes}}- {{.Severity}}: {{.Text}}
{{end}}
{{end}}{{if .Omitted}}_{{.Omitted}} more not shown_
{{end}}`

// maxBody bounds the card's text; Teams refuses messages over 28 KB.
const maxBody = 20000

// Sink posts alerts to a Teams webhook.
type Sink struct {
	opts   Options
	render *notify.Renderer
}

var _ notify.Sink = (*Sink)(nil)

// New returns a Teams sink.
func New(o Options) (*Sink, error) {
	o, r, err := o.Setup("teams", Template, notify.Teams)
	if err != nil {
		return nil, err
	}
	return &Sink{opts: o, render: r}, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

type textBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Wrap     bool   `json:"wrap"`
	Size     string `json:"size,omitempty"`
	Weight   string `json:"weight,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
}

type card struct {
	Schema  string      `json:"$schema"`
	Type    string      `json:"type"`
	Version string      `json:"version"`
	Body    []textBlock `json:"body"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	Content     card   `json:"content"`
}

type message struct {
	Type        string       `json:"type"`
	Attachments []attachment `json:"attachments"`
}

// Message builds the Teams message for a.
func (s *Sink) Message(a *notify.Alert) ([]byte, error) {
	body, err := s.render.Render(a)
	if err != nil {
		return nil, err
	}
	blocks := []textBlock{{Type: "TextBlock", Text: notify.Teams(notify.Title(a)), Wrap: true, Size: "Large", Weight: "Bolder"}}
	if cs := notify.Chunks(body, maxBody); len(cs) > 0 {
		blocks = append(blocks, textBlock{Type: "TextBlock", Text: cs[0], Wrap: true})
	}
	if a.ScanID != "" {
		blocks = append(blocks, textBlock{Type: "TextBlock", Text: "scan " + notify.Teams(a.ScanID), Wrap: true, Size: "Small", IsSubtle: true})
	}
	m := message{Type: "message", Attachments: []attachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content:     card{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4", Body: blocks},
	}}}
	return json.Marshal(m)
}

// Send posts the alert.
func (s *Sink) Send(ctx context.Context, a *notify.Alert) error {
	body, err := s.Message(a)
	if err != nil {
		return notify.Permanent(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return notify.Post(ctx, s.opts.Client, s.opts.Name, s.opts.URL, h, body, s.opts.Now)
}
