package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/picketscan/picket/lib/event"
)

const benchChange = `{"type":"change","time":"2026-11-27T06:00:00.000000000Z","scan_id":"01M89TW58Z5CKXSW2X4KS13FZ3","kind":"port-opened","severity":"warning","ip":"10.0.0.7","port":8080,"proto":"tcp","after":{"state":"open","reason":"syn-ack","service":{"name":"http","product":"nginx","version":"1.22.1","cpe":["cpe:/a:igor_sysoev:nginx:1.22.1"]}},"summary":"+8080/tcp open http nginx 1.22.1"}`

func BenchmarkFilterMatch(b *testing.B) {
	f, err := ParseFilter(`kind=="port-opened" && port!=22 && (severity=="warning" || severity=="critical") && after.service.name=="http"`)
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte(benchChange)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(raw) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkSlackEscape(b *testing.B) {
	s := "+8080/tcp open http <!channel> @everyone *bold* \x1b[31mred\x1b[0m nginx 1.22.1 " + strings.Repeat("banner text ", 10)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Slack(s)
	}
}

// BenchmarkSpoolDisk is the cost of durability for one alert: written
// and fsynced before sending, then recorded as delivered.
func BenchmarkSpoolDisk(b *testing.B) {
	sp, err := OpenSpool(context.Background(), b.TempDir(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	i := 0
	for b.Loop() {
		a := &Alert{Key: fmt.Sprintf("k%d", i), Changes: []json.RawMessage{json.RawMessage(benchChange)}}
		i++
		if _, err := sp.Add(a, []string{"webhook"}); err != nil {
			b.Fatal(err)
		}
		if err := sp.Delivered(a.Key, "webhook"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRun pushes changes through the whole of Run (reading, keying,
// spool in memory, one worker, a sink that takes everything): the
// overhead notify adds per alert apart from disk and network.
func BenchmarkRun(b *testing.B) {
	const n = 1000
	var in strings.Builder
	for i := range n {
		in.WriteString(strings.Replace(benchChange, `"port":8080`, fmt.Sprintf(`"port":%d`, i+1), 1) + "\n")
	}
	input := in.String()
	sink := SinkFunc{N: "null", F: func(context.Context, *Alert) error { return nil }}
	b.ReportAllocs()
	for b.Loop() {
		sp, _ := OpenSpool(context.Background(), "", nil, nil)
		rep, err := Run(context.Background(), Config{Routes: []Route{{Sink: sink}}, Spool: sp, Digest: DigestOff}, func(fn func(event.Line) error) error {
			rd := event.NewReader(strings.NewReader(input), "bench", event.ReaderOptions{})
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
		})
		if err != nil || rep.Delivered != n {
			b.Fatalf("%v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/alert")
}
