//go:build unix

package etcdmember

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on path (created if
// needed). The lock lasts until the file is closed or the process dies, so a
// crashed broker never leaves a stale lock behind.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another process", ErrDirLocked, path)
		}
		return nil, fmt.Errorf("etcdmember: locking %s: %w", path, err)
	}
	return f, nil
}

// checkPrivateDir verifies that dir is a real directory (not a symlink)
// owned by us and closed to others, so that nobody else can put a socket of
// their own where we will listen.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("etcdmember: %s must be a directory owned by uid %d with mode 0700", dir, os.Getuid())
	}
	return nil
}
