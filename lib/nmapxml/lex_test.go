package nmapxml

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// tokens renders a document's start tags (with attributes), end tags and
// text (adjacent pieces joined) as lines, by our lexer or encoding/xml.
func lexTokens(doc []byte, oneByte bool) (string, error) {
	var r io.Reader = bytes.NewReader(doc)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	l := newLexer(r)
	var b strings.Builder
	var text []byte
	flush := func() {
		if len(text) > 0 {
			b.WriteString("T " + string(text) + "\n")
			text = text[:0]
		}
	}
	for {
		err := l.next()
		if err == io.EOF {
			flush()
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch l.kind {
		case tokStart:
			flush()
			b.WriteString("S " + string(l.name))
			for _, a := range l.attrs {
				b.WriteString(" " + string(a.name) + "=" + string(a.value))
			}
			b.WriteString("\n")
		case tokEnd:
			flush()
			b.WriteString("E " + string(l.name) + "\n")
		case tokText:
			text = append(text, l.text...)
		}
	}
}

func stdTokens(doc []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var b strings.Builder
	var text []byte
	flush := func() {
		if len(text) > 0 {
			b.WriteString("T " + string(text) + "\n")
			text = text[:0]
		}
	}
	name := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			flush()
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			flush()
			b.WriteString("S " + name(t.Name))
			for _, a := range t.Attr {
				b.WriteString(" " + name(a.Name) + "=" + a.Value)
			}
			b.WriteString("\n")
		case xml.EndElement:
			flush()
			b.WriteString("E " + name(t.Name) + "\n")
		case xml.CharData:
			text = append(text, t...)
		}
	}
}

func TestLexerMatchesEncodingXML(t *testing.T) {
	for _, n := range []string{"cert.xml", "moved-a.xml", "truncated.xml"} {
		doc, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if n == "truncated.xml" {
			doc = doc[:bytes.LastIndex(doc, []byte("<host>"))]
		}
		want, werr := stdTokens(doc)
		for _, one := range []bool{false, true} {
			got, err := lexTokens(doc, one)
			if werr != nil || err != nil {
				t.Fatalf("%s: %v / %v", n, err, werr)
			}
			if got != want {
				t.Errorf("%s (one byte at a time: %v): tokens differ:\n%s\nwant\n%s", n, one, got, want)
			}
		}
	}
}

// FuzzLexer checks the lexer against encoding/xml: on any document the
// standard library reads whole, the lexer must yield the same tags,
// attributes and text, however the input is split into reads.
func FuzzLexer(f *testing.F) {
	for _, n := range []string{"cert.xml", "moved-a.xml"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Add([]byte(`<a x='1' y="&lt;&#65;&#x42;"><![CDATA[<x>]]>t&amp;<!-- c --><?pi x?><b/></a>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if bytes.IndexByte(doc, '\r') >= 0 {
			return // encoding/xml folds CR LF into LF; Nmap writes LF
		}
		want, err := stdTokens(doc)
		if err != nil {
			return
		}
		got, err := lexTokens(doc, len(doc)%2 == 0)
		if err != nil {
			t.Fatalf("encoding/xml reads it, the lexer fails: %v", err)
		}
		if got != want {
			t.Fatalf("tokens differ:\n%s\nwant\n%s", got, want)
		}
	})
}
