//go:build !linux

package log

import (
	"errors"
	"os"
)

// fdatasync falls back to a full fsync where fdatasync is unavailable.
func fdatasync(f *os.File) error { return f.Sync() }

var errPreallocateUnsupported = errors.New("log: preallocation not supported")

// preallocate is a no-op outside Linux: files grow as they are written.
func preallocate(*os.File, int64) error { return errPreallocateUnsupported }
