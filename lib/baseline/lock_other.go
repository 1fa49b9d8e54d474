//go:build !unix

package baseline

import (
	"context"
	"errors"
)

// LockPath is the lock file of the baseline at path: path + ".lock".
func LockPath(path string) string { return path + ".lock" }

// Lock is not implemented on this system: updating a baseline needs
// flock(2).
func Lock(ctx context.Context, path string) (unlock func() error, err error) {
	return nil, errors.New("lock baseline: not supported on this system")
}
