package ports

import "testing"

func TestWellKnownName(t *testing.T) {
	tests := []struct {
		port uint16
		p    Proto
		want string
	}{
		{22, TCP, "ssh"},
		{80, TCP, "http"},
		{53, UDP, "domain"},
		{8443, UDP, ""},
		{8443, TCP, "https-alt"},
		{65000, TCP, ""},
	}
	for _, tt := range tests {
		if got := WellKnownName(tt.port, tt.p); got != tt.want {
			t.Errorf("WellKnownName(%d, %v) = %q, want %q", tt.port, tt.p, got, tt.want)
		}
	}
}
