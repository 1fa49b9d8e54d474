package notify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func testAlert(key string) *Alert {
	return &Alert{Key: key, Created: time.Now(), Changes: []json.RawMessage{json.RawMessage(`{"type":"change"}`)}}
}

func TestSpoolLifecycle(t *testing.T) {
	dir := t.TempDir()
	sp, err := OpenSpool(context.Background(), dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	need, err := sp.Add(testAlert("k1"), []string{"a", "b"})
	if err != nil || !slices.Equal(need, []string{"a", "b"}) {
		t.Fatalf("Add: %v %v", need, err)
	}
	if err := sp.Delivered("k1", "a"); err != nil {
		t.Fatal(err)
	}
	sp.Close()

	// A new process sees k1 still owed to b only.
	sp, _ = OpenSpool(context.Background(), dir, nil, nil)
	p := sp.Pending()
	if len(p) != 1 || !slices.Equal(p[0].Sinks, []string{"b"}) {
		t.Fatalf("pending %+v", p)
	}
	// The same alert again, now for a, b and c: only c is new.
	need, _ = sp.Add(testAlert("k1"), []string{"a", "b", "c"})
	if !slices.Equal(need, []string{"b", "c"}) {
		t.Errorf("need %v", need)
	}
	sp.Delivered("k1", "b")
	sp.Delivered("k1", "c")
	if len(sp.Pending()) != 0 {
		t.Error("k1 still pending")
	}
	// Delivered to all: Add again finds nothing to do.
	if need, _ := sp.Add(testAlert("k1"), []string{"a", "c"}); len(need) != 0 {
		t.Errorf("need %v after delivery", need)
	}
	sp.Close()
}

// TestSpoolCrashBetweenRecordAndRemove: a pending file left beside its
// delivery record (a crash after the record, before the removal) is
// finished at the next open, not sent again.
func TestSpoolCrashBetweenRecordAndRemove(t *testing.T) {
	dir := t.TempDir()
	sp, _ := OpenSpool(context.Background(), dir, nil, nil)
	sp.Add(testAlert("k1"), []string{"a"})
	pending := filepath.Join(dir, "pending", fileName("k1"))
	saved, err := os.ReadFile(pending)
	if err != nil {
		t.Fatal(err)
	}
	sp.Delivered("k1", "a")
	sp.Close()
	if err := os.WriteFile(pending, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	// Debris of an unfinished write and a corrupt file.
	os.WriteFile(filepath.Join(dir, "pending", ".tmp-123"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "pending", "bad.json"), []byte("not json"), 0o600)
	sp, err = OpenSpool(context.Background(), dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if p := sp.Pending(); len(p) != 0 {
		t.Errorf("pending %+v", p)
	}
	if _, err := os.Stat(pending); !os.IsNotExist(err) {
		t.Error("finished alert's pending file kept")
	}
	if _, err := os.Stat(filepath.Join(dir, "pending", "bad.json.bad")); err != nil {
		t.Error("corrupt file not moved aside")
	}
	if _, err := os.Stat(filepath.Join(dir, "pending", ".tmp-123")); !os.IsNotExist(err) {
		t.Error("temporary file kept")
	}
}

func TestSpoolLockWaits(t *testing.T) {
	dir := t.TempDir()
	sp, _ := OpenSpool(context.Background(), dir, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := OpenSpool(ctx, dir, nil, nil); err == nil {
		t.Fatal("a second process opened a locked spool")
	}
	sp.Close()
	sp2, err := OpenSpool(context.Background(), dir, nil, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	sp2.Close()
}

func TestSpoolPrunesOldRecords(t *testing.T) {
	dir := t.TempDir()
	sp, _ := OpenSpool(context.Background(), dir, nil, nil)
	sp.Add(testAlert("old"), []string{"a"})
	sp.Delivered("old", "a")
	sp.Close()
	later := func() time.Time { return time.Now().Add(SentRetention + time.Hour) }
	sp, _ = OpenSpool(context.Background(), dir, later, nil)
	defer sp.Close()
	if need, _ := sp.Add(testAlert("old"), []string{"a"}); len(need) != 1 {
		t.Errorf("a record older than %v still suppresses the alert", SentRetention)
	}
}

// TestSpoolRecoversCollectedDigest: the changes of a digest still being
// gathered when notify stopped become a pending digest, marked
// incomplete, at the next open.
func TestSpoolRecoversCollectedDigest(t *testing.T) {
	dir := t.TempDir()
	sp, _ := OpenSpool(context.Background(), dir, nil, nil)
	c1 := json.RawMessage(`{"type":"change","scan_id":"S1","kind":"port-opened","ip":"10.0.0.10","port":80,"proto":"tcp"}`)
	c2 := json.RawMessage(`{"type":"change","scan_id":"S1","kind":"port-opened","ip":"10.0.0.9","port":22,"proto":"tcp"}`)
	sp.Collect("S1/digest", "S1", "10.0.0.0/24", []string{"slack"}, c1)
	sp.Collect("S1/digest", "S1", "10.0.0.0/24", []string{"slack", "mail"}, c2)
	sp.Close()
	// A line cut short by the crash is ignored.
	ents, _ := os.ReadDir(filepath.Join(dir, "collect"))
	if len(ents) != 1 {
		t.Fatalf("%d collect files", len(ents))
	}
	f, _ := os.OpenFile(filepath.Join(dir, "collect", ents[0].Name()), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"key":"S1/digest","scan_id":"S1","sinks":["sl`)
	f.Close()

	sp, err := OpenSpool(context.Background(), dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	p := sp.Pending()
	if len(p) != 1 {
		t.Fatalf("pending %+v", p)
	}
	a := p[0].Alert
	if a.Key != "S1/digest" || !a.Digest || !a.Incomplete || a.Scope != "10.0.0.0/24" || len(a.Changes) != 2 ||
		string(a.Changes[0]) != string(c2) || !slices.Equal(p[0].Sinks, []string{"slack", "mail"}) {
		t.Errorf("recovered %+v, sinks %v", a, p[0].Sinks)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "collect")); len(ents) != 0 {
		t.Error("collect file kept")
	}
}
