package cluster

// Hooks for the external tests (package cluster_test).

// SetBeforeWatch makes c call fn between each load and the watch that
// follows it.
func SetBeforeWatch(c *Cache, fn func(rev int64)) { c.beforeWatch = fn }
