package file

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/picketscan/picket/internal/notifytest"
	"github.com/picketscan/picket/lib/notify"
)

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.ndjson")
	if err := os.WriteFile(path, []byte(`{"type":"alert","key":"old"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if err := s.Send(context.Background(), notifytest.Alert(k, notifytest.Hostile)); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var keys []string
	for sc.Scan() {
		var p notify.Payload
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		keys = append(keys, p.Key)
	}
	if len(keys) != 3 || keys[0] != "old" || keys[1] != "k1" || keys[2] != "k2" {
		t.Errorf("keys %v", keys)
	}
	bad, _ := New(Options{Path: filepath.Join(t.TempDir(), "missing-dir", "x")})
	if err := bad.Send(context.Background(), notifytest.Alert("k", notifytest.Hostile)); err == nil {
		t.Error("no error for a file that cannot be opened")
	}
}
