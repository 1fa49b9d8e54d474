// Package slack is the Slack incoming-webhook sink: a header block with
// the alert's title, mrkdwn sections listing the changes by host, and a
// context line with the scan id. Everything that came from the network is
// escaped with notify.Slack, so a banner cannot mention a channel, forge
// a link or break the formatting.
package slack

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure the slack sink (its Name defaults to "slack").
type Options = notify.HookOptions

// Sink posts alerts to a Slack incoming webhook.
type Sink struct {
	opts   Options
	render *notify.Renderer
}

var _ notify.Sink = (*Sink)(nil)

// Slack's limits: 3000 characters in a section, 150 in a header, 50
// blocks in a message.
const (
	maxSection = 2900
	maxHeader  = 150
	maxBlocks  = 48
)

// New returns a Slack sink.
func New(o Options) (*Sink, error) {
	o, r, err := o.Setup("slack", notify.MarkdownTemplate, notify.Slack)
	if err != nil {
		return nil, err
	}
	return &Sink{opts: o, render: r}, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

type text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type block struct {
	Type     string `json:"type"`
	Text     *text  `json:"text,omitempty"`
	Elements []text `json:"elements,omitempty"`
}

type message struct {
	Text        string  `json:"text"`
	Blocks      []block `json:"blocks"`
	UnfurlLinks bool    `json:"unfurl_links"`
	UnfurlMedia bool    `json:"unfurl_media"`
}

// Message builds the Slack message for a.
func (s *Sink) Message(a *notify.Alert) ([]byte, error) {
	body, err := s.render.Render(a)
	if err != nil {
		return nil, err
	}
	title := notify.Title(a)
	m := message{Text: notify.Slack(title)}
	// A header is plain_text: Slack reads no mentions or links in it.
	m.Blocks = append(m.Blocks, block{Type: "header", Text: &text{Type: "plain_text", Text: notify.Truncate(notify.SlackPlain(title), maxHeader)}})
	chunks := notify.Chunks(body, maxSection)
	for i, c := range chunks {
		if i == maxBlocks-1 && len(chunks) > maxBlocks {
			c = "_message cut: too long for Slack_"
		}
		m.Blocks = append(m.Blocks, block{Type: "section", Text: &text{Type: "mrkdwn", Text: c}})
		if i == maxBlocks-1 {
			break
		}
	}
	if a.ScanID != "" {
		m.Blocks = append(m.Blocks, block{Type: "context", Elements: []text{{Type: "mrkdwn", Text: "scan " + notify.Slack(a.ScanID)}}})
	}
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
