package cluster

import "time"

// Hooks for the external tests (package cluster_test).

// SetBeforeWatch makes c call fn between each load and the watch that
// follows it.
func SetBeforeWatch(c *Cache, fn func(rev int64)) { c.beforeWatch = fn }

// SocketDir exposes the choice of the unix socket directory.
var SocketDir = socketDir

// SetWaitLogInterval sets how often waits for etcd are logged, until the
// test ends.
func SetWaitLogInterval(t interface{ Cleanup(func()) }, d time.Duration) {
	old := waitLogInterval
	waitLogInterval = d
	t.Cleanup(func() { waitLogInterval = old })
}
