package service

import "strings"

// MaxBanner is the largest banner an event carries, in bytes after
// escaping.
const MaxBanner = 2048

// EscapeBanner renders what a service sent as printable ASCII: bytes
// 0x20 to 0x7e stay (a backslash is doubled), \r \n \t are written so,
// and every other byte as \xNN. The result is cut at an escape boundary
// so that it is at most MaxBanner bytes.
func EscapeBanner(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		var piece string
		switch {
		case c == '\\':
			piece = `\\`
		case c == '\r':
			piece = `\r`
		case c == '\n':
			piece = `\n`
		case c == '\t':
			piece = `\t`
		case c >= 0x20 && c < 0x7f:
			piece = string(rune(c))
		default:
			piece = `\x` + hex2(c)
		}
		if sb.Len()+len(piece) > MaxBanner {
			break
		}
		sb.WriteString(piece)
	}
	return sb.String()
}
