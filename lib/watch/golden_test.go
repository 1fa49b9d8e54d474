package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/event"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// stepClock returns a clock that starts at a fixed time and moves on by
// step at each reading, so event times and durations are stable.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

// TestRunEventsGolden pins the shape of run events: the start and end of
// a run that exits 3, and the trigger of a batch of file changes.
func TestRunEventsGolden(t *testing.T) {
	ev := &events{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Command: []string{"sh", "-c", "exit 3"}, Every: time.Hour, Initial: true,
			Events: ev, Now: stepClock(1500 * time.Microsecond),
		})
	}()
	waitFor(t, "the run to end", deadline, func() bool { return len(ev.runs(t, event.PhaseEnd)) == 1 })
	cancel()
	<-done
	out := regexp.MustCompile(`"pid":\d+`).ReplaceAllString(ev.String(), `"pid":4242`)

	cs := newChangeSet()
	cs.add("/etc/picket/targets.txt", kindCreate|kindRename)
	cs.add("/etc/picket/policy.yaml", kindWrite)
	cs.add("/etc/picket", kindOverflow)
	line, err := json.Marshal(trigger{files: cs, interval: true}.event())
	if err != nil {
		t.Fatal(err)
	}
	out += string(line) + "\n"

	golden := filepath.Join("testdata", "run.golden.ndjson")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal([]byte(out), want) {
		t.Errorf("run events differ from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", golden, out, want)
	}
}
