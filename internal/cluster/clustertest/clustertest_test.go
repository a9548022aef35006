package clustertest_test

import (
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

func TestStoresAreIsolated(t *testing.T) {
	a, b := clustertest.Store(t), clustertest.Store(t)
	if a.Namespace() == b.Namespace() {
		t.Fatalf("two stores share namespace %q", a.Namespace())
	}
	again, err := cluster.Connect(t.Context(), clustertest.Etcd(t), a.Namespace(), cluster.WithLogger(clustertest.Logger))
	if err != nil {
		t.Fatalf("namespace %q: %v", a.Namespace(), err)
	}
	again.Close()
	ctx := t.Context()
	if _, err := a.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Partitions: make([]cluster.PartitionState, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Partitions: make([]cluster.PartitionState, 1)}); err != nil {
		t.Fatalf("same topic in another namespace: %v", err)
	}
	t.Run("sub/test", func(t *testing.T) {
		if ns := clustertest.Namespace(t); ns == "" {
			t.Fatal("empty namespace")
		}
	})
}
