package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const limitChildEnv = "PICKET_WATCH_LIMIT_CHILD"

// TestWatchLimitGivesAClearError runs itself again in a new user
// namespace, where the inotify watch limit (user.max_inotify_watches)
// belongs to that namespace alone: lowering it there changes nothing for
// the rest of the machine, unlike fs.inotify.max_user_watches, which is
// global. The child checks that running out of watches, at start and
// when a new folder appears, ends watch with an error that names the
// sysctl to raise.
func TestWatchLimitGivesAClearError(t *testing.T) {
	if os.Getenv(limitChildEnv) == "1" {
		watchLimitChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchLimitGivesAClearError$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), limitChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test in a user namespace (needs user namespaces, e.g. as root): %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestWatchLimitGivesAClearError") {
		t.Fatalf("child did not run the test:\n%s", out)
	}
	t.Logf("child:\n%s", out)
}

func setWatchLimit(t *testing.T, n int) {
	t.Helper()
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte(fmt.Sprintln(n)), 0); err != nil {
		t.Fatalf("lower the watch limit in the user namespace: %v", err)
	}
}

func watchLimitChild(t *testing.T) {
	tree := t.TempDir()
	for i := range 6 {
		if err := os.Mkdir(filepath.Join(tree, fmt.Sprint("d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	checkLimitError := func(err error) {
		t.Helper()
		if !errors.Is(err, ErrWatchLimit) || !errors.Is(err, syscall.ENOSPC) ||
			!strings.Contains(err.Error(), "fs.inotify.max_user_watches") {
			t.Fatalf("error = %v; want the watch limit named", err)
		}
		t.Logf("error: %v", err)
	}

	// At start: 7 folders, 4 watches allowed.
	setWatchLimit(t, 4)
	err := Run(context.Background(), Config{Command: []string{"true"}, Paths: []string{tree}, Recursive: true})
	checkLimitError(err)

	// While running: the 8th folder appears when 7 watches are allowed.
	setWatchLimit(t, 7)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	count := filepath.Join(t.TempDir(), "count")
	go func() {
		done <- Run(ctx, Config{
			Command: []string{"sh", "-c", `echo run >> "$0"`, count},
			Paths:   []string{tree}, Recursive: true, Initial: true, Debounce: time.Millisecond,
		})
	}()
	waitFor(t, "the initial run", deadline, func() bool { _, err := os.Stat(count); return err == nil })
	if err := os.Mkdir(filepath.Join(tree, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		checkLimitError(err)
	case <-time.After(deadline):
		t.Fatal("watch went on without watching the new folder")
	}
}
