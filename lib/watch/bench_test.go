package watch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFilter measures the decision for one changed path against the
// default ignores, an ignore file's worth of patterns and two globs.
func BenchmarkFilter(b *testing.B) {
	cfg := Config{
		Paths:   []string{b.TempDir()},
		Ignores: []string{"out/", "*.log", "!keep.log", "/build/", "**/cache/**", "*.gen.*"},
		Globs:   []string{"*.txt", "conf/*.yaml"},
	}
	roots, err := resolveRoots(cfg.Paths, true)
	if err != nil {
		b.Fatal(err)
	}
	f, err := cfg.filter(roots)
	if err != nil {
		b.Fatal(err)
	}
	root := roots[0].dir
	path := filepath.Join(root, "a/b/c/targets.txt")
	b.ReportAllocs()
	for b.Loop() {
		f.Triggers(root, path, false)
	}
}

// endSignal is an events writer that reports each run's end.
type endSignal chan struct{}

func (e endSignal) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"phase":"end"`)) {
		e <- struct{}{}
	}
	return len(p), nil
}

// BenchmarkChangeToRun measures the time from writing a watched file to
// the end of the run it triggers, with a 1ms debounce and `true` as the
// command: inotify, the debounce, fork and exec, and the wait.
func BenchmarkChangeToRun(b *testing.B) {
	dir := b.TempDir()
	ends := make(endSignal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Command: []string{"true"}, Paths: []string{dir}, Initial: true,
			Debounce: time.Millisecond, Events: ends,
		})
	}()
	<-ends // the initial run: the folder is watched
	file := filepath.Join(dir, "targets.txt")
	i := 0
	for b.Loop() {
		i++
		if err := os.WriteFile(file, []byte(fmt.Sprint(i)), 0o644); err != nil {
			b.Fatal(err)
		}
		<-ends
	}
	cancel()
	<-done
}
