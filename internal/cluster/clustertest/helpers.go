package clustertest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// Context returns a context that ends with the test, and after a generous
// bound: a hung etcd call fails the test instead of hanging it.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// LogBuffer is a log destination that goroutines write while the test
// reads it.
type LogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Member starts a single etcd member of its own in dir, stopped when the
// test ends, for tests that stop or break a member (the others share
// Etcd's).
func Member(t testing.TB, dir string) *etcdmember.Member {
	t.Helper()
	e, err := etcdmember.Start(Context(t), etcdmember.Config{Dir: dir, UnsafeNoFsync: true, Logger: Logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// Connect opens a store on the members at endpoints, in namespace,
// closed when the test ends.
func Connect(t testing.TB, endpoints []string, namespace string, opts ...cluster.Option) *cluster.Store {
	t.Helper()
	s, err := cluster.Connect(Context(t), endpoints, namespace, append([]cluster.Option{cluster.WithLogger(Logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
