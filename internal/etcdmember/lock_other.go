//go:build !unix

package etcdmember

import "os"

// lockFile opens path; other systems get no lock.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

func checkPrivateDir(dir string) error { return nil }
