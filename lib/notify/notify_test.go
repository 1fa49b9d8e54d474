package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/notify"
	"github.com/picketscan/picket/lib/notify/webhook"
)

// receiver is an HTTP server that plays a webhook receiver. Its behave
// function picks the answer to each request; it records the Idempotency-Key
// of every request it accepted.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string]int
	times  []time.Time
	bodies [][]byte
	n      int
	behave func(n int, w http.ResponseWriter, r *http.Request) bool // true: accepted
}

func newReceiver(t *testing.T, behave func(n int, w http.ResponseWriter, r *http.Request) bool) *receiver {
	rc := &receiver{got: map[string]int{}, behave: behave}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.times = append(rc.times, time.Now())
		rc.mu.Unlock()
		ok := true
		if rc.behave != nil {
			ok = rc.behave(n, w, r)
		}
		if ok {
			rc.mu.Lock()
			rc.got[r.Header.Get("Idempotency-Key")]++
			rc.bodies = append(rc.bodies, body)
			rc.mu.Unlock()
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) keys() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.got {
		out[k] = v
	}
	return out
}

func change(scan, kind, ip string, port int) string {
	return fmt.Sprintf(`{"type":"change","time":"2026-11-27T06:00:00.000000000Z","scan_id":%q,"kind":%q,"severity":"warning","ip":%q,"port":%d,"proto":"tcp","after":{"state":"open","service":{"name":"http"}}}`, scan, kind, ip, port)
}

// feed returns a read function over the lines.
func feed(lines ...string) func(func(event.Line) error) error {
	return func(fn func(event.Line) error) error {
		rd := event.NewReader(strings.NewReader(strings.Join(lines, "\n")+"\n"), "test", event.ReaderOptions{Strict: true})
		for {
			l, err := rd.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := fn(l); err != nil {
				return err
			}
		}
	}
}

var fastRetry = notify.Retry{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 2 * time.Second}

func hook(t *testing.T, name, url string) notify.Route {
	s, err := webhook.New(webhook.Options{Name: name, URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return notify.Route{Sink: s, Timeout: 300 * time.Millisecond}
}

func run(t *testing.T, spoolDir string, routes []notify.Route, digest notify.DigestMode, read func(func(event.Line) error) error) (notify.Report, error) {
	t.Helper()
	sp, err := notify.OpenSpool(context.Background(), spoolDir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	return notify.Run(context.Background(), notify.Config{Routes: routes, Spool: sp, Retry: fastRetry, Digest: digest}, read)
}

func pendingFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "pending"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestDeliverEachChangeOnce(t *testing.T) {
	rc := newReceiver(t, nil)
	dir := t.TempDir()
	in := feed(
		`{"type":"port","ip":"10.0.0.1","port":22}`,
		change("S1", "port-opened", "10.0.0.1", 80),
		change("S1", "port-opened", "10.0.0.2", 443),
		change("S1", "port-opened", "10.0.0.2", 443), // the same change twice
	)
	rep, err := run(t, dir, []notify.Route{hook(t, "webhook", rc.srv.URL)}, notify.DigestAuto, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"S1/port-opened/10.0.0.1/80/tcp": 1, "S1/port-opened/10.0.0.2/443/tcp": 1}
	if got := rc.keys(); !equalCounts(got, want) {
		t.Fatalf("receiver got %v, want %v", got, want)
	}
	if rep.Delivered != 2 || rep.Duplicates != 1 || rep.Undelivered != 0 {
		t.Errorf("report %+v", rep)
	}
	if n := pendingFiles(t, dir); n != 0 {
		t.Errorf("%d alerts left in the spool", n)
	}
	// The same input again: the spool remembers, nothing is sent.
	rep, err = run(t, dir, []notify.Route{hook(t, "webhook", rc.srv.URL)}, notify.DigestAuto, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.keys(); !equalCounts(got, want) || rep.Delivered != 0 {
		t.Fatalf("replay sent again: receiver %v, report %+v", got, rep)
	}
	// The payload carries the change as read.
	var p notify.Payload
	if err := json.Unmarshal(rc.bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "alert" || len(p.Changes) != 1 || string(p.Changes[0]) != change("S1", "port-opened", "10.0.0.1", 80) {
		t.Errorf("payload %s", rc.bodies[0])
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRetries plays a receiver that fails in each way a real one does
// before it accepts.
func TestRetries(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(w http.ResponseWriter, r *http.Request)
		check func(t *testing.T, rc *receiver)
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", 500) }, nil},
		{"503", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", 503) }, nil},
		{"closed connection", func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, nil},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}, nil},
		{"429 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "rate limited", 429)
		}, func(t *testing.T, rc *receiver) {
			// The second attempt waited for the receiver's word, far
			// longer than the 10 ms backoff would.
			if gap := rc.times[1].Sub(rc.times[0]); gap < 900*time.Millisecond {
				t.Errorf("retried after %v, want at least the 1 s Retry-After", gap)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 && tc.name != "429 with Retry-After" || n == 1 {
					tc.fail(w, r)
					return false
				}
				return true
			})
			dir := t.TempDir()
			rep, err := run(t, dir, []notify.Route{hook(t, "webhook", rc.srv.URL)}, notify.DigestOff, feed(change("S1", "port-opened", "10.0.0.1", 80)))
			if err != nil {
				t.Fatal(err)
			}
			if got := rc.keys(); got["S1/port-opened/10.0.0.1/80/tcp"] != 1 || len(got) != 1 {
				t.Fatalf("receiver got %v", got)
			}
			if rep.Delivered != 1 {
				t.Errorf("report %+v", rep)
			}
			if tc.check != nil {
				tc.check(t, rc)
			}
		})
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, "invalid_payload", 400)
		return false
	})
	dir := t.TempDir()
	rep, err := run(t, dir, []notify.Route{hook(t, "webhook", rc.srv.URL+"/services/SECRET")}, notify.DigestOff, feed(change("S1", "port-opened", "10.0.0.1", 80)))
	if !errors.Is(err, notify.ErrUndelivered) {
		t.Fatalf("err = %v, want ErrUndelivered", err)
	}
	if rc.n != 1 || rep.Undelivered != 1 {
		t.Errorf("%d requests, report %+v; want one attempt", rc.n, rep)
	}
	if pendingFiles(t, dir) != 1 {
		t.Error("the refused alert must stay in the spool")
	}
}

// TestReceiverDownThenFlush: alerts wait in the spool while the receiver
// is down and go out, once, with the next run.
func TestReceiverDownThenFlush(t *testing.T) {
	down := true
	var mu sync.Mutex
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "down", 502)
			return false
		}
		return true
	})
	dir := t.TempDir()
	short := notify.Retry{Base: 5 * time.Millisecond, Max: 10 * time.Millisecond, Budget: 100 * time.Millisecond}
	sp, _ := notify.OpenSpool(context.Background(), dir, nil, nil)
	in := feed(change("S1", "port-opened", "10.0.0.1", 80), change("S1", "port-opened", "10.0.0.1", 81), change("S1", "port-closed", "10.0.0.1", 82))
	rep, err := notify.Run(context.Background(), notify.Config{Routes: []notify.Route{hook(t, "webhook", rc.srv.URL)}, Spool: sp, Retry: short}, in)
	sp.Close()
	if !errors.Is(err, notify.ErrUndelivered) || rep.Undelivered != 3 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	// Once the sink was given up on, the other alerts were not tried.
	if attempts := rc.n; attempts > 30 {
		t.Errorf("%d attempts while down", attempts)
	}
	if pendingFiles(t, dir) != 3 {
		t.Fatalf("want 3 alerts in the spool")
	}
	mu.Lock()
	down = false
	mu.Unlock()
	rep, err = run(t, dir, []notify.Route{hook(t, "webhook", rc.srv.URL)}, notify.DigestAuto, nil)
	if err != nil || rep.Delivered != 3 {
		t.Fatalf("flush: %v, %+v", err, rep)
	}
	for k, n := range rc.keys() {
		if n != 1 {
			t.Errorf("%s arrived %d times", k, n)
		}
	}
	if len(rc.keys()) != 3 || pendingFiles(t, dir) != 0 {
		t.Errorf("receiver %v, %d pending", rc.keys(), pendingFiles(t, dir))
	}
}

// TestPerSinkRecords: a sink that took an alert never gets it again when
// the spool is replayed for another sink that did not.
func TestPerSinkRecords(t *testing.T) {
	good := newReceiver(t, nil)
	var fail = true
	var mu sync.Mutex
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "no", 500)
			return false
		}
		return true
	})
	dir := t.TempDir()
	routes := func() []notify.Route {
		return []notify.Route{hook(t, "good", good.srv.URL), hook(t, "flaky", flaky.srv.URL)}
	}
	sp, _ := notify.OpenSpool(context.Background(), dir, nil, nil)
	short := notify.Retry{Base: 5 * time.Millisecond, Max: 10 * time.Millisecond, Budget: 50 * time.Millisecond}
	_, err := notify.Run(context.Background(), notify.Config{Routes: routes(), Spool: sp, Retry: short}, feed(change("S1", "port-opened", "10.0.0.1", 80)))
	sp.Close()
	if !errors.Is(err, notify.ErrUndelivered) {
		t.Fatalf("err %v", err)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	// The input comes again and the spool is flushed: good already has it.
	if _, err := run(t, dir, routes(), notify.DigestAuto, feed(change("S1", "port-opened", "10.0.0.1", 80))); err != nil {
		t.Fatal(err)
	}
	if g, f := good.keys(), flaky.keys(); len(g) != 1 || len(f) != 1 || g["S1/port-opened/10.0.0.1/80/tcp"] != 1 || f["S1/port-opened/10.0.0.1/80/tcp"] != 1 {
		t.Errorf("good %v, flaky %v", g, f)
	}
}

func TestDigest(t *testing.T) {
	rc := newReceiver(t, nil)
	start := `{"type":"scan","scan_id":"S9","phase":"start","scope":{"targets":["10.0.0.0/24"],"ports":"T:1-1024","method":"connect","discovery":"none"}}`
	end := `{"type":"scan","scan_id":"S9","phase":"end","complete":true}`
	in := feed(start,
		change("S9", "port-opened", "10.0.0.10", 80),
		change("S9", "port-opened", "10.0.0.9", 22),
		change("S9", "port-closed", "10.0.0.10", 21),
		`{"type":"port","scan_id":"S9","ip":"10.0.0.9","port":22}`,
		end,
		change("S7", "host-up", "10.0.0.5", 0), // no start marker: sent alone
	)
	s, _ := webhook.New(webhook.Options{URL: rc.srv.URL, DigestMax: 2})
	rep, err := run(t, t.TempDir(), []notify.Route{{Sink: s}}, notify.DigestAuto, in)
	if err != nil || rep.Delivered != 2 {
		t.Fatalf("%v %+v", err, rep)
	}
	if got := rc.keys(); got["S9/digest"] != 1 || got["S7/host-up/10.0.0.5/0/tcp"] != 1 {
		t.Fatalf("keys %v", got)
	}
	var p notify.Payload
	for _, b := range rc.bodies {
		if bytes.Contains(b, []byte(`"S9/digest"`)) {
			json.Unmarshal(b, &p)
		}
	}
	if p.Title != "3 changes on 10.0.0.0/24" || !p.Digest || p.Count != 3 {
		t.Errorf("payload %+v", p)
	}
	// Grouped by host in address order, capped at two lines.
	wantText := "3 changes on 10.0.0.0/24\n\n10.0.0.9\n  [warning] port-opened 22/tcp open http\n\n10.0.0.10\n  [warning] port-closed 21/tcp open http\n\n1 more not shown\n\nscan S9\n"
	if p.Text != wantText {
		t.Errorf("text\n%s\nwant\n%s", p.Text, wantText)
	}
}

// TestForcedDigestWithoutMarkers checks --digest on changes whose scan has
// no markers in the input (ndiff's output for Nmap XML): one digest per
// scan id, not called incomplete, since nothing says the scan was cut
// short; a scan whose start came but whose end did not is still marked.
func TestForcedDigestWithoutMarkers(t *testing.T) {
	rc := newReceiver(t, nil)
	in := feed(
		change("X1", "port-opened", "10.0.0.1", 22),
		change("X1", "port-opened", "10.0.0.2", 80),
		`{"type":"scan","scan_id":"S3","phase":"start"}`,
		change("S3", "port-opened", "10.0.0.3", 443),
	)
	s, _ := webhook.New(webhook.Options{URL: rc.srv.URL})
	if rep, err := run(t, t.TempDir(), []notify.Route{{Sink: s}}, notify.DigestOn, in); err != nil || rep.Delivered != 2 {
		t.Fatalf("%v %+v", err, rep)
	}
	got := map[string]notify.Payload{}
	for _, b := range rc.bodies {
		var p notify.Payload
		json.Unmarshal(b, &p)
		got[p.ScanID] = p
	}
	if p := got["X1"]; !p.Digest || p.Count != 2 || p.Incomplete || strings.Contains(p.Title, "incomplete") {
		t.Errorf("digest without markers: %+v", p)
	}
	if p := got["S3"]; !p.Digest || p.Count != 1 || !p.Incomplete {
		t.Errorf("digest of a scan that never ended: %+v", p)
	}
}

func TestDigestPerRouteFilter(t *testing.T) {
	a := newReceiver(t, nil)
	b := newReceiver(t, nil)
	crit, _ := notify.ParseFilter(`port==22`)
	ra := hook(t, "all", a.srv.URL)
	rb := hook(t, "ssh", b.srv.URL)
	rb.Filter = crit
	in := feed(`{"type":"scan","scan_id":"S2","phase":"start"}`,
		change("S2", "port-opened", "10.0.0.1", 22), change("S2", "port-opened", "10.0.0.1", 80),
		`{"type":"scan","scan_id":"S2","phase":"end","complete":false}`)
	if _, err := run(t, t.TempDir(), []notify.Route{ra, rb}, notify.DigestAuto, in); err != nil {
		t.Fatal(err)
	}
	var pa, pb notify.Payload
	json.Unmarshal(a.bodies[0], &pa)
	json.Unmarshal(b.bodies[0], &pb)
	if pa.Count != 2 || pb.Count != 1 || !pa.Incomplete || pa.Key == pb.Key {
		t.Errorf("all: %+v\nssh: %+v", pa, pb)
	}
}

func TestRateLimit(t *testing.T) {
	rc := newReceiver(t, nil)
	r := hook(t, "webhook", rc.srv.URL)
	r.Limit = rate.NewLimiter(rate.Every(100*time.Millisecond), 1)
	var lines []string
	for i := range 4 {
		lines = append(lines, change("S1", "port-opened", "10.0.0.1", 80+i))
	}
	if _, err := run(t, t.TempDir(), []notify.Route{r}, notify.DigestOff, feed(lines...)); err != nil {
		t.Fatal(err)
	}
	if len(rc.times) != 4 {
		t.Fatalf("%d requests", len(rc.times))
	}
	// Three waits of 100 ms at least between the first request and the
	// last (with some slack for when each arrives).
	if span := rc.times[3].Sub(rc.times[0]); span < 250*time.Millisecond {
		t.Errorf("4 requests within %v under a 10/s limit", span)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	s, _ := webhook.New(webhook.Options{URL: "http://127.0.0.1:1/services/T0/B0/SUPERSECRET"})
	err := s.Send(context.Background(), &notify.Alert{Key: "k", Changes: []json.RawMessage{json.RawMessage(change("S", "port-opened", "1.2.3.4", 1))}})
	if err == nil || strings.Contains(err.Error(), "SUPERSECRET") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}

func TestTee(t *testing.T) {
	var out bytes.Buffer
	w := event.NewWriter(&out)
	sp, _ := notify.OpenSpool(context.Background(), "", nil, nil)
	lines := []string{`{"type":"port", "odd" : [1,2] }`, change("S1", "port-opened", "10.0.0.1", 80)}
	if _, err := notify.Run(context.Background(), notify.Config{Spool: sp, Tee: w}, feed(lines...)); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Join(lines, "\n")+"\n" {
		t.Errorf("tee wrote %q", out.String())
	}
}

// TestEchoedTokenRedacted: a receiver that echoes the URL's token in its
// error answer does not get it into our errors.
func TestEchoedTokenRedacted(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "no such hook: "+r.URL.Path+" token XOXB7TOKEN123", 404)
		return false
	})
	s, _ := webhook.New(webhook.Options{URL: rc.srv.URL + "/services/T000/XOXB7TOKEN123"})
	err := s.Send(context.Background(), &notify.Alert{Key: "k", Changes: []json.RawMessage{json.RawMessage(change("S", "port-opened", "1.2.3.4", 1))}})
	if err == nil || strings.Contains(err.Error(), "XOXB7TOKEN123") || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v", err)
	}
}

// TestDigestAfterEndMarker feeds the order ndiff writes: the scan's own
// lines, end marker included, then its change events. They must make one
// digest per scan, complete as the marker said, not one alert per change.
func TestDigestAfterEndMarker(t *testing.T) {
	rc := newReceiver(t, nil)
	in := feed(
		`{"type":"scan","scan_id":"A1","phase":"start","scope":{"targets":["10.0.0.0/24"]}}`,
		`{"type":"port","scan_id":"A1","ip":"10.0.0.9","port":22}`,
		`{"type":"scan","scan_id":"A1","phase":"end","complete":true}`,
		change("A1", "port-opened", "10.0.0.9", 22),
		change("A1", "port-closed", "10.0.0.10", 21),
		`{"type":"scan","scan_id":"B2","phase":"start","scope":{"targets":["10.0.1.0/24"]}}`,
		`{"type":"scan","scan_id":"B2","phase":"end","complete":false}`,
		change("B2", "port-opened", "10.0.1.1", 80),
	)
	s, _ := webhook.New(webhook.Options{URL: rc.srv.URL})
	rep, err := run(t, t.TempDir(), []notify.Route{{Sink: s}}, notify.DigestAuto, in)
	if err != nil || rep.Delivered != 2 {
		t.Fatalf("%v %+v", err, rep)
	}
	got := map[string]notify.Payload{}
	for _, b := range rc.bodies {
		var p notify.Payload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		got[p.Key] = p
	}
	if a := got["A1/digest"]; !a.Digest || a.Count != 2 || a.Incomplete {
		t.Errorf("A1 digest %+v", a)
	}
	if b := got["B2/digest"]; !b.Digest || b.Count != 1 || !b.Incomplete {
		t.Errorf("B2 digest %+v", b)
	}
}

// TestDigestTitleCountsScopeParts checks that a scope continued in scope
// events (a long target list) counts whole in the digest's title.
func TestDigestTitleCountsScopeParts(t *testing.T) {
	rc := newReceiver(t, nil)
	in := feed(
		`{"type":"scan","scan_id":"S5","phase":"start","scope_parts":1,"scope":{"targets":["10.0.0.1","10.0.0.3","10.0.0.5","10.0.0.7"],"ports":"T:80","method":"syn","discovery":"none"}}`,
		`{"type":"scope","scan_id":"S5","seq":1,"targets":["10.0.0.9","10.0.0.11","10.0.0.13"]}`,
		change("S5", "port-opened", "10.0.0.9", 80),
		`{"type":"scan","scan_id":"S5","phase":"end","complete":true}`,
	)
	s, _ := webhook.New(webhook.Options{URL: rc.srv.URL})
	if _, err := run(t, t.TempDir(), []notify.Route{{Sink: s}}, notify.DigestAuto, in); err != nil {
		t.Fatal(err)
	}
	var p notify.Payload
	for _, b := range rc.bodies {
		json.Unmarshal(b, &p)
	}
	if want := "1 change on 10.0.0.1, 10.0.0.3, 10.0.0.5 and 4 more"; p.Title != want {
		t.Errorf("title %q, want %q", p.Title, want)
	}
}
