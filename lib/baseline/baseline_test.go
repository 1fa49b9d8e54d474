package baseline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

func sample() *state.Baseline {
	b := state.NewBaseline()
	b.ScanID, b.Time = "01SCAN", "2026-11-01T02:00:00.000000000Z"
	t1, t2 := "2026-10-01T02:00:00.000000000Z", b.Time
	h := &state.Host{Addr: netip.MustParseAddr("192.0.2.7"), Hostname: "www.example.com", State: "up", Reason: "syn-ack", FirstSeen: t1, LastSeen: t2}
	h.Ports = []state.Port{
		{Num: 22, Proto: "tcp", State: "open", Reason: "syn-ack", FirstSeen: t1, LastSeen: t2,
			Service: &event.Service{Name: "ssh", Product: "Open\"SSH\x01\n", Version: "9.2p1", CPE: []string{"cpe:/a:openbsd:openssh"}, Conf: 10}},
		{Num: 443, Proto: "tcp", State: "open", Reason: "syn-ack", FirstSeen: t1, LastSeen: t2,
			TLS:     &event.TLS{SubjectCN: "www", SHA256: "ab", NotAfter: "2027-01-01T00:00:00Z"},
			Pending: &state.Pending{Sig: "absent", Count: 1, Since: t2}},
		{Num: 8080, Proto: "tcp", Pending: &state.Pending{Sig: "open", Count: 1, Since: t2}},
		{Num: 53, Proto: "udp", State: "open|filtered", Reason: "no-response", FirstSeen: t2, LastSeen: t2},
	}
	b.Hosts[h.Addr] = h
	d := &state.Host{Addr: netip.MustParseAddr("2001:db8::1"), State: "down", Reason: "no-response", FirstSeen: t2, LastSeen: t1,
		Pending: &state.Pending{Sig: "up", Count: 2, Since: t1}}
	b.Hosts[d.Addr] = d
	return b
}

func encode(t testing.TB, b *state.Baseline) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, b, "2026-11-01T02:05:00.000000000Z"); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	data := encode(t, want)
	got, err := Read(bytes.NewReader(data), "b")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
	if !IsBaseline(data) || IsBaseline([]byte(`{"type":"scan"}`)) {
		t.Error("IsBaseline")
	}
	// Every line is JSON that encoding/json accepts.
	for i, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("line %d: %v: %s", i+1, err, l)
		}
	}
}

// TestRefusesDamage cuts the file at every length and flips every byte:
// each damaged copy must be refused with ErrCorrupt, never read as a
// smaller baseline.
func TestRefusesDamage(t *testing.T) {
	data := encode(t, sample())
	for n := 0; n < len(data); n++ {
		if _, err := Read(bytes.NewReader(data[:n]), "b"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: err %v", n, err)
		}
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x20
		if _, err := Read(bytes.NewReader(bad), "b"); err == nil {
			// A flip that keeps the JSON meaning identical is fine only
			// if it changed nothing the checksum covers; there is none.
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	if _, err := Read(bytes.NewReader(append(bytes.Clone(data), "{}\n"...)), "b"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("data after trailer: %v", err)
	}
	_, err := Read(strings.NewReader(`{"type":"scan","scan_id":"x"}`+"\n"), "state.ndjson")
	if err == nil || !strings.Contains(err.Error(), "state.ndjson:1: corrupt baseline: not a baseline") {
		t.Errorf("scan as baseline: %v", err)
	}
}

func TestSaveAndHistory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.ndjson")
	hist := filepath.Join(dir, "history")
	// A temporary file left by a killed run is cleaned up.
	stale := filepath.Join(dir, ".state.ndjson.tmp-123")
	os.WriteFile(stale, []byte("half"), 0o600)
	b := sample()
	for i := range 5 {
		b.ScanID = "scan" + string(rune('a'+i))
		b.Time = event.FormatTime(time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC))
		when := event.FormatTime(time.Date(2026, 12, 1+i, 0, 0, 0, 0, time.UTC))
		if err := Save(path, b, SaveOptions{Written: when, HistoryDir: hist, Keep: 3}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(path)
	if err != nil || got.ScanID != "scane" {
		t.Fatalf("load: %v %+v", err, got)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stale temporary file kept")
	}
	ents, _ := os.ReadDir(hist)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 || names[0] != "state.ndjson.20261103T000000.000000000Z" {
		t.Errorf("history: %q", names)
	}
	old, err := Load(filepath.Join(hist, names[0]))
	if err != nil || old.ScanID != "scanc" {
		t.Errorf("history copy: %v %+v", err, old)
	}
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestLockSerialises(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.ndjson")
	ctx := context.Background()
	unlock, err := Lock(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		u2, err := Lock(ctx, path)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		order = append(order, "second")
		mu.Unlock()
		u2()
	}()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	order = append(order, "first")
	mu.Unlock()
	unlock()
	<-done
	if strings.Join(order, ",") != "first,second" {
		t.Errorf("order %v: the second lock did not wait", order)
	}
	held, _ := Lock(ctx, path)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Lock(tctx, path); err == nil {
		t.Error("lock taken twice")
	}
	held()
}

func FuzzRead(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add(encode(f, state.NewBaseline()))
	f.Add([]byte(`{"type":"baseline","version":1}` + "\n" + `{"type":"baseline-end","hosts":0,"ports":0,"crc32c":"00000000"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		// What was read writes back and reads again to the same.
		again, err := Read(bytes.NewReader(encode(t, b)), "again")
		if err != nil {
			t.Fatalf("rewritten baseline refused: %v", err)
		}
		if again.PortCount() != b.PortCount() || len(again.Hosts) != len(b.Hosts) {
			t.Fatalf("rewrite changed counts")
		}
	})
}
