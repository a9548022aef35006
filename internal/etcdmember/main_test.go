package etcdmember_test

import (
	"context"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// testCtx returns a context that ends with the test, and after a generous
// bound: a hung etcd call fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a store on the members at endpoints, closed when the test
// ends: the members are checked through a client, as brokers use them.
func connect(t *testing.T, endpoints []string, namespace string) *cluster.Store {
	t.Helper()
	s, err := cluster.Connect(testCtx(t), endpoints, namespace, cluster.WithLogger(clustertest.Logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newMember starts a single member in dir for the test.
func newMember(t *testing.T, dir string) *etcdmember.Member {
	t.Helper()
	e, err := etcdmember.Start(testCtx(t), etcdmember.Config{Dir: dir, UnsafeNoFsync: true, Logger: clustertest.Logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}
