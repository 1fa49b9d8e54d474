//go:build !linux

package watch

import (
	"errors"
	"syscall"
)

// groupAlive reports whether any process of group pgid still exists.
// Without /proc, a zombie member counts as alive.
func groupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}
