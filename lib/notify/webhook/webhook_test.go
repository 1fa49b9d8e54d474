package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/notifytest"
	"github.com/picketscan/picket/lib/notify"
)

func TestWebhookPayload(t *testing.T) {
	rc := notifytest.NewReceiver(t)
	s, err := New(Options{URL: rc.URL + "/hook?token=SECRET"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), notifytest.Alert("S1/port-opened/10.0.0.7/8080/tcp", notifytest.Hostile)); err != nil {
		t.Fatal(err)
	}
	r := rc.Requests()[0]
	if r.Header.Get("Idempotency-Key") != "S1/port-opened/10.0.0.7/8080/tcp" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	var p notify.Payload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	// The change goes out as read; the text has no terminal controls.
	if len(p.Changes) != 1 || string(p.Changes[0]) != notifytest.Hostile {
		t.Errorf("change changed:\n%s\n%s", p.Changes[0], notifytest.Hostile)
	}
	if strings.ContainsAny(p.Text, "\x1b\r\x07") || strings.ContainsAny(p.Title, "\x1b\r\n") {
		t.Errorf("text %q title %q", p.Text, p.Title)
	}
	if p.Severity != "critical" || p.Count != 1 || p.Type != "alert" {
		t.Errorf("payload %+v", p)
	}
}

func TestWebhookStatusClasses(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{{500, false}, {502, false}, {429, false}, {408, false}, {400, true}, {404, true}, {401, true}}
	for _, tc := range tests {
		rc := notifytest.NewReceiver(t)
		rc.Status = tc.status
		s, _ := New(Options{URL: rc.URL + "/x/SECRET"})
		err := s.Send(context.Background(), notifytest.Alert("k", notifytest.Plain("S", "port-opened", "10.0.0.1", 1)))
		var de *notify.DeliveryError
		if err == nil || !errors.As(err, &de) || de.Permanent != tc.permanent {
			t.Errorf("%d: err %v", tc.status, err)
		}
		if strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), http.StatusText(tc.status)) {
			t.Errorf("%d: error %q", tc.status, err)
		}
	}
}
