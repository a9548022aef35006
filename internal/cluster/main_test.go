package cluster_test

import (
	"context"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// testCtx returns a context that ends with the test or after 30 s.
func testCtx(t *testing.T) context.Context { return clustertest.Context(t) }

// runCache runs a cache of s until the test ends and waits for its first
// load.
func runCache(t *testing.T, s *cluster.Store) *cluster.Cache {
	t.Helper()
	c := cluster.NewCache(s)
	startCache(t, c)
	return c
}

func startCache(t *testing.T, c *cluster.Cache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Cache.Run: %v", err)
		}
	})
	if err := c.WaitRevision(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
}

// partitions returns n partition states with replicas {1,2,3} rotated.
func partitions(n int) []cluster.PartitionState {
	ps := make([]cluster.PartitionState, n)
	for i := range ps {
		r := []int32{int32(i%3 + 1), int32((i+1)%3 + 1), int32((i+2)%3 + 1)}
		ps[i] = cluster.PartitionState{Replicas: r, Leader: r[0], ISR: r}
	}
	return ps
}

// newMember starts a member of the test's own in dir.
func newMember(t *testing.T, dir string) *etcdmember.Member { return clustertest.Member(t, dir) }

// connect opens a store on endpoints in namespace, closed with the test.
func connect(t *testing.T, endpoints []string, namespace string, opts ...cluster.Option) *cluster.Store {
	return clustertest.Connect(t, endpoints, namespace, opts...)
}
