package cluster_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

func TestConnectNamespace(t *testing.T) {
	endpoints := clustertest.Etcd(t)
	for _, ns := range []string{"a/b", ".", "x y", "/spotstream"} {
		if _, err := cluster.Connect(testCtx(t), endpoints, ns); err == nil || !strings.HasPrefix(err.Error(), "cluster: ") {
			t.Errorf("Connect namespace %q: err = %v; want a cluster: error", ns, err)
		}
	}
	s := connect(t, endpoints, "")
	if s.Namespace() != cluster.DefaultNamespace || s.ControllerKey() != "/spotstream/controller" {
		t.Errorf("default namespace %q, controller key %q", s.Namespace(), s.ControllerKey())
	}
}

func TestClusterIDCreatedOnce(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			var err error
			if ids[i], err = s.ClusterID(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first brokers disagree: %v", ids)
		}
	}
	if _, err := cluster.ParseID(ids[0]); err != nil || ids[0][0] == '-' {
		t.Fatalf("cluster id %q: %v", ids[0], err)
	}
	resp, err := s.Client().Get(ctx, "/"+s.Namespace()+"/cluster/id")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ ID string }
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil || v.ID != ids[0] {
		t.Fatalf("stored %s: %v", resp.Kvs[0].Value, err)
	}
}

// TestAllocateProducerIDs runs allocators on two stores (two brokers) at
// once and checks that no id is handed out twice.
func TestAllocateProducerIDs(t *testing.T) {
	s1 := clustertest.Store(t)
	s2 := connect(t, clustertest.Etcd(t), s1.Namespace())
	ctx := testCtx(t)
	const block, perWorker = 10, 15
	var mu sync.Mutex
	var firsts []int64
	var wg sync.WaitGroup
	for w := range 6 {
		s := []*cluster.Store{s1, s2}[w%2]
		wg.Go(func() {
			for range perWorker {
				first, err := s.AllocateProducerIDs(ctx, block)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				firsts = append(firsts, first)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(firsts)
	for i, f := range firsts {
		if f != int64(i*block) {
			t.Fatalf("blocks overlap or leave gaps: block %d starts at %d: %v", i, f, firsts)
		}
	}
	// A restarted broker continues after every block handed out.
	s3 := connect(t, clustertest.Etcd(t), s1.Namespace())
	if first, err := s3.AllocateProducerIDs(ctx, 1); err != nil || first != int64(len(firsts)*block) {
		t.Fatalf("after restart: first = %d, %v; want %d", first, err, len(firsts)*block)
	}
	if _, err := s3.AllocateProducerIDs(ctx, 0); err == nil {
		t.Fatal("block size 0 accepted")
	}
}
