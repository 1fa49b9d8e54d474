package teams

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/notifytest"
)

func TestTeamsCard(t *testing.T) {
	rc := notifytest.NewReceiver(t)
	s, err := New(Options{URL: rc.URL + "/workflows/TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), notifytest.Alert("S1/digest", notifytest.Hostile, notifytest.Plain("S1", "port-closed", "10.0.0.7", 22))); err != nil {
		t.Fatal(err)
	}
	reqs := rc.Requests()
	var m message
	if err := json.Unmarshal(reqs[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("envelope %s", reqs[0].Body)
	}
	c := m.Attachments[0].Content
	if c.Type != "AdaptiveCard" || len(c.Body) != 3 || c.Body[0].Text != "2 changes on 10.0.0.0/24" {
		t.Fatalf("card %s", reqs[0].Body)
	}
	for _, b := range c.Body {
		for _, bad := range []string{"<script>", "<@U0123>", "<at>", "<!channel>", "*bold*", "[x](", "\x1b", "\r"} {
			if strings.Contains(b.Text, bad) {
				t.Errorf("%q in Teams text %q", bad, b.Text)
			}
		}
	}
	if !strings.Contains(c.Body[1].Text, "&lt;script&gt;") {
		t.Errorf("body %q", c.Body[1].Text)
	}
}
