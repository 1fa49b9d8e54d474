package service

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxField bounds the length of one expanded version field, so a banner
// cannot grow an event without bound.
const maxField = 256

// Info is the version information a match yields once its template is
// expanded with the groups of the pattern.
type Info struct {
	Product, Version, Info, Hostname, OS, Device string
	CPE                                          []string
}

// Expand fills the template's references with groups (group 0 is the
// whole match): $1 to $9 insert a group, $P(n) its printable characters,
// $SUBST(n,"from","to") the group with every "from" replaced by "to", and
// $I(n,">") or $I(n,"<") the group read as an unsigned big- or
// little-endian integer. A reference to a group that did not take part
// expands to nothing. Control bytes and bytes that are not UTF-8 in the
// result are escaped as \xNN, and each field is cut to 256 bytes.
func (t Template) Expand(groups [][]byte) Info {
	info := Info{
		Product:  expand(t.Product, groups),
		Version:  expand(t.Version, groups),
		Info:     expand(t.Info, groups),
		Hostname: expand(t.Hostname, groups),
		OS:       expand(t.OS, groups),
		Device:   expand(t.Device, groups),
	}
	for _, c := range t.CPE {
		if v := expandCPE(c, groups); v != "" {
			info.CPE = append(info.CPE, v)
		}
	}
	return info
}

// expandCPE expands a cpe template ("a:openbsd:openssh:$1") into a CPE
// 2.2 name: lower case, spaces as underscores, with the "cpe:/" prefix.
func expandCPE(c string, groups [][]byte) string {
	v := expand(c, groups)
	if v == "" {
		return ""
	}
	v = strings.ToLower(strings.ReplaceAll(v, " ", "_"))
	return "cpe:/" + v
}

func expand(tmpl string, groups [][]byte) string {
	if tmpl == "" {
		return ""
	}
	var out []byte
	for i := 0; i < len(tmpl) && len(out) <= maxField; {
		c := tmpl[i]
		if c != '$' || i+1 >= len(tmpl) {
			out = append(out, c)
			i++
			continue
		}
		rest := tmpl[i+1:]
		switch {
		case rest[0] >= '0' && rest[0] <= '9':
			out = append(out, group(groups, int(rest[0]-'0'))...)
			i += 2
		case strings.HasPrefix(rest, "P("):
			n, args, used, ok := helperArgs(rest[1:])
			if !ok || len(args) != 0 {
				out = append(out, c)
				i++
				continue
			}
			for _, b := range group(groups, n) {
				if b >= 0x20 && b < 0x7f {
					out = append(out, b)
				}
			}
			i += 2 + used
		case strings.HasPrefix(rest, "SUBST("):
			n, args, used, ok := helperArgs(rest[5:])
			if !ok || len(args) != 2 {
				out = append(out, c)
				i++
				continue
			}
			g := group(groups, n)
			if args[0] != "" {
				g = bytes.ReplaceAll(g, []byte(args[0]), []byte(args[1]))
			}
			if len(g) > maxField {
				g = g[:maxField]
			}
			out = append(out, g...)
			i += 6 + used
		case strings.HasPrefix(rest, "I("):
			n, args, used, ok := helperArgs(rest[1:])
			if !ok || len(args) != 1 || (args[0] != ">" && args[0] != "<") {
				out = append(out, c)
				i++
				continue
			}
			g := group(groups, n)
			if len(g) > 0 && len(g) <= 8 {
				var v uint64
				for k := range g {
					b := g[k]
					if args[0] == "<" {
						b = g[len(g)-1-k]
					}
					v = v<<8 | uint64(b)
				}
				out = strconv.AppendUint(out, v, 10)
			}
			i += 2 + used
		default:
			out = append(out, c)
			i++
		}
	}
	return clean(out)
}

// group returns group n, or nil when there is no such group.
func group(groups [][]byte, n int) []byte {
	if n < 0 || n >= len(groups) {
		return nil
	}
	return groups[n]
}

// helperArgs parses "(n)" or `(n,"a","b")` at the start of s and returns
// the group number, the string arguments and the bytes consumed.
func helperArgs(s string) (n int, args []string, used int, ok bool) {
	if s == "" || s[0] != '(' {
		return 0, nil, 0, false
	}
	i := 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 3 {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 1 {
		return 0, nil, 0, false
	}
	for i < len(s) && s[i] == ',' {
		i++
		if i >= len(s) || s[i] != '"' {
			return 0, nil, 0, false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return 0, nil, 0, false
		}
		args = append(args, s[i+1:i+1+end])
		i += end + 2
	}
	if i >= len(s) || s[i] != ')' {
		return 0, nil, 0, false
	}
	return n, args, i + 1, true
}

// clean trims b to maxField bytes and escapes control bytes, backslashes
// are kept, and bytes that are not part of valid UTF-8 become \xNN.
func clean(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > maxField {
		b = b[:maxField]
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f:
			sb.WriteString(`\x`)
			sb.WriteString(hex2(b[0]))
			size = 1
		default:
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
