package etcdmember_test

import (
	"context"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// testCtx returns a context that ends with the test or after 30 s.
func testCtx(t *testing.T) context.Context { return clustertest.Context(t) }

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
