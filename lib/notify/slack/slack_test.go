package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/notifytest"
)

func TestSlackMessage(t *testing.T) {
	rc := notifytest.NewReceiver(t)
	s, err := New(Options{URL: rc.URL + "/services/T0/B0/TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	a := notifytest.Alert("S1/digest", notifytest.Hostile, notifytest.Plain("S1", "port-opened", "10.0.0.5", 22))
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/services/T0/B0/TOKEN" || reqs[0].Header.Get("Content-Type") != "application/json" {
		t.Fatalf("requests %+v", reqs)
	}
	var m message
	if err := json.Unmarshal(reqs[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) != 3 || m.Blocks[0].Type != "header" || m.Blocks[0].Text.Type != "plain_text" ||
		m.Blocks[1].Type != "section" || m.Blocks[1].Text.Type != "mrkdwn" || m.Blocks[2].Type != "context" {
		t.Fatalf("blocks %s", reqs[0].Body)
	}
	if m.Blocks[0].Text.Text != "2 changes on 10.0.0.0/24" || m.UnfurlLinks || m.UnfurlMedia {
		t.Errorf("header %q", m.Blocks[0].Text.Text)
	}
	section := m.Blocks[1].Text.Text
	// Grouped by host, in address order.
	if i, j := strings.Index(section, "*10.0.0.5*"), strings.Index(section, "*10.0.0.7*"); i < 0 || j < i {
		t.Errorf("section not grouped by host:\n%s", section)
	}
	// Everything Slack would read as a mention, link or markup from the
	// hostile host is inert.
	for _, f := range []string{m.Text, section, m.Blocks[2].Elements[0].Text} {
		for _, bad := range []string{"<!channel>", "<@U0123>", "@everyone", "@here", "<https://", "<script>", "*bold*", "\x1b", "\r", "\x07"} {
			if strings.Contains(f, bad) {
				t.Errorf("%q in Slack text %q", bad, f)
			}
		}
	}
	if !strings.Contains(section, "&lt;!channel&gt;") || !strings.Contains(section, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("hostile text not shown escaped:\n%s", section)
	}
}

func TestSlackLongDigestIsSplit(t *testing.T) {
	s, _ := New(Options{URL: "http://127.0.0.1/x"})
	var lines []string
	for i := range 400 {
		lines = append(lines, notifytest.Plain("S1", "port-opened", "10.0.0.5", 1000+i))
	}
	body, err := s.Message(notifytest.Alert("k", lines...))
	if err != nil {
		t.Fatal(err)
	}
	var m message
	json.Unmarshal(body, &m)
	if len(m.Blocks) < 4 {
		t.Fatalf("%d blocks", len(m.Blocks))
	}
	for _, b := range m.Blocks {
		if b.Text != nil && len(b.Text.Text) > 3000 {
			t.Errorf("block of %d bytes", len(b.Text.Text))
		}
	}
}

func TestSlackSingleChangeHeader(t *testing.T) {
	s, _ := New(Options{URL: "http://127.0.0.1/x"})
	body, err := s.Message(notifytest.Alert("k", notifytest.Hostile))
	if err != nil {
		t.Fatal(err)
	}
	var m message
	json.Unmarshal(body, &m)
	h := m.Blocks[0].Text.Text
	if !strings.HasPrefix(h, "port-opened 10.0.0.7:8080/tcp (") {
		t.Errorf("header %q", h)
	}
	for _, bad := range []string{"<@U0123>", "@here", "\r", "\n"} {
		if strings.Contains(h, bad) || strings.Contains(m.Text, bad) {
			t.Errorf("%q in header %q or text %q", bad, h, m.Text)
		}
	}
}
