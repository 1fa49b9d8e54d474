//go:build unix

package baseline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// LockPath is the lock file of the baseline at path: path + ".lock".
func LockPath(path string) string { return path + ".lock" }

// Lock takes an exclusive lock (flock) on the lock file next to the
// baseline, waiting until it is free or ctx ends. Runs that update one
// baseline hold it from reading the baseline until the new one is in
// place, so overlapping runs take turns and neither loses the other's
// update. The lock file is never removed: removing it would let two runs
// lock two different files. The kernel releases the lock when the process
// dies, so a killed run never leaves it held.
func Lock(ctx context.Context, path string) (unlock func() error, err error) {
	f, err := os.OpenFile(LockPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock baseline: %w", err)
	}
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock baseline %s: %w", LockPath(path), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock baseline %s: %w", LockPath(path), context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
	return func() error {
		// Closing the descriptor releases the lock.
		return f.Close()
	}, nil
}
