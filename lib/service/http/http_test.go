package http

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Response
		isErr bool
	}{
		{"nginx", "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html><head><TITLE>Welcome to nginx!</TITLE></head>",
			Response{Proto: "HTTP/1.1", Status: 200, Server: "nginx/1.22.1", Title: "Welcome to nginx!"}, false},
		{"powered by, lf only", "HTTP/1.0 302 Found\nserver:  Apache/2.4.57 (Debian)\nX-Powered-By: PHP/8.2.7\n\n",
			Response{Proto: "HTTP/1.0", Status: 302, Server: "Apache/2.4.57 (Debian)", PoweredBy: "PHP/8.2.7"}, false},
		{"title cut off", "HTTP/1.1 200 OK\r\n\r\n<title>\n  Half   a\ttitle",
			Response{Proto: "HTTP/1.1", Status: 200, Title: "Half a title"}, false},
		{"entities and control bytes", "HTTP/1.1 404 Not Found\r\nServer: x\x01y\r\n\r\n<title>a &amp; b\x00</title>",
			Response{Proto: "HTTP/1.1", Status: 404, Server: "x y", Title: "a & b"}, false},
		{"headers only, cut", "HTTP/1.1 500 Oops\r\nServer: thing", Response{Proto: "HTTP/1.1", Status: 500, Server: "thing"}, false},
		{"not http", "SSH-2.0-OpenSSH_9.2\r\n", Response{}, true},
		{"bad status", "HTTP/1.1 abc OK\r\n", Response{}, true},
		{"empty", "", Response{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResponse([]byte(tt.in))
			if tt.isErr {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestProduct(t *testing.T) {
	tests := []struct{ server, product, version, extra string }{
		{"nginx/1.22.1", "nginx", "1.22.1", ""},
		{"Apache/2.4.57 (Debian)", "Apache httpd", "2.4.57", "Debian"},
		{"Apache", "Apache httpd", "", ""},
		{"lighttpd/1.4.69", "lighttpd", "1.4.69", ""},
		{"Microsoft-IIS/10.0", "Microsoft IIS httpd", "10.0", ""},
		{"SomethingNew/3 (x)", "SomethingNew", "3", "x"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		p, v, e := Product(tt.server)
		if p != tt.product || v != tt.version || e != tt.extra {
			t.Errorf("Product(%q) = %q %q %q, want %q %q %q", tt.server, p, v, e, tt.product, tt.version, tt.extra)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n<title>x</title>"))
	f.Add([]byte("HTTP/1.0 999 \n\n<title"))
	f.Add([]byte("HTTP/ 100\r\nserver:\xff\xfe\r\n\r\n<TiTlE a=b>\xe9</title>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		for _, s := range []string{r.Server, r.PoweredBy, r.Title} {
			if !utf8.ValidString(s) || len(s) > 1024 {
				t.Fatalf("field %q: invalid UTF-8 or too long", s)
			}
		}
		Product(r.Server)
	})
}

func TestTitleCutIsUTF8(t *testing.T) {
	page := "<title>" + strings.Repeat("é", 200) + "</title>"
	got := Title([]byte(page))
	if !utf8.ValidString(got) || len(got) > maxTitle {
		t.Errorf("title of %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
