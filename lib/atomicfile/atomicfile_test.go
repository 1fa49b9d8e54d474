package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReplace replaces a file, checks content and mode, and checks that a
// failing fill leaves the old file and no temporary file behind.
func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := Replace(dir, "f", ".f.tmp-", 0o600, write("new")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "new" {
		t.Errorf("content %q, want new", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	boom := errors.New("boom")
	err := Replace(dir, "f", ".f.tmp-", 0o600, func(w io.Writer) error { io.WriteString(w, "half"); return boom })
	if !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "new" {
		t.Errorf("after a failed fill: content %q, want new", data)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left: %v", ents)
	}
	if err := Replace(filepath.Join(dir, "missing"), "f", ".f.tmp-", 0o600, write("x")); err == nil {
		t.Error("a missing directory was accepted")
	}
}
