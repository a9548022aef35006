package cluster_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func getJSON(t *testing.T, s *cluster.Store, key string) map[string]any {
	t.Helper()
	resp, err := s.Client().Get(testCtx(t), "/"+s.Namespace()+"/"+key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get %s: %v, %v", key, resp, err)
	}
	var v map[string]any
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil {
		t.Fatalf("%s = %s: %v", key, resp.Kvs[0].Value, err)
	}
	return v
}

func countKeys(t *testing.T, s *cluster.Store, prefix string) int64 {
	t.Helper()
	resp, err := s.Client().Get(testCtx(t), "/"+s.Namespace()+"/"+prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

func TestCreateTopic(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	rev, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "orders", Configs: map[string]string{"retention.ms": "1000"}, Partitions: partitions(3)})
	if err != nil || rev == 0 {
		t.Fatalf("CreateTopic = %d, %v", rev, err)
	}
	topic := getJSON(t, s, "topics/orders")
	if topic["partitions"] != 3.0 || topic["configs"].(map[string]any)["retention.ms"] != "1000" {
		t.Errorf("topic value %v", topic)
	}
	if id, err := cluster.ParseID(topic["id"].(string)); err != nil || id == ([16]byte{}) {
		t.Errorf("topic id %v: %v", topic["id"], err)
	}
	p := getJSON(t, s, "partitions/orders/1")
	want := map[string]any{"replicas": []any{2.0, 3.0, 1.0}, "leader": 2.0, "leaderEpoch": 0.0, "isr": []any{2.0, 3.0, 1.0}, "partitionEpoch": 0.0}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Errorf("partition value %v; want %v", p, want)
	}

	_, err = s.CreateTopic(ctx, cluster.TopicSpec{Name: "orders", Partitions: partitions(1)})
	if !errors.Is(err, cluster.ErrTopicExists) {
		t.Fatalf("second CreateTopic: %v; want ErrTopicExists", err)
	}
	for _, spec := range []cluster.TopicSpec{
		{Name: "bad/name", Partitions: partitions(1)},
		{Name: "..", Partitions: partitions(1)},
		{Name: "nopartitions"},
	} {
		if _, err := s.CreateTopic(ctx, spec); !errors.Is(err, cluster.ErrInvalidTopic) && !errors.Is(err, cluster.ErrInvalidPartitions) {
			t.Errorf("CreateTopic(%q, %d partitions): %v", spec.Name, len(spec.Partitions), err)
		}
	}
}

// TestCreateTopicManyPartitions: more partitions than one transaction may
// hold are written in several.
func TestCreateTopicManyPartitions(t *testing.T) {
	s := clustertest.Store(t, cluster.WithMaxTxnOps(8))
	ctx := testCtx(t)
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "wide", Partitions: partitions(30)}); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, "partitions/wide/"); n != 30 {
		t.Fatalf("%d partition keys; want 30", n)
	}
	if _, err := s.CreatePartitions(ctx, "wide", 30, partitions(20)); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, "partitions/wide/"); n != 50 || getJSON(t, s, "topics/wide")["partitions"] != 50.0 {
		t.Fatalf("%d partition keys after adding 20 to 30", n)
	}
	// The default limit of an external etcd (128) against the embedded
	// member (4096): 1000 partitions take 8 transactions.
	s128 := connect(t, clustertest.Etcd(t), s.Namespace())
	if _, err := s128.CreateTopic(ctx, cluster.TopicSpec{Name: "wider", Partitions: partitions(1000)}); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, "partitions/wider/"); n != 1000 {
		t.Fatalf("%d partition keys; want 1000", n)
	}
}

func TestDeleteTopic(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	for _, name := range []string{"a", "ab"} {
		if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: name, Partitions: partitions(4)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteTopic(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Only a's keys went: "ab" shares a's name as a prefix, not its keys.
	if n, m := countKeys(t, s, "partitions/a/"), countKeys(t, s, "partitions/ab/"); n != 0 || m != 4 {
		t.Fatalf("after deleting a: %d partitions of a, %d of ab", n, m)
	}
	if _, err := s.DeleteTopic(ctx, "a"); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Fatalf("deleting a again: %v; want ErrUnknownTopic", err)
	}
	// A recreated topic gets a new id.
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "a", Partitions: partitions(1)}); err != nil {
		t.Fatal(err)
	}
}

func TestCreatePartitions(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Configs: map[string]string{"k": "v"}, Partitions: partitions(2)}); err != nil {
		t.Fatal(err)
	}
	id := getJSON(t, s, "topics/t")["id"]
	if _, err := s.CreatePartitions(ctx, "t", 2, partitions(3)); err != nil {
		t.Fatal(err)
	}
	topic := getJSON(t, s, "topics/t")
	if topic["partitions"] != 5.0 || topic["id"] != id || topic["configs"].(map[string]any)["k"] != "v" {
		t.Fatalf("after growing to 5: %v", topic)
	}
	// A request computed against the old count fails instead of growing
	// the topic twice.
	if _, err := s.CreatePartitions(ctx, "t", 2, partitions(3)); !errors.Is(err, cluster.ErrInvalidPartitions) {
		t.Fatalf("stale CreatePartitions: %v; want ErrInvalidPartitions", err)
	}
	if _, err := s.CreatePartitions(ctx, "t", 5, nil); !errors.Is(err, cluster.ErrInvalidPartitions) {
		t.Fatalf("adding no partitions: %v; want ErrInvalidPartitions", err)
	}
	if _, err := s.CreatePartitions(ctx, "nope", 1, partitions(1)); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v; want ErrUnknownTopic", err)
	}
}

func TestTopicConfigs(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Configs: map[string]string{"a": "1"}, Partitions: partitions(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTopicConfigs(ctx, "t", map[string]string{"b": "2"}); err != nil {
		t.Fatal(err)
	}
	// Concurrent incremental updates do not lose each other's changes.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := s.UpdateTopicConfigs(ctx, "t", func(m map[string]string) error {
				m[fmt.Sprint("k", i)] = "x"
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	configs := getJSON(t, s, "topics/t")["configs"].(map[string]any)
	keys := slices.Sorted(maps.Keys(configs))
	if fmt.Sprint(keys) != "[b k0 k1 k2 k3 k4 k5 k6 k7]" {
		t.Fatalf("configs %v", configs)
	}
	abort := errors.New("abort")
	if _, err := s.UpdateTopicConfigs(ctx, "t", func(map[string]string) error { return abort }); err != abort {
		t.Fatalf("aborted update: %v", err)
	}
	if _, err := s.SetTopicConfigs(ctx, "nope", nil); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
}

func TestUpdatePartition(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Partitions: []cluster.PartitionState{{Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1}}}}); err != nil {
		t.Fatal(err)
	}
	// Concurrent writers (a leader and the controller, say) each apply
	// their change to the latest state: none is lost.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			_, _, err := s.UpdatePartition(ctx, "t", 0, func(p *cluster.PartitionState) error {
				p.Adding = append(p.Adding, int32(10+i))
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	state, rev, err := s.UpdatePartition(ctx, "t", 0, func(p *cluster.PartitionState) error {
		p.ISR = append(p.ISR, 2)
		p.PartitionEpoch = 100 // ignored: UpdatePartition owns the epoch
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(state.Adding)
	if state.PartitionEpoch != 7 || state.Revision != rev || fmt.Sprint(state.Adding) != "[10 11 12 13 14 15]" || fmt.Sprint(state.ISR) != "[1 2]" {
		t.Fatalf("state %+v at %d", state, rev)
	}

	// A change that changes nothing writes nothing.
	same, rev2, err := s.UpdatePartition(ctx, "t", 0, func(*cluster.PartitionState) error { return nil })
	if err != nil || rev2 != rev || same.PartitionEpoch != 7 {
		t.Fatalf("no-op update: %+v at %d, %v; want epoch 7 at %d", same, rev2, err, rev)
	}

	// fn fences: a stale leader epoch aborts the update.
	errFenced := errors.New("fenced")
	_, _, err = s.UpdatePartition(ctx, "t", 0, func(p *cluster.PartitionState) error {
		if p.LeaderEpoch != 3 {
			return errFenced
		}
		return nil
	})
	if err != errFenced {
		t.Fatalf("fenced update: %v", err)
	}
	if _, _, err := s.UpdatePartition(ctx, "t", 1, func(*cluster.PartitionState) error { return nil }); !errors.Is(err, cluster.ErrUnknownPartition) {
		t.Fatalf("partition 1 of 1: %v; want ErrUnknownPartition", err)
	}
	if _, _, err := s.UpdatePartition(ctx, "nope", 0, func(*cluster.PartitionState) error { return nil }); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v; want ErrUnknownTopic", err)
	}
}

// TestUpdatePartitionIf: the extra conditions fence the writer; a conflict
// on the partition key is still retried.
func TestUpdatePartitionIf(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Partitions: []cluster.PartitionState{{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}}}}); err != nil {
		t.Fatal(err)
	}
	fence := "/" + s.Namespace() + "/fence"
	put, err := s.Client().Put(ctx, fence, "x")
	if err != nil {
		t.Fatal(err)
	}
	held := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(fence), "=", put.Header.Revision)}

	// A conflicting write between the read and the transaction makes
	// UpdatePartitionIf re-read and apply fn to the fresh state.
	rounds := 0
	state, rev, err := s.UpdatePartitionIf(ctx, "t", 0, held, func(p *cluster.PartitionState) error {
		rounds++
		if rounds == 1 {
			if _, _, err := s.UpdatePartition(ctx, "t", 0, func(p *cluster.PartitionState) error {
				p.ISR = []int32{1}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}
		p.LeaderEpoch++
		return nil
	})
	if err != nil || rounds != 2 || state.LeaderEpoch != 1 || fmt.Sprint(state.ISR) != "[1]" || state.PartitionEpoch != 2 || state.Revision != rev {
		t.Fatalf("after a conflict: %+v at %d, %v (%d rounds)", state, rev, err, rounds)
	}
	if resp, err := s.Client().Get(ctx, "/"+s.Namespace()+"/partitions/t/0"); err != nil || resp.Kvs[0].ModRevision != rev {
		t.Fatalf("returned revision %d; key: %v, %v", rev, resp, err)
	}

	// Once the condition fails (the fence key was recreated: another
	// election), nothing is written.
	if _, err := s.Client().Delete(ctx, fence); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Put(ctx, fence, "y"); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.UpdatePartitionIf(ctx, "t", 0, held, func(p *cluster.PartitionState) error {
		p.Leader = 2
		return nil
	})
	if !errors.Is(err, cluster.ErrConditionFailed) {
		t.Fatalf("fenced write: %v; want ErrConditionFailed", err)
	}
	if v := getJSON(t, s, "partitions/t/0"); v["leader"] != 1.0 || v["partitionEpoch"] != 2.0 {
		t.Fatalf("fenced write applied: %v", v)
	}
}

// TestWritePartitions writes several partitions in one transaction: all
// of them when every one is still at the state they were decided from,
// none when one changed (ErrStale) or the condition failed.
func TestWritePartitions(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	ps := []cluster.PartitionState{
		{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}},
		{Replicas: []int32{2, 1}, Leader: 2, ISR: []int32{2, 1}},
	}
	if _, err := s.CreateTopic(ctx, cluster.TopicSpec{Name: "t", Partitions: ps}); err != nil {
		t.Fatal(err)
	}
	read := func(i int32) cluster.PartitionState {
		t.Helper()
		p, _, err := s.UpdatePartition(ctx, "t", i, func(*cluster.PartitionState) error { return nil }) // a read
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	writes := func(leader int32) []cluster.PartitionWrite {
		var ws []cluster.PartitionWrite
		for i := range int32(2) {
			known := read(i)
			next := known.Clone()
			next.Leader, next.LeaderEpoch = leader, known.LeaderEpoch+1
			ws = append(ws, cluster.PartitionWrite{Topic: "t", Partition: i, Known: known, Next: next})
		}
		return ws
	}

	rev, err := s.WritePartitions(ctx, writes(2), nil)
	if err != nil || rev == 0 {
		t.Fatalf("WritePartitions = %d, %v", rev, err)
	}
	for i := range int32(2) {
		if p := read(i); p.Leader != 2 || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 || p.Revision != rev {
			t.Errorf("partition %d after the batch: %+v, want leader 2 at epoch 1, partition epoch 1, revision %d", i, p, rev)
		}
	}

	stale := writes(1)
	if _, _, err := s.UpdatePartition(ctx, "t", 1, func(p *cluster.PartitionState) error { p.ISR = []int32{2}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WritePartitions(ctx, stale, nil); !errors.Is(err, cluster.ErrStale) {
		t.Fatalf("a batch over a changed partition: %v, want ErrStale", err)
	}
	if p := read(0); p.Leader != 2 {
		t.Errorf("partition 0 written by a stale batch: %+v", p)
	}

	fence := "/" + s.Namespace() + "/fence"
	cond := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(fence), "=", 12345)}
	if _, err := s.WritePartitions(ctx, writes(1), cond); !errors.Is(err, cluster.ErrConditionFailed) {
		t.Fatalf("a fenced batch: %v, want ErrConditionFailed", err)
	}
	if p := read(0); p.Leader != 2 {
		t.Errorf("partition 0 written by a fenced batch: %+v", p)
	}
}
