package log

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data and the metadata needed to read it back,
// skipping timestamps, which is cheaper than fsync.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// errPreallocateUnsupported reports that the file system cannot reserve
// space up front; callers then simply grow files as they write.
var errPreallocateUnsupported = errors.New("log: preallocation not supported")

// preallocate reserves size bytes for f and extends it to that length.
// Writes into reserved space need no block allocation, which makes each
// later fdatasync cheaper.
func preallocate(f *os.File, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fallocate(int(fd), 0, 0, size)
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	switch serr {
	case nil:
		return nil
	case unix.EOPNOTSUPP, unix.ENOSYS:
		return errPreallocateUnsupported
	}
	return &os.PathError{Op: "fallocate", Path: f.Name(), Err: serr}
}
