package service

import (
	"strings"
	"testing"
)

func TestEscapeBanner(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SSH-2.0-x\r\n", `SSH-2.0-x\r\n`},
		{"a\\b\tc\x00\x1b\x7f\xff", `a\\b\tc\x00\x1b\x7f\xff`},
		{"é", `\xc3\xa9`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := EscapeBanner([]byte(tt.in)); got != tt.want {
			t.Errorf("EscapeBanner(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := EscapeBanner([]byte(strings.Repeat("\x01", 3000)))
	if len(long) > MaxBanner || len(long)%4 != 0 || !strings.HasSuffix(long, `\x01`) {
		t.Errorf("long banner: %d bytes, cut inside an escape or too long", len(long))
	}
}
