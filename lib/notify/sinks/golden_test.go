package sinks

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/notifytest"
	"github.com/picketscan/picket/lib/notify"
	"github.com/picketscan/picket/lib/notify/discord"
	"github.com/picketscan/picket/lib/notify/slack"
	"github.com/picketscan/picket/lib/notify/smtp"
	"github.com/picketscan/picket/lib/notify/syslog"
	"github.com/picketscan/picket/lib/notify/teams"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGoldenMessages keeps each sink's default message for one digest
// (with a hostile change in it) under testdata/golden, so that a change
// in what people receive shows up in review.
func TestGoldenMessages(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC) }
	a := notifytest.Alert("S1/digest", notifytest.Hostile,
		notifytest.Plain("S1", "port-opened", "10.0.0.9", 22),
		notifytest.Plain("S1", "port-closed", "10.0.0.9", 23),
		notifytest.Plain("S1", "port-opened", "10.0.0.12", 443))
	indent := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		json.Indent(&out, b, "", "  ")
		return append(out.Bytes(), '\n')
	}
	sl, _ := slack.New(slack.Options{URL: "http://127.0.0.1/", DigestMax: 3})
	dc, _ := discord.New(discord.Options{URL: "http://127.0.0.1/", DigestMax: 3})
	tm, _ := teams.New(teams.Options{URL: "http://127.0.0.1/", DigestMax: 3})
	sy, _ := syslog.New(syslog.Options{Network: "udp", Addr: "127.0.0.1:514", Hostname: "scanner1", Now: now})
	em, _ := smtp.New(smtp.Options{Addr: "127.0.0.1:25", From: "picket@example.com", To: []string{"ops@example.com"}, DigestMax: 3, Now: now})
	plain, _ := notify.NewRenderer("plain", notify.PlainTemplate, notify.StripControl, 3)
	text, _ := plain.Render(a)
	mail, err := em.Message(a)
	if err != nil {
		t.Fatal(err)
	}
	mail = regexp.MustCompile(`picket-[0-9a-f]{24}`).ReplaceAll(mail, []byte("BOUNDARY"))
	var recs bytes.Buffer
	for _, r := range sy.Records(a) {
		recs.WriteString(r + "\n")
	}
	cases := map[string][]byte{
		"slack.json":   indent(sl.Message(a)),
		"discord.json": indent(dc.Message(a)),
		"teams.json":   indent(tm.Message(a)),
		"plain.txt":    []byte(text),
		"email.eml":    mail,
		"syslog.txt":   recs.Bytes(),
	}
	for name, got := range cases {
		path := filepath.Join("testdata", "golden", name)
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
		}
	}
}
