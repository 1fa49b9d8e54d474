package notify

import (
	"strings"
	"testing"
	"time"
)

func TestStripControl(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"red \x1b[31mALERT\x1b[0m", "red ALERT"},
		{"title \x1b]0;pwned\x07done", "title done"},
		{"osc st \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osc st link"},
		{"cr\roverwrite", "croverwrite"},
		{"bell\x07 nul\x00 del\x7f", "bell nul del"},
		{"c1 csi \u009b2J ok", "c1 csi  ok"},
		{"keep\ttab\nnewline", "keep\ttab\nnewline"},
		{"bidi \u202eevil\u202c", "bidi evil"},
		{"bad utf8 \xff!", "bad utf8 \ufffd!"},
		{"esc at end \x1b", "esc at end "},
		{"charset \x1b(B ok", "charset  ok"},
	}
	for _, tc := range tests {
		if got := StripControl(tc.in); got != tc.want {
			t.Errorf("StripControl(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// hostile is a banner a remote host could send.
const hostile = "<!channel> @everyone @here <@U123> <https://evil.example|click> *bold* _it_ ~s~ `code` [x](https://evil.example) <script>alert(1)</script> & \x1b[2J\r\nX-Injected: yes"

func TestEscapers(t *testing.T) {
	checks := []struct {
		name   string
		esc    func(string) string
		absent []string
	}{
		{"slack", Slack, []string{"<!channel>", "<@U123>", "<https://", "@everyone", "@here", "*bold*", "_it_", "`code`", "<script>", "\x1b", "\r"}},
		{"discord", Discord, []string{"@everyone", "@here", "<@U123>", "*bold*", "](https", "\x1b", "\r", "`code`"}},
		{"teams", Teams, []string{"<script>", "<!channel>", "<@U123>", "*bold*", "\x1b", "\r"}},
		{"html", HTML, []string{"<script>", "<!channel>", "\x1b", "\r"}},
		{"header", Header, []string{"\r", "\n", "\x1b"}},
		{"syslog", Syslog, []string{"\r", "\n", "\x1b"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			got := c.esc(hostile)
			for _, bad := range c.absent {
				if strings.Contains(got, bad) {
					t.Errorf("%s(hostile) = %q still contains %q", c.name, got, bad)
				}
			}
			// The words stay readable.
			for _, word := range []string{"channel", "everyone", "alert", "Injected"} {
				if !strings.Contains(got, word) {
					t.Errorf("%s(hostile) = %q lost %q", c.name, got, word)
				}
			}
		})
	}
	if got := Header("ünïcode\r\nBcc: x@example.com"); strings.ContainsAny(got, "\r\n") || !strings.HasPrefix(got, "=?utf-8?q?") {
		t.Errorf("Header = %q, want one encoded word", got)
	}
	if got := Slack("a & b < c"); got != "a &amp; b &lt; c" {
		t.Errorf("Slack = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	u := "https://hooks.slack.example/services/T000/B000/SECRETTOKEN?x=1"
	if got := RedactURL(u); strings.Contains(got, "SECRET") || got != "https://hooks.slack.example/…" {
		t.Errorf("RedactURL = %q", got)
	}
	if got := RedactURL("::nonsense SECRET"); strings.Contains(got, "SECRET") {
		t.Errorf("RedactURL = %q", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"-4", 0},
		{"NaN", 0},
		{"99999999", time.Hour},
		{"Fri, 27 Nov 2026 06:00:10 GMT", 10 * time.Second},
		{"Fri, 27 Nov 2026 05:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := ParseRetryAfter(tc.in, clock); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "1.5", "Fri, 27 Nov 2026 06:00:10 GMT", "inf", "-0", "1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseRetryAfter(s, time.Now)
		if d < 0 || d > time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v", s, d)
		}
	})
}

func FuzzStripControl(f *testing.F) {
	f.Add(hostile)
	f.Add("\x1b]0;x\x1b\\\u009b1m")
	f.Fuzz(func(t *testing.T, s string) {
		for _, esc := range []func(string) string{StripControl, Slack, Discord, Teams, Header, Syslog} {
			out := esc(s)
			if strings.ContainsAny(out, "\x1b\r\x00\u009b") {
				t.Fatalf("%q -> %q keeps a control character", s, out)
			}
		}
		if strings.ContainsAny(Header(s), "\n") || strings.ContainsAny(Syslog(s), "\n") {
			t.Fatalf("line break survives in %q", s)
		}
	})
}

func TestChunks(t *testing.T) {
	text := strings.Repeat("line of twenty chars\n", 10)
	cs := Chunks(text, 50)
	if len(cs) != 5 {
		t.Fatalf("got %d chunks: %q", len(cs), cs)
	}
	for _, c := range cs {
		if len(c) > 50 {
			t.Errorf("chunk of %d bytes", len(c))
		}
	}
	long := Chunks(strings.Repeat("é", 40), 25)
	for _, c := range long {
		if len(c) > 25 || !strings.HasPrefix(c, "é") {
			t.Errorf("bad cut %q", c)
		}
	}
	if got := Truncate("héllo world", 6); got != "hé…" {
		t.Errorf("Truncate = %q", got)
	}
}
