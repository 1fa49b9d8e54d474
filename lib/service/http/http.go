// Package http reads what a web server's answer says about it: the status,
// the Server and X-Powered-By headers, the page title, and the product
// and version they name. Parsing is a pure function over the bytes
// received, which may be cut off anywhere.
package http

import (
	"bytes"
	"errors"
	"html"
	"strconv"
	"strings"
)

// maxTitle bounds the page title kept.
const maxTitle = 256

// ErrNotHTTP means the bytes do not start with an HTTP status line.
var ErrNotHTTP = errors.New("not an HTTP response")

// Response is what an HTTP answer tells.
type Response struct {
	// Proto is e.g. "HTTP/1.1"; Status is the status code.
	Proto  string
	Status int
	// Server and PoweredBy are the Server and X-Powered-By headers.
	Server, PoweredBy string
	// Title is the page's <title>, whitespace collapsed, entities decoded.
	Title string
}

// ParseResponse reads the status line, the headers it needs and the page
// title from the start of an HTTP answer.
func ParseResponse(b []byte) (*Response, error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	proto, after, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/")) || len(proto) > 16 {
		return nil, ErrNotHTTP
	}
	codeText, _, _ := bytes.Cut(after, []byte(" "))
	code, err := strconv.Atoi(string(codeText))
	if err != nil || code < 100 || code > 999 {
		return nil, ErrNotHTTP
	}
	r := &Response{Proto: string(proto), Status: code}
	body := []byte(nil)
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\n"))
		h = bytes.TrimSuffix(h, []byte("\r"))
		if len(h) == 0 {
			body = rest
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v := printable(bytes.TrimSpace(value))
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "server":
			r.Server = v
		case "x-powered-by":
			r.PoweredBy = v
		}
	}
	r.Title = Title(body)
	return r, nil
}

// Title returns the text of the first <title> element of page, or "".
func Title(page []byte) string {
	lower := asciiLower(page)
	i := bytes.Index(lower, []byte("<title"))
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(lower[i:], '>')
	if j < 0 {
		return ""
	}
	start := i + j + 1
	end := bytes.Index(lower[start:], []byte("</title"))
	if end < 0 {
		end = len(page) - start
	}
	t := html.UnescapeString(printable(page[start : start+end]))
	t = strings.Join(strings.Fields(t), " ")
	if len(t) > maxTitle {
		t = strings.ToValidUTF8(t[:maxTitle], "")
	}
	return t
}

// asciiLower lower-cases A to Z only, so that every index into the
// result is an index into b (bytes.ToLower may change the length of text
// that is not UTF-8).
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// printable keeps the text of b up to 512 bytes, dropping control bytes
// and invalid UTF-8.
func printable(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	s := strings.ToValidUTF8(string(b), "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// products maps the first token of a Server header (lower case) to the
// product name Nmap's probe file uses for it.
var products = map[string]string{
	"nginx":             "nginx",
	"apache":            "Apache httpd",
	"lighttpd":          "lighttpd",
	"microsoft-iis":     "Microsoft IIS httpd",
	"caddy":             "Caddy httpd",
	"openresty":         "OpenResty web app server",
	"gunicorn":          "Gunicorn",
	"jetty":             "Jetty",
	"cherokee":          "Cherokee httpd",
	"tornadoserver":     "Tornado httpd",
	"werkzeug":          "Werkzeug httpd",
	"simplehttp":        "SimpleHTTPServer",
	"python":            "Python",
	"minio":             "MinIO",
	"apache-coyote":     "Apache Tomcat",
	"boa":               "Boa HTTPd",
	"thttpd":            "thttpd",
	"mini_httpd":        "mini_httpd",
	"kestrel":           "Kestrel",
	"envoy":             "Envoy",
	"traefik":           "Traefik",
	"h2o":               "H2O",
	"litespeed":         "LiteSpeed httpd",
	"webfs":             "webfs httpd",
	"monkey":            "Monkey httpd",
	"hiawatha":          "Hiawatha",
	"yaws":              "Yaws httpd",
	"couchdb":           "CouchDB httpd",
	"cowboy":            "Cowboy httpd",
	"uvicorn":           "Uvicorn",
	"tengine":           "Tengine httpd",
	"openbsd httpd":     "OpenBSD httpd",
	"squid":             "Squid http proxy",
	"varnish":           "Varnish http accelerator",
	"haproxy":           "HAProxy http proxy",
	"golang":            "Golang net/http server",
	"go":                "Golang net/http server",
	"elasticsearch":     "Elasticsearch REST API",
	"webrick":           "WEBrick httpd",
	"mongoose":          "Mongoose httpd",
	"tomcat":            "Apache Tomcat",
	"zope":              "Zope httpd",
	"cloudflare":        "cloudflare",
	"awselb":            "Amazon Elastic Load Balancing",
	"gws":               "Google httpd",
	"ats":               "Apache Traffic Server",
	"microsoft-httpapi": "Microsoft HTTPAPI httpd",
}

// Product reads a Server header such as "nginx/1.22.1" or
// "Apache/2.4.57 (Debian)" into a product name in Nmap's spelling, the
// version, and extra information (the comment in parentheses). Servers it
// does not know keep their own name. An empty header gives empty results.
func Product(server string) (product, version, extra string) {
	server = strings.TrimSpace(server)
	if server == "" {
		return "", "", ""
	}
	first, rest, _ := strings.Cut(server, " ")
	name, ver, _ := strings.Cut(first, "/")
	if p, ok := products[strings.ToLower(name)]; ok {
		product = p
	} else {
		product = name
	}
	version = ver
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") {
		if end := strings.IndexByte(rest, ')'); end > 0 {
			extra = rest[1:end]
		}
	}
	return product, version, extra
}
