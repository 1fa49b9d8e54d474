// Package webhook is the generic JSON webhook sink: it POSTs each alert
// as notify.Payload, with an Idempotency-Key header, so any HTTP
// receiver can take Picket's alerts.
package webhook

import (
	"context"
	"net/http"

	"github.com/picketscan/picket/lib/notify"
)

// Options configure the webhook sink (its Name defaults to "webhook").
type Options = notify.HookOptions

// Sink posts alerts as JSON.
type Sink struct {
	opts   Options
	render *notify.Renderer
}

var _ notify.Sink = (*Sink)(nil)

// New returns a webhook sink.
func New(o Options) (*Sink, error) {
	o, r, err := o.Setup("webhook", notify.PlainTemplate, notify.StripControl)
	if err != nil {
		return nil, err
	}
	return &Sink{opts: o, render: r}, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

// Send posts the alert.
func (s *Sink) Send(ctx context.Context, a *notify.Alert) error {
	text, err := s.render.Render(a)
	if err != nil {
		return notify.Permanent(err)
	}
	body, err := notify.EncodePayload(a, text)
	if err != nil {
		return notify.Permanent(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", a.Key)
	h.Set("User-Agent", "picket-notify")
	return notify.Post(ctx, s.opts.Client, s.opts.Name, s.opts.URL, h, body, s.opts.Now)
}
