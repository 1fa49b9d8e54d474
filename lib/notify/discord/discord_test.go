package discord

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/notifytest"
)

func TestDiscordMessage(t *testing.T) {
	rc := notifytest.NewReceiver(t)
	s, err := New(Options{URL: rc.URL + "/api/webhooks/1/TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), notifytest.Alert("k1", notifytest.Hostile)); err != nil {
		t.Fatal(err)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	var m struct {
		Content         string `json:"content"`
		AllowedMentions struct {
			Parse *[]string `json:"parse"`
		} `json:"allowed_mentions"`
		Embeds []embed `json:"embeds"`
	}
	if err := json.Unmarshal(reqs[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if m.AllowedMentions.Parse == nil || len(*m.AllowedMentions.Parse) != 0 {
		t.Errorf("allowed_mentions must allow nothing: %s", reqs[0].Body)
	}
	if m.Content != "" || len(m.Embeds) != 1 || m.Embeds[0].Color != 0xd32f2f {
		t.Fatalf("message %s", reqs[0].Body)
	}
	e := m.Embeds[0]
	for _, f := range []string{e.Title, e.Description} {
		for _, bad := range []string{"@everyone", "@here", "<@U0123>", "](https", "*bold*", "\x1b", "\r"} {
			if strings.Contains(f, bad) {
				t.Errorf("%q in Discord text %q", bad, f)
			}
		}
	}
	if !strings.HasPrefix(e.Title, "port-opened 10.0.0.7:8080/tcp") || !strings.Contains(e.Description, "**10.0.0.7**") {
		t.Errorf("embed %+v", e)
	}
}
