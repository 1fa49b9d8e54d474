package connect

import (
	"syscall"
	"testing"

	"github.com/picketscan/picket/lib/scan"
)

// TestClassifyLinux covers the errno Linux gives an ICMP "host isolated".
func TestClassifyLinux(t *testing.T) {
	if state, why, ok := classify(syscall.ENONET); !ok || state != scan.StateFiltered || why != scan.ReasonHostUnreach {
		t.Errorf("ENONET: %s/%s %v, want filtered/host-unreach", state, why, ok)
	}
}
