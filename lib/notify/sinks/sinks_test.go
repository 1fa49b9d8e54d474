package sinks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testEnv(vars map[string]string) Env {
	return Env{Getenv: func(k string) string { return vars[k] }, ReadFile: os.ReadFile}
}

func TestBuildEveryType(t *testing.T) {
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	os.WriteFile(urlFile, []byte("https://hooks.example/T/B/FROMFILE\n"), 0o600)
	env := testEnv(map[string]string{"MY_URL": "https://hooks.example/FROMENV", "PICKET_TEAMS_URL": "https://teams.example/DEFAULT", "PICKET_SMTP_PASSWORD": "pw"})
	specs := []Spec{
		{Type: "webhook", URL: "http://127.0.0.1:9/x"},
		{Type: "slack", URLFile: urlFile, Where: `severity=="critical"`},
		{Type: "discord", URLEnv: "MY_URL", Timeout: "3s", Rate: 5, Burst: 2},
		{Type: "teams"},
		{Type: "smtp", Addr: "127.0.0.1:587", Username: "u", From: "a@example.com", To: []string{"b@example.com"}},
		{Type: "syslog", Addr: "udp://127.0.0.1:514"},
		{Type: "exec", Command: []string{"true"}},
		{Type: "file", Path: filepath.Join(dir, "a.ndjson")},
	}
	if len(specs) != len(Types()) {
		t.Fatalf("the test covers %d of %d types", len(specs), len(Types()))
	}
	for _, s := range specs {
		r, err := Build(s, env)
		if err != nil {
			t.Fatalf("%s: %v", s.Type, err)
		}
		if r.Sink.Name() != s.Type {
			t.Errorf("name %q", r.Sink.Name())
		}
		if (s.Where != "") != (r.Filter != nil) {
			t.Errorf("%s: filter %v", s.Type, r.Filter)
		}
		if s.Type == "slack" && (r.Limit == nil || r.Limit.Limit() != 1) {
			t.Errorf("slack: default rate limit %v", r.Limit)
		}
		if s.Type == "discord" && (r.Limit == nil || r.Limit.Limit() != 5 || r.Limit.Burst() != 2 || r.Timeout.Seconds() != 3) {
			t.Errorf("discord: limit %v timeout %v", r.Limit, r.Timeout)
		}
	}
}

func TestBuildErrorsKeepSecrets(t *testing.T) {
	env := testEnv(map[string]string{"BAD": "ftp://hooks.example/T/B/SECRETTOKEN"})
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Type: "nope"}, `sink type "nope"`},
		{Spec{Type: "slack"}, "no URL"},
		{Spec{Type: "slack", URLEnv: "UNSET"}, "environment variable UNSET is not set"},
		{Spec{Type: "slack", URLEnv: "BAD"}, "want http:// or https://"},
		{Spec{Type: "slack", URLFile: "/nonexistent/file"}, "URL file"},
		{Spec{Type: "smtp", Addr: "h:25", Username: "u", From: "a@b.c", To: []string{"d@e.f"}}, "has no password"},
		{Spec{Type: "syslog", Addr: "nowhere"}, "syslog address"},
		{Spec{Type: "webhook", URL: "https://x.example/a", Where: "port=="}, "where: column"},
		{Spec{Type: "webhook", URL: "https://x.example/a", Timeout: "soon"}, "timeout"},
		{Spec{Type: "exec"}, "no command"},
	}
	for _, tc := range tests {
		_, err := Build(tc.spec, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.spec, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "SECRETTOKEN") {
			t.Errorf("secret in error %q", err)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"sinks":[{"type":"slack","url_env":"S","where":"severity==\"critical\""},{"type":"file","name":"log","path":"/tmp/x"}]}`))
	if err != nil || len(c.Sinks) != 2 || c.Sinks[1].Name != "log" || c.Sinks[0].Where != `severity=="critical"` {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []struct{ in, want string }{
		{`{"sinks":[{"type":"slack","ulr":"x"}]}`, "unknown field"},
		{"{\"sinks\":[\n{\"type\":\"slack\",}]}", "line 2"},
		{`{"sinks":[]}`, "no sinks"},
		{`{"sinks":[{"name":"x"}]}`, "no type"},
		{`{"sinks":[{"type":"file"},{"type":"slak"}]}`, `sink 2: type "slak": want one of webhook, slack,`},
		{`{"sinks":[{"type":"file"}]} {}`, "more than one"},
	} {
		if _, err := ParseConfig([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err %v, want %q", bad.in, err, bad.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"sinks":[{"type":"slack","url_env":"S"}]}`))
	f.Add([]byte(`{"sinks":[{"type":"smtp","to":["a"],"facility":3,"rate":1.5}]}`))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err == nil && len(c.Sinks) == 0 {
			t.Fatal("a config without sinks accepted")
		}
		if err != nil && errors.Unwrap(err) == nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
