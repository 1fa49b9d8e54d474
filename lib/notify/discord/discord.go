// Package discord is the Discord webhook sink: one embed per alert, its
// title the alert's title and its description the changes by host, with
// allowed_mentions empty so nothing in it can ping anyone, and every
// string from the network escaped with notify.Discord.
package discord

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure the discord sink (its Name defaults to "discord").
type Options = notify.HookOptions

// Template is the default description: Discord Markdown.
const Template = `{{range .Hosts}}**{{.IP}}**{{if .Hostname}} ({{.Hostname}}){{end}}
{{range .Changes}}- {{.Severity}}: {{.Text}}
{{end}}
{{end}}{{if .Omitted}}*{{.Omitted}} more not shown*
{{end}}`

// Discord's limits: 256 characters in an embed title, 4096 in its
// description.
const (
	maxTitle       = 256
	maxDescription = 4000
)

// Sink posts alerts to a Discord webhook.
type Sink struct {
	opts   Options
	render *notify.Renderer
}

var _ notify.Sink = (*Sink)(nil)

// New returns a Discord sink.
func New(o Options) (*Sink, error) {
	o, r, err := o.Setup("discord", Template, notify.Discord)
	if err != nil {
		return nil, err
	}
	return &Sink{opts: o, render: r}, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

type embed struct {
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	Color       int     `json:"color"`
	Footer      *footer `json:"footer,omitempty"`
	Timestamp   string  `json:"timestamp,omitempty"`
}

type footer struct {
	Text string `json:"text"`
}

type message struct {
	Username        string          `json:"username"`
	Content         string          `json:"content"`
	Embeds          []embed         `json:"embeds"`
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

type allowedMentions struct {
	Parse []string `json:"parse"`
}

var colors = map[string]int{"critical": 0xd32f2f, "warning": 0xf9a825, "info": 0x1976d2}

// Message builds the Discord message for a.
func (s *Sink) Message(a *notify.Alert) ([]byte, error) {
	body, err := s.render.Render(a)
	if err != nil {
		return nil, err
	}
	desc := ""
	if cs := notify.Chunks(body, maxDescription); len(cs) > 0 {
		desc = cs[0]
		if len(cs) > 1 {
			desc += "\n*message cut: too long for Discord*"
		}
	}
	e := embed{
		Title:       notify.Truncate(notify.Discord(notify.Title(a)), maxTitle),
		Description: desc,
		Color:       colors[a.Severity()],
		Timestamp:   a.Created.UTC().Format(time.RFC3339),
	}
	if a.ScanID != "" {
		e.Footer = &footer{Text: "scan " + notify.OneLine(a.ScanID)}
	}
	return json.Marshal(message{Username: "picket", Embeds: []embed{e}, AllowedMentions: allowedMentions{Parse: []string{}}})
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
