package notify

import (
	"errors"
	"net/http"
	"time"
)

// HookOptions configure a sink that posts to a webhook URL (webhook,
// slack, discord, teams); each of those packages names it Options.
type HookOptions struct {
	Name string // default: the sink's kind
	URL  string // the webhook URL: a secret, never shown
	// Template replaces the sink's default text template.
	Template  string
	DigestMax int
	Client    *http.Client // default: a client without a global timeout
	Now       func() time.Time
}

// Setup checks o for a sink of the given kind, fills in its defaults and
// compiles its template (defaultTemplate unless o.Template is set), with
// esc escaping what comes from the network for the sink's syntax.
func (o HookOptions) Setup(kind, defaultTemplate string, esc func(string) string) (HookOptions, *Renderer, error) {
	if o.URL == "" {
		return o, nil, errors.New(kind + ": no webhook URL")
	}
	if o.Name == "" {
		o.Name = kind
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	tmpl := defaultTemplate
	if o.Template != "" {
		tmpl = o.Template
	}
	r, err := NewRenderer(o.Name, tmpl, esc, o.DigestMax)
	return o, r, err
}
