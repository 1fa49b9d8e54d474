// Package atomicfile replaces files so that a crash or a kill at any
// moment leaves either the old file or the new one, whole: the new content
// goes to a temporary file in the same directory, which is synced, renamed
// over the old name, and the directory synced. The baseline (lib/baseline)
// and the alert spool (lib/notify) both write this way.
package atomicfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CreateSynced writes a new file in dir, named prefix and a random
// suffix, through fill, gives it mode and syncs it; it returns its path.
// On error nothing is left behind. The caller renames the file into place
// (and then calls SyncDir), or removes it.
func CreateSynced(dir, prefix string, mode fs.FileMode, fill func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := fill(f); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// Replace atomically and durably replaces dir/name with what fill writes:
// CreateSynced (with the temporary name prefix), rename, SyncDir.
func Replace(dir, name, prefix string, mode fs.FileMode, fill func(io.Writer) error) error {
	tmp, err := CreateSynced(dir, prefix, mode, fill)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir syncs the directory dir, so that a rename or a new file in it
// survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
