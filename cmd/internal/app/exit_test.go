package app

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("x"), ExitFailure},
		{"usage", Usagef("bad %s", "flag"), ExitUsage},
		{"wrapped usage", fmt.Errorf("outer: %w", Usagef("inner")), ExitUsage},
		{"signal", &SignalError{Signal: syscall.SIGINT}, 130},
		{"with code", WithCode(7, errors.New("x")), 7},
		{"with code nil", WithCode(7, nil), ExitOK},
		{"status", Status(1), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Code(tc.err); got != tc.want {
				t.Errorf("Code(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestSignalContext(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled by SIGTERM")
	}
	if got := context.Cause(ctx).Error(); got != "SIGTERM" {
		t.Errorf("cause = %q, want SIGTERM", got)
	}
	if got := Code(context.Cause(ctx)); got != 143 {
		t.Errorf("exit code %d, want 143", got)
	}
}

func TestQuoteIfNeeded(t *testing.T) {
	tests := []struct {
		in    string
		value bool
		want  string
	}{
		{"plain", true, "plain"},
		{"two words", true, `"two words"`},
		{"two words", false, "two words"},
		{"line\nbreak", false, `"line\nbreak"`},
		{"esc\x1b[31m", true, `"esc\x1b[31m"`},
		{"", true, `""`},
	}
	for _, tc := range tests {
		if got := quoteIfNeeded(tc.in, tc.value); got != tc.want {
			t.Errorf("quoteIfNeeded(%q, %v) = %s, want %s", tc.in, tc.value, got, tc.want)
		}
	}
}
