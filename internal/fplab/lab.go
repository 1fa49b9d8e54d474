package fplab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Lab is a running lab: its state directory and its network namespace.
type Lab struct {
	Dir      string
	NetNS    string
	Services []Service
	script   string
}

// Root returns the module's root directory, found by walking up from the
// working directory to go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Missing returns the lab's packages that are not installed, using the
// list in services.sh.
func Missing(ctx context.Context, root string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(root, "testdata", "lab", "services.sh"), "packages").Output()
	if err != nil {
		return nil, fmt.Errorf("list the lab's packages: %w", err)
	}
	var missing []string
	for _, pkg := range strings.Fields(string(out)) {
		st, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", pkg).Output()
		if err != nil || !strings.Contains(string(st), "install ok installed") {
			missing = append(missing, pkg)
		}
	}
	return missing, nil
}

// Up starts the lab with its state in dir and reads its truth. The lab's
// messages (which daemons did not come up) go to log.
func Up(ctx context.Context, root, dir string, log *bytes.Buffer) (*Lab, error) {
	script := filepath.Join(root, "testdata", "lab", "services.sh")
	cmd := exec.CommandContext(ctx, "bash", script, "up", dir)
	cmd.Stdout, cmd.Stderr = log, log
	l := &Lab{Dir: dir, script: script}
	if err := cmd.Run(); err != nil {
		return l, fmt.Errorf("services.sh up: %w", err)
	}
	ns, err := os.ReadFile(filepath.Join(dir, "netns"))
	if err != nil {
		return l, fmt.Errorf("lab namespace: %w", err)
	}
	l.NetNS = strings.TrimSpace(string(ns))
	l.Services, err = ReadTruth(filepath.Join(dir, "truth.tsv"))
	return l, err
}

// Down stops the lab's daemons and deletes its namespace.
func (l *Lab) Down(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "bash", l.script, "down", l.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("services.sh down: %w: %s", err, out)
	}
	return nil
}

// Command returns a command that runs inside the lab's namespace.
func (l *Lab) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.NetNS, name}, args...)...)
}
