package notify

import (
	"html"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text that reaches a sink from the network (banners, host names, HTTP
// titles, certificate names) is hostile: it may try to ping a whole
// channel, forge a link, break out of an e-mail header or a syslog record,
// or drive the terminal of whoever reads a log. The functions here make
// such text inert for one target syntax each. Every one of them first
// strips terminal control sequences.

// StripControl removes terminal control sequences (ANSI CSI and OSC
// sequences, other ESC sequences) and every control character but tab and
// newline, and replaces invalid UTF-8. Carriage returns are dropped, so a
// line cannot overwrite itself on a terminal.
func StripControl(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
			i++
		case r == 0x1b:
			i = skipEscape(s, i+1)
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i+size)
		case r == 0x9d: // C1 OSC
			i = skipOSC(s, i+size)
		case r == '\t' || r == '\n':
			b.WriteRune(r)
			i += size
		case unicode.IsControl(r), r == 0x2028, r == 0x2029, isBidi(r):
			i += size
		default:
			b.WriteString(s[i : i+size])
			i += size
		}
	}
	return b.String()
}

// isBidi reports the Unicode bidirectional overrides and isolates, which
// can make a displayed line read differently from its bytes.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f || c >= 0x80 {
			return false
		}
	}
	return true
}

// skipEscape skips the rest of an escape sequence that began with ESC at
// i-1 and returns the index after it.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', '^', '_', 'X': // OSC, DCS, PM, APC: up to ST or BEL
		return skipOSC(s, i+1)
	}
	// Two-character sequences, possibly with intermediate bytes.
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipCSI skips parameter and intermediate bytes and the final byte.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipOSC skips to the string terminator (BEL, ESC \ or C1 ST).
func skipOSC(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
			return i + 2
		case strings.HasPrefix(s[i:], "\u009c"):
			return i + len("\u009c")
		}
		i++
	}
	return i
}

// OneLine strips control sequences and folds every line break and tab
// into a single space, for fields that must stay on one line (e-mail
// subjects, syslog messages, titles).
func OneLine(s string) string {
	s = StripControl(s)
	if !strings.ContainsAny(s, "\n\t") {
		return s
	}
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)), " ")
}

// zwsp is a zero-width space: inserted after a character, it stops chat
// clients from reading it as markup or a mention without changing what a
// reader sees.
const zwsp = "\u200b"

// breakMentions puts a zero-width space after "@" when it starts a word,
// so @everyone, @here and @channel stay text.
func breakMentions(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return strings.ReplaceAll(s, "@", "@"+zwsp)
}

// Slack escapes text for a Slack mrkdwn field. Slack reads &, < and > as
// the start of entities, links (<http://…|text>) and mentions (<!channel>,
// <@U123>), so they become entities; the formatting characters * _ ~ `
// are followed by a zero-width space so that they do not pair up.
func Slack(s string) string {
	s = StripControl(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '*', '_', '~', '`':
			b.WriteRune(r)
			b.WriteString(zwsp)
		case '@':
			b.WriteString("@" + zwsp)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SlackPlain prepares text for a Slack plain_text field (a header
// block). Slack reads no markup there; as a second guard, "<" and "@" are
// followed by a zero-width space, so nothing in it can form a mention
// even if that changed.
func SlackPlain(s string) string {
	s = OneLine(s)
	if !strings.ContainsAny(s, "<@") {
		return s
	}
	return strings.NewReplacer("<", "<"+zwsp, "@", "@"+zwsp).Replace(s)
}

// Discord escapes text for Discord Markdown (message content and embed
// descriptions): Markdown characters get a backslash, so **bold**, masked
// links [x](y), <@id> mentions and headings stay text, and @everyone and
// @here are broken with a zero-width space. The sink also sends
// allowed_mentions with nothing allowed, a second guard.
func Discord(s string) string {
	return markdownEscape(breakMentions(StripControl(s)), discordMarkdown)
}

// Characters Markdown dialects treat as syntax.
const (
	discordMarkdown = "\\*_~`|>[]()#<"
	teamsMarkdown   = "\\*_~`|[]()#"
)

// markdownEscape puts a backslash before every character Markdown
// dialects treat as syntax.
func markdownEscape(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Teams escapes text for a Microsoft Teams card: Markdown characters get
// a backslash, then HTML special characters become entities (Teams
// renders some HTML, and <at> is its mention tag).
func Teams(s string) string {
	return html.EscapeString(markdownEscape(StripControl(s), teamsMarkdown))
}

// HTML escapes text for an HTML e-mail part.
func HTML(s string) string { return html.EscapeString(StripControl(s)) }

// Header makes s safe as the value of an e-mail header: line breaks
// become spaces, so no header can be injected, and non-ASCII text is
// encoded as an RFC 2047 encoded word.
func Header(s string) string {
	s = OneLine(s)
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}

// Syslog makes s safe as the MSG part of a syslog record: one line, no
// control characters.
func Syslog(s string) string { return OneLine(s) }
