package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// wait waits until the cache reflects rev and returns the snapshot.
func wait(t *testing.T, c *cluster.Cache, rev int64) *cluster.Snapshot {
	t.Helper()
	if err := c.WaitRevision(testCtx(t), rev); err != nil {
		t.Fatal(err)
	}
	return c.Load()
}

func must(t *testing.T) func(int64, error) int64 {
	return func(rev int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
}

// describe renders what the tests compare: brokers, topics, partitions.
func describe(s *cluster.Snapshot) string {
	out := fmt.Sprintf("cluster %q brokers", s.ClusterID)
	for _, id := range slices.Sorted(mapsKeys(s.Brokers)) {
		b := s.Brokers[id]
		out += fmt.Sprintf(" %d:%s:%d", id, b.State, b.Port)
	}
	for _, name := range slices.Sorted(mapsKeys(s.Topics)) {
		tp := s.Topics[name]
		if s.TopicsByID[tp.ID] != tp {
			out += " (TopicsByID out of sync)"
		}
		out += fmt.Sprintf(" | %s %v", name, tp.Configs)
		for _, p := range tp.Partitions {
			if !p.Available() {
				out += " -"
				continue
			}
			out += fmt.Sprintf(" %v/%d/%v", p.Replicas, p.Leader, p.ISR)
		}
	}
	return out
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestCacheFollowsStore(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	c := runCache(t, s)
	if got := describe(c.Load()); got != `cluster "" brokers` {
		t.Fatalf("empty namespace: %s", got)
	}

	id, err := s.ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Register(ctx, cluster.Registration{ID: 1, Port: 9092}, time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	must(t)(sess.SetState(ctx, cluster.StateRunning))
	must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "a", Partitions: partitions(2)}))
	rev := must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "b", Configs: map[string]string{"x": "1"}, Partitions: partitions(1)}))
	snap := wait(t, c, rev)
	want := fmt.Sprintf(`cluster %q brokers 1:running:9092 | a map[] [1 2 3]/1/[1 2 3] [2 3 1]/2/[2 3 1] | b map[x:1] [1 2 3]/1/[1 2 3]`, id)
	if got := describe(snap); got != want {
		t.Fatalf("snapshot\n got %s\nwant %s", got, want)
	}

	// A change to a copies a, and shares b with the previous snapshot.
	_, rev, err = s.UpdatePartition(ctx, "a", 1, func(p *cluster.PartitionState) error {
		p.ISR = []int32{2}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	next := wait(t, c, rev)
	if next.Topics["b"] != snap.Topics["b"] || next.Topics["a"] == snap.Topics["a"] {
		t.Error("copy-on-write: want b shared and a copied")
	}
	if p, ok := next.Partition("a", 1); !ok || fmt.Sprint(p.ISR) != "[2]" || p.PartitionEpoch != 1 {
		t.Errorf("a-1 = %+v, %v", p, ok)
	}
	if fmt.Sprint(snap.Topics["a"].Partitions[1].ISR) != "[2 3 1]" {
		t.Error("the previous snapshot changed")
	}

	must(t)(s.CreatePartitions(ctx, "b", 1, partitions(2)))
	must(t)(s.SetTopicConfigs(ctx, "b", map[string]string{"y": "2"}))
	must(t)(s.DeleteTopic(ctx, "a"))
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rev = must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "a", Partitions: partitions(1)}))
	snap = wait(t, c, rev)
	want = fmt.Sprintf(`cluster %q brokers | a map[] [1 2 3]/1/[1 2 3] | b map[y:2] [1 2 3]/1/[1 2 3] [1 2 3]/1/[1 2 3] [2 3 1]/2/[2 3 1]`, id)
	if got := describe(snap); got != want {
		t.Fatalf("snapshot\n got %s\nwant %s", got, want)
	}
	if len(snap.TopicsByID) != 2 {
		t.Errorf("TopicsByID holds %d topics; want 2", len(snap.TopicsByID))
	}

	// A fresh cache loads the same state.
	if got := describe(wait(t, runCache(t, s), rev)); got != want {
		t.Fatalf("loaded snapshot\n got %s\nwant %s", got, want)
	}
}

// TestCacheLargeLoad loads more keys than one page holds, and applies a
// transaction of many partitions as one snapshot.
func TestCacheLargeLoad(t *testing.T) {
	s := clustertest.Store(t, cluster.WithMaxTxnOps(etcdmember.MaxTxnOps))
	ctx := testCtx(t)
	rev := must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "big", Partitions: partitions(2500)}))
	c := runCache(t, s)
	if p, ok := wait(t, c, rev).Partition("big", 2499); !ok || p.Leader != 1 {
		t.Fatalf("partition 2499 after load: %+v, %v", p, ok)
	}
	ch := c.Changed()
	before := c.Load()
	rev = must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "big2", Partitions: partitions(3000)}))
	<-ch
	snap := c.Load()
	if snap.Revision != rev || len(snap.Topics["big2"].Partitions) != 3000 || !snap.Topics["big2"].Partitions[2999].Available() {
		t.Fatalf("first snapshot after the creation: revision %d (want %d)", snap.Revision, rev)
	}
	if snap.Topics["big"] != before.Topics["big"] {
		t.Error("the untouched topic was copied")
	}
}

// TestCacheMissingPartitions: a topic whose partitions are still being
// written shows them as not available.
func TestCacheMissingPartitions(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	c := runCache(t, s)
	// A topic key alone, as a creator that died after its first
	// transaction would leave it (here: no partition fitted).
	id := cluster.NewID()
	resp, err := s.Client().Put(ctx, "/"+s.Namespace()+"/topics/half",
		fmt.Sprintf(`{"id":%q,"partitions":2,"configs":{}}`, cluster.FormatID(id)))
	if err != nil {
		t.Fatal(err)
	}
	snap := wait(t, c, resp.Header.Revision)
	if tp := snap.TopicByID(id); tp == nil || len(tp.Partitions) != 2 || tp.Partitions[0].Available() || tp.Partitions[0].Leader != cluster.NoLeader {
		t.Fatalf("half-created topic: %+v", tp)
	}
	if _, ok := snap.Partition("half", 0); ok {
		t.Fatal("Partition reports a missing partition as available")
	}
}

// TestCacheReloadsAfterCompaction: a watch that cannot resume because its
// revision was compacted away ends in a reload, and the cache converges.
func TestCacheReloadsAfterCompaction(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "a", Partitions: partitions(1)}))

	c := cluster.NewCache(s)
	loads := make(chan int64, 4)
	release := make(chan struct{})
	calls := 0 // only the cache's goroutine calls the hook
	cluster.SetBeforeWatch(c, func(rev int64) {
		loads <- rev
		if calls++; calls == 1 {
			<-release
		}
	})
	startCacheAsync(t, c)
	<-loads
	// While the cache sits between its load and its watch: change things,
	// and compact the history the watch would need.
	must(t)(s.DeleteTopic(ctx, "a"))
	rev := must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "b", Partitions: partitions(1)}))
	if _, err := s.Client().Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	close(release)
	snap := wait(t, c, rev)
	if snap.Topic("a") != nil || snap.Topic("b") == nil {
		t.Fatalf("after reload: %s", describe(snap))
	}
	if second := <-loads; second < rev {
		t.Fatalf("reloaded at %d; want >= %d", second, rev)
	}
}

func startCacheAsync(t *testing.T, c *cluster.Cache) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestCacheSurvivesMemberRestart: the client reconnects to a restarted
// member and the watch resumes. (Now and then the member's Close takes
// etcd's 5s graceful-stop timeout, because the cache's watch stream is
// still open: see etcdmember.Member.Close.)
func TestCacheSurvivesMemberRestart(t *testing.T) {
	dir := t.TempDir()
	member := newMember(t, dir)
	s := connect(t, member.Endpoints(), "restart")
	c := runCache(t, s)
	ctx := testCtx(t)
	wait(t, c, must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "before", Partitions: partitions(1)})))

	member.Close()
	newMember(t, dir)
	rev := must(t)(s.CreateTopic(ctx, cluster.TopicSpec{Name: "after", Partitions: partitions(1)}))
	if snap := wait(t, c, rev); snap.Topic("before") == nil || snap.Topic("after") == nil {
		t.Fatalf("after restart: %s", describe(snap))
	}
}

// TestWaitRevisionOutsideNamespace: a revision produced by a write the
// watch does not see (another namespace) is still reached.
func TestWaitRevisionOutsideNamespace(t *testing.T) {
	s := clustertest.Store(t)
	c := runCache(t, s)
	resp, err := s.Client().Put(testCtx(t), "/elsewhere/"+s.Namespace(), "x")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c, resp.Header.Revision)

	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := c.WaitRevision(ctx, resp.Header.Revision+1000); err != context.Canceled {
		t.Fatalf("WaitRevision with a canceled context: %v", err)
	}
}

// TestCacheController: the snapshot names the election's leader, the
// candidate with the lowest create revision, and follows it as candidates
// come and go.
func TestCacheController(t *testing.T) {
	s := clustertest.Store(t)
	ctx := testCtx(t)
	c := runCache(t, s)
	if snap := c.Load(); snap.ControllerID != -1 || snap.ControllerEpoch != 0 {
		t.Fatalf("no election: controller %d epoch %d", snap.ControllerID, snap.ControllerEpoch)
	}
	session := func() *concurrency.Session {
		t.Helper()
		sess, err := concurrency.NewSession(s.Client(), concurrency.WithTTL(30))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sess.Close() })
		return sess
	}
	e1 := concurrency.NewElection(session(), s.ControllerKey())
	if err := e1.Campaign(ctx, cluster.ControllerValue(4)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, func(s *cluster.Snapshot) bool { return s.ControllerID == 4 })
	epoch := c.Load().ControllerEpoch
	sess2 := session()
	// Blocks until the first candidate resigns.
	go concurrency.NewElection(sess2, s.ControllerKey()).Campaign(ctx, cluster.ControllerValue(2))
	// The second candidate waits in line: the controller does not change.
	resp, err := s.Client().Get(ctx, s.ControllerKey()+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	for err == nil && resp.Count < 2 {
		resp, err = s.Client().Get(ctx, s.ControllerKey()+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	}
	if err != nil {
		t.Fatal(err)
	}
	if snap := wait(t, c, resp.Header.Revision); snap.ControllerID != 4 || snap.ControllerEpoch != epoch {
		t.Fatalf("second candidate took over: controller %d epoch %d, want 4 %d", snap.ControllerID, snap.ControllerEpoch, epoch)
	}
	if err := e1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, func(s *cluster.Snapshot) bool { return s.ControllerID == 2 && s.ControllerEpoch > epoch })
	// A malformed value of the leading candidate leaves the controller
	// unknown rather than naming a wrong broker.
	key := fmt.Sprintf("%s/%x", s.ControllerKey(), sess2.Lease())
	if _, err := s.Client().Put(ctx, key, "junk", clientv3.WithLease(sess2.Lease())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, func(s *cluster.Snapshot) bool { return s.ControllerID == -1 })
	if _, err := s.Client().Revoke(ctx, sess2.Lease()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, func(s *cluster.Snapshot) bool { return s.ControllerID == -1 && s.ControllerEpoch == 0 })
}

// waitFor waits until the cache publishes a snapshot for which ok holds.
func waitFor(t *testing.T, c *cluster.Cache, ok func(*cluster.Snapshot) bool) {
	t.Helper()
	ctx := testCtx(t)
	for {
		ch := c.Changed()
		if ok(c.Load()) {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("condition never held; last snapshot at revision %d", c.Load().Revision)
		}
	}
}
