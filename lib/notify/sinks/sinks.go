// Package sinks lists Picket's notify sinks in one table and builds them
// from a Spec, which comes from command-line flags or a config file. It
// resolves secrets (webhook URLs, SMTP passwords) from files and
// environment variables through the functions its caller passes in, and
// never puts a secret in an error.
package sinks

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/template"
	"time"

	"golang.org/x/time/rate"

	"github.com/picketscan/picket/lib/notify"
	"github.com/picketscan/picket/lib/notify/discord"
	"github.com/picketscan/picket/lib/notify/exec"
	"github.com/picketscan/picket/lib/notify/file"
	"github.com/picketscan/picket/lib/notify/slack"
	"github.com/picketscan/picket/lib/notify/smtp"
	"github.com/picketscan/picket/lib/notify/syslog"
	"github.com/picketscan/picket/lib/notify/teams"
	"github.com/picketscan/picket/lib/notify/webhook"
)

// Spec describes one sink. Which fields apply depends on Type; see the
// table in Types.
type Spec struct {
	// Type is a name from the table: webhook, slack, discord, teams,
	// smtp, syslog, exec or file.
	Type string `json:"type"`
	// Name identifies the sink in logs and in the spool (default: the
	// type). Two sinks need two names.
	Name string `json:"name,omitempty"`
	// Where is this sink's own filter, on top of the global --where.
	Where string `json:"where,omitempty"`

	// URL of a webhook, or the name of an environment variable or a
	// file that holds it (the URL carries the webhook's secret token).
	URL     string `json:"url,omitempty"`
	URLEnv  string `json:"url_env,omitempty"`
	URLFile string `json:"url_file,omitempty"`

	// Path of the file sink.
	Path string `json:"path,omitempty"`
	// Command of the exec sink: the program and its arguments.
	Command []string `json:"command,omitempty"`

	// Addr is the SMTP server (host:port) or the syslog address
	// (udp://host:port, tcp://host:port, unix:///path).
	Addr string `json:"addr,omitempty"`
	// TLS is the SMTP TLS mode: starttls (default), tls or none.
	TLS string `json:"tls,omitempty"`
	// CAFile holds extra PEM roots to trust for the SMTP server.
	CAFile       string   `json:"ca_file,omitempty"`
	Username     string   `json:"username,omitempty"`
	PasswordEnv  string   `json:"password_env,omitempty"`
	PasswordFile string   `json:"password_file,omitempty"`
	Auth         string   `json:"auth,omitempty"`
	From         string   `json:"from,omitempty"`
	To           []string `json:"to,omitempty"`
	// Facility is the syslog facility number (default 3, daemon).
	Facility int `json:"facility,omitempty"`

	// Template is the path of a text/template file for the message text.
	Template string `json:"template,omitempty"`
	// Timeout bounds one attempt, as a Go duration ("10s").
	Timeout string `json:"timeout,omitempty"`
	// Rate and Burst limit the messages per second to this sink (0: the
	// sink's default).
	Rate  float64 `json:"rate,omitempty"`
	Burst int     `json:"burst,omitempty"`
}

// Env is what building a sink needs from outside the library.
type Env struct {
	// Getenv and ReadFile resolve secrets and templates.
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	// Template is the content of the global --template file, used by
	// sinks without a template of their own ("" for the defaults).
	Template string
	// TemplateName names the --template file in errors.
	TemplateName string
	DigestMax    int
	// Timeout is the default per-attempt timeout.
	Timeout  time.Duration
	Hostname string
	Now      func() time.Time
	// HTTPClient is shared by the HTTP sinks (nil: a new client).
	HTTPClient *http.Client
}

// Type is one row of the sink table.
type Type struct {
	Name string
	// Doc says what the sink sends, for --help and the README.
	Doc string
	// Rate and Burst are the default rate limit (0: none), below the
	// receiver's documented limits.
	Rate  float64
	Burst int
	build func(Spec, Env, string) (notify.Sink, error)
}

// Types is the sink table.
func Types() []Type {
	return []Type{
		{Name: "webhook", Doc: "POST the alert as JSON, with an Idempotency-Key header", build: buildWebhook},
		{Name: "slack", Doc: "Slack incoming webhook: header, mrkdwn sections, context", Rate: 1, Burst: 1, build: buildSlack},
		{Name: "discord", Doc: "Discord webhook: one embed, mentions disabled", Rate: 2, Burst: 5, build: buildDiscord},
		{Name: "teams", Doc: "Microsoft Teams workflow webhook: an Adaptive Card", Rate: 2, Burst: 4, build: buildTeams},
		{Name: "smtp", Doc: "e-mail: text and HTML, STARTTLS or TLS, AUTH PLAIN/LOGIN", build: buildSMTP},
		{Name: "syslog", Doc: "RFC 5424 records over UDP, TCP (octet counting) or a unix socket", build: buildSyslog},
		{Name: "exec", Doc: "run a command with the alert's JSON on stdin (no shell)", build: buildExec},
		{Name: "file", Doc: "append the alert's JSON as one NDJSON line, fsynced", build: buildFile},
	}
}

// Build makes the route for spec: the sink, its filter, timeout and rate
// limit.
func Build(spec Spec, env Env) (notify.Route, error) {
	var t *Type
	for _, row := range Types() {
		if row.Name == spec.Type {
			t = &row
			break
		}
	}
	if t == nil {
		return notify.Route{}, fmt.Errorf("sink %w", knownType(spec.Type))
	}
	if spec.Name == "" {
		spec.Name = spec.Type
	}
	tmpl, tmplName := env.Template, env.TemplateName
	if spec.Template != "" {
		data, err := env.ReadFile(spec.Template)
		if err != nil {
			return notify.Route{}, fmt.Errorf("sink %s: template: %w", spec.Name, err)
		}
		tmpl, tmplName = string(data), spec.Template
	}
	if tmpl != "" {
		// Parsed here under the file's name, so that a mistake is
		// reported as FILE:LINE; the sink parses it again for itself.
		if _, err := template.New(tmplName).Parse(tmpl); err != nil {
			return notify.Route{}, fmt.Errorf("sink %s: %w", spec.Name, err)
		}
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.HTTPClient == nil {
		env.HTTPClient = &http.Client{}
	}
	sink, err := t.build(spec, env, tmpl)
	if err != nil {
		return notify.Route{}, err
	}
	r := notify.Route{Sink: sink, Timeout: env.Timeout}
	if spec.Where != "" {
		if r.Filter, err = notify.ParseFilter(spec.Where); err != nil {
			return notify.Route{}, fmt.Errorf("sink %s: %w", spec.Name, err)
		}
	}
	if spec.Timeout != "" {
		if r.Timeout, err = time.ParseDuration(spec.Timeout); err != nil || r.Timeout <= 0 {
			return notify.Route{}, fmt.Errorf("sink %s: timeout %q: want a duration such as 10s", spec.Name, spec.Timeout)
		}
	}
	rps, burst := t.Rate, t.Burst
	if spec.Rate > 0 {
		rps, burst = spec.Rate, max(spec.Burst, 1)
	}
	if rps > 0 {
		r.Limit = rate.NewLimiter(rate.Limit(rps), max(burst, 1))
	}
	return r, nil
}

// knownType returns nil when name is a sink type of the table, else an
// error naming the types there are.
func knownType(name string) error {
	var names []string
	for _, row := range Types() {
		if row.Name == name {
			return nil
		}
		names = append(names, row.Name)
	}
	return fmt.Errorf("type %q: want one of %s", name, strings.Join(names, ", "))
}

// secret reads a secret from the first of: the value itself, a file, a
// named environment variable, the default environment variable. what
// names it in errors, which never include the value.
func secret(env Env, name, what, value, file, envName, defaultEnv string) (string, error) {
	switch {
	case value != "":
		return value, nil
	case file != "":
		data, err := env.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("sink %s: %s file: %w", name, what, err)
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("sink %s: %s file %s is empty", name, what, file)
		}
		return v, nil
	case envName != "":
		v := strings.TrimSpace(env.Getenv(envName))
		if v == "" {
			return "", fmt.Errorf("sink %s: %s: environment variable %s is not set", name, what, envName)
		}
		return v, nil
	case defaultEnv != "" && env.Getenv != nil && env.Getenv(defaultEnv) != "":
		return strings.TrimSpace(env.Getenv(defaultEnv)), nil
	}
	return "", nil
}

// DefaultURLEnv is the environment variable read for a webhook URL of
// the given sink type when no other source is named.
func DefaultURLEnv(typ string) string { return "PICKET_" + strings.ToUpper(typ) + "_URL" }

func webhookURL(s Spec, env Env) (string, error) {
	u, err := secret(env, s.Name, "URL", s.URL, s.URLFile, s.URLEnv, DefaultURLEnv(s.Type))
	if err != nil {
		return "", err
	}
	if u == "" {
		return "", fmt.Errorf("sink %s: no URL: give url, url_file or url_env, or set %s", s.Name, DefaultURLEnv(s.Type))
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "", fmt.Errorf("sink %s: URL %s: want http:// or https://", s.Name, notify.RedactURL(u))
	}
	return u, nil
}

func buildWebhook(s Spec, env Env, tmpl string) (notify.Sink, error) {
	u, err := webhookURL(s, env)
	if err != nil {
		return nil, err
	}
	return webhook.New(webhook.Options{Name: s.Name, URL: u, Template: tmpl, DigestMax: env.DigestMax, Client: env.HTTPClient, Now: env.Now})
}

func buildSlack(s Spec, env Env, tmpl string) (notify.Sink, error) {
	u, err := webhookURL(s, env)
	if err != nil {
		return nil, err
	}
	return slack.New(slack.Options{Name: s.Name, URL: u, Template: tmpl, DigestMax: env.DigestMax, Client: env.HTTPClient, Now: env.Now})
}

func buildDiscord(s Spec, env Env, tmpl string) (notify.Sink, error) {
	u, err := webhookURL(s, env)
	if err != nil {
		return nil, err
	}
	return discord.New(discord.Options{Name: s.Name, URL: u, Template: tmpl, DigestMax: env.DigestMax, Client: env.HTTPClient, Now: env.Now})
}

func buildTeams(s Spec, env Env, tmpl string) (notify.Sink, error) {
	u, err := webhookURL(s, env)
	if err != nil {
		return nil, err
	}
	return teams.New(teams.Options{Name: s.Name, URL: u, Template: tmpl, DigestMax: env.DigestMax, Client: env.HTTPClient, Now: env.Now})
}

func buildSMTP(s Spec, env Env, tmpl string) (notify.Sink, error) {
	pass, err := secret(env, s.Name, "password", "", s.PasswordFile, s.PasswordEnv, "PICKET_SMTP_PASSWORD")
	if err != nil {
		return nil, err
	}
	if s.Username != "" && pass == "" {
		return nil, fmt.Errorf("sink %s: user %s has no password: give password_file or password_env, or set PICKET_SMTP_PASSWORD", s.Name, s.Username)
	}
	if s.Username == "" {
		pass = ""
	}
	var tc *tls.Config
	if s.CAFile != "" {
		pem, err := env.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: CA file: %w", s.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink %s: CA file %s: no PEM certificates", s.Name, s.CAFile)
		}
		tc = &tls.Config{RootCAs: pool}
	}
	return smtp.New(smtp.Options{Name: s.Name, Addr: s.Addr, TLS: s.TLS, TLSConfig: tc, Username: s.Username, Password: pass,
		Auth: s.Auth, From: s.From, To: s.To, Template: tmpl, DigestMax: env.DigestMax, Now: env.Now})
}

func buildSyslog(s Spec, env Env, _ string) (notify.Sink, error) {
	network, addr, err := syslog.ParseAddr(s.Addr)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.Name, err)
	}
	return syslog.New(syslog.Options{Name: s.Name, Network: network, Addr: addr, Facility: s.Facility, Hostname: env.Hostname, Now: env.Now})
}

func buildExec(s Spec, env Env, tmpl string) (notify.Sink, error) {
	return exec.New(exec.Options{Name: s.Name, Argv: s.Command, Template: tmpl, DigestMax: env.DigestMax})
}

func buildFile(s Spec, env Env, tmpl string) (notify.Sink, error) {
	return file.New(file.Options{Name: s.Name, Path: s.Path, Template: tmpl, DigestMax: env.DigestMax})
}

// Config is the --config file: a JSON object with a list of sinks.
//
//	{"sinks": [
//	  {"type": "slack", "url_env": "SLACK_URL", "where": "severity==\"critical\""},
//	  {"type": "smtp", "addr": "mail.example.com:587", "username": "picket",
//	   "password_file": "/etc/picket/smtp.pass", "from": "picket@example.com",
//	   "to": ["ops@example.com"]},
//	  {"type": "file", "path": "/var/log/picket/alerts.ndjson"}
//	]}
type Config struct {
	Sinks []Spec `json:"sinks"`
}

// ParseConfig reads a config file's bytes. Unknown fields are errors, so
// a typo does not silently drop a setting.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return Config{}, fmt.Errorf("line %d: %w", line, err)
		}
		return Config{}, err
	}
	if dec.More() {
		return Config{}, errors.New("more than one JSON value")
	}
	if len(c.Sinks) == 0 {
		return Config{}, errors.New(`no sinks: want {"sinks": [...]}`)
	}
	for i, s := range c.Sinks {
		if s.Type == "" {
			return Config{}, fmt.Errorf("sink %d: no type", i+1)
		}
		if err := knownType(s.Type); err != nil {
			return Config{}, fmt.Errorf("sink %d: %w", i+1, err)
		}
	}
	return c, nil
}
