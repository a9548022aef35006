package etcdmember

import "errors"

// ErrDirLocked: another process runs an etcd member on the directory.
var ErrDirLocked = errors.New("etcdmember: etcd data directory in use")
