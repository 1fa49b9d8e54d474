package scan

import "testing"

// TestICMPReason checks the name of every ICMP and ICMPv6 error type
// and code, and that messages which are not errors have no name.
func TestICMPReason(t *testing.T) {
	tests := []struct {
		v6        bool
		typ, code uint8
		want      string
	}{
		{false, 3, 0, "net-unreach"},
		{false, 3, 1, "host-unreach"},
		{false, 3, 2, "proto-unreach"},
		{false, 3, 3, "port-unreach"},
		{false, 3, 4, "dest-unreach"},
		{false, 3, 5, "dest-unreach"},
		{false, 3, 6, "net-unreach"},
		{false, 3, 7, "host-unreach"},
		{false, 3, 8, "host-unreach"},
		{false, 3, 9, "net-prohibited"},
		{false, 3, 10, "host-prohibited"},
		{false, 3, 11, "net-unreach"},
		{false, 3, 12, "host-unreach"},
		{false, 3, 13, "admin-prohibited"},
		{false, 3, 14, "admin-prohibited"},
		{false, 3, 15, "admin-prohibited"},
		{false, 4, 0, "source-quench"},
		{false, 11, 0, "time-exceeded"},
		{false, 11, 1, "time-exceeded"},
		{false, 12, 0, "param-problem"},
		{false, 0, 0, ""},  // echo reply
		{false, 8, 0, ""},  // echo request
		{false, 14, 0, ""}, // timestamp reply
		{true, 1, 0, "no-route"},
		{true, 1, 1, "admin-prohibited"},
		{true, 1, 2, "beyond-scope"},
		{true, 1, 3, "host-unreach"},
		{true, 1, 4, "port-unreach"},
		{true, 1, 5, "admin-prohibited"},
		{true, 1, 6, "reject-route"},
		{true, 1, 7, "dest-unreach"},
		{true, 2, 0, "dest-unreach"},
		{true, 3, 0, "time-exceeded"},
		{true, 4, 0, "param-problem"},
		{true, 128, 0, ""}, // echo request
		{true, 129, 0, ""}, // echo reply
	}
	for _, tc := range tests {
		if got := ICMPReason(tc.v6, tc.typ, tc.code); got != tc.want {
			t.Errorf("v6 %v type %d code %d: %q, want %q", tc.v6, tc.typ, tc.code, got, tc.want)
		}
	}
}
