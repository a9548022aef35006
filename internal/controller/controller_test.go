package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/config"
)

// TestElection: one controller at a time, named by every cache; a
// controller that stops hands over at once, without its broker leaving.
func TestElection(t *testing.T) {
	c := newTestCluster(t, 0, 1, 2)
	first := c.active()
	epoch := first.cache.Load().ControllerEpoch
	if epoch == 0 {
		t.Fatal("no controller epoch")
	}

	first.stop()
	delete(c.nodes, first.id)
	second := c.active()
	if second == first {
		t.Fatal("the stopped controller is still active")
	}
	snap := second.cache.Load()
	if snap.ControllerEpoch <= epoch {
		t.Fatalf("controller epoch %d after %d; want it to grow", snap.ControllerEpoch, epoch)
	}
	if _, live := snap.Brokers[first.id]; !live {
		t.Fatalf("broker %d left the cluster with its controller", first.id)
	}
	if first.ctrl.Active() {
		t.Fatal("a stopped controller reports itself active")
	}

	// A controller whose election key disappears while its broker lives
	// (deleted by hand) steps down and campaigns again.
	epoch = snap.ControllerEpoch
	if _, err := second.store.Client().Delete(testCtx(t), second.ctrl.term.Load().key); err != nil {
		t.Fatal(err)
	}
	c.waitAll("a new controller epoch", func(n *node, s *cluster.Snapshot) bool {
		return s.ControllerEpoch > epoch
	})
	third := c.active()
	if t3 := third.ctrl.term.Load(); t3 == nil || t3.rev != third.cache.Load().ControllerEpoch {
		t.Fatalf("active controller's term %+v; snapshot epoch %d", t3, third.cache.Load().ControllerEpoch)
	}
}

// TestFailover: when a leader's broker dies, every partition it led gets
// the next live ISR member as leader, epoch+1 and an ISR without it, fast;
// no other partition changes.
func TestFailover(t *testing.T) {
	c := newTestCluster(t, 0, 1, 2)
	const partitions = 300
	c.createTopic("t", partitions, nil, 0, 1, 2)
	ctrl := c.active()
	dead := (ctrl.id + 1) % 3
	staleSnap := ctrl.cache.Load()
	before := staleSnap.Topic("t").Partitions

	c.kill(dead)
	// Measure from the moment the controller's cache saw the broker go.
	waitSnap(t, ctrl, "the registration to vanish", func(s *cluster.Snapshot) bool {
		_, live := s.Brokers[dead]
		return !live
	})
	seen := time.Now()
	snap := waitSnap(t, ctrl, "new leaders and ISRs", gone("t", dead))
	took := time.Since(seen)
	t.Logf("%d partitions failed over %v after the lease expiry was seen", partitions/3, took)
	if took > 3*time.Second {
		t.Errorf("failover took %v", took)
	}
	checkFailover(t, before, snap.Topic("t").Partitions, dead, snap.Brokers)
	c.waitAll("every cache to agree", func(n *node, s *cluster.Snapshot) bool {
		return s.Revision >= snap.Revision
	})

	// Idempotent: deciding again from a stale snapshot (the partitions as
	// they were before the failover) writes nothing, since each election is
	// decided again on the partition's current state.
	stale := *staleSnap
	stale.Brokers = snap.Brokers
	rev, err := ctrl.ctrl.reconcile(testCtx(t), &stale, ctrl.ctrl.term.Load())
	if err != nil || rev != 0 {
		t.Fatalf("reconciling a stale snapshot: wrote at %d, %v", rev, err)
	}
}

// gone returns a snapshot condition: no partition of topic is led by id or
// has it in its ISR.
func gone(topic string, id int32) func(*cluster.Snapshot) bool {
	return func(s *cluster.Snapshot) bool {
		return !slices.ContainsFunc(s.Topic(topic).Partitions, func(p cluster.PartitionState) bool {
			return p.Leader == id || slices.Contains(p.ISR, id)
		})
	}
}

// checkFailover checks each partition against its state before dead died.
func checkFailover(t *testing.T, before, after []cluster.PartitionState, dead int32, brokers map[int32]cluster.BrokerInfo) {
	t.Helper()
	for i, p := range after {
		old := before[i]
		if old.Leader != dead {
			// Only the dead broker leaves the ISR of the partitions it
			// followed; their leader and epoch stay.
			if p.Leader != old.Leader || p.LeaderEpoch != old.LeaderEpoch || !slices.Equal(p.ISR, without(old.ISR, dead)) ||
				(p.PartitionEpoch != old.PartitionEpoch) != slices.Contains(old.ISR, dead) {
				t.Errorf("partition %d not led by %d: %+v -> %+v; want only %d out of the ISR", i, dead, old, p, dead)
			}
			continue
		}
		wantISR := without(old.ISR, dead)
		want := pick(old.Replicas, brokers, func(id int32) bool { return slices.Contains(wantISR, id) })
		if p.Leader != want || p.LeaderEpoch != old.LeaderEpoch+1 || !slices.Equal(p.ISR, wantISR) {
			t.Errorf("partition %d: %+v -> %+v; want leader %d, epoch %d, ISR %v", i, old, p, want, old.LeaderEpoch+1, wantISR)
		}
	}
}

// TestControllerFailover: the controller's broker crashes (its lease
// expires); another broker becomes controller, moves the dead one's
// partitions, and handles the next failure too.
func TestControllerFailover(t *testing.T) {
	c := newTestCluster(t, 0, 1, 2)
	c.createTopic("t", 30, nil, 0, 1, 2)
	first := c.active()
	before := first.cache.Load().Topic("t").Partitions

	c.crash(first.id)
	second := c.active()
	snap := waitSnap(t, second, "new leaders and ISRs", gone("t", first.id))
	checkFailover(t, before, snap.Topic("t").Partitions, first.id, snap.Brokers)

	// The next failure: the last broker leads everything.
	before = snap.Topic("t").Partitions
	var other int32
	for id := range c.nodes {
		if id != second.id {
			other = id
		}
	}
	c.kill(other)
	snap = waitSnap(t, second, "new leaders and ISRs", gone("t", other))
	checkFailover(t, before, snap.Topic("t").Partitions, other, snap.Brokers)
	if id := second.cache.Load().ControllerID; id != second.id {
		t.Fatalf("controller %d; want %d", id, second.id)
	}
}

// TestOfflineAndUnclean: a partition whose only ISR member dies goes
// offline, the member eligible, unless its topic allows unclean
// elections; when the member returns, it leads again.
func TestOfflineAndUnclean(t *testing.T) {
	c := newTestCluster(t)
	rec := newRecorder()
	c.log = slog.New(rec)
	for _, id := range []int32{0, 1, 2} {
		c.start(id)
	}
	lonely := []cluster.PartitionState{{Replicas: []int32{0, 1, 2}, Leader: 0, ISR: []int32{0}}}
	c.createTopicStates("clean", nil, lonely)
	c.createTopicStates("dirty", map[string]string{"unclean.leader.election.enable": "true"}, lonely)
	c.active()
	c.kill(0) // the controller, or not: either way one of 1 and 2 elects
	ctrl := c.active()

	snap := waitSnap(t, ctrl, "elections", func(s *cluster.Snapshot) bool {
		clean, _ := s.Partition("clean", 0)
		dirty, _ := s.Partition("dirty", 0)
		return clean.Leader == cluster.NoLeader && dirty.Leader >= 0 && dirty.Leader != 0
	})
	clean, _ := snap.Partition("clean", 0)
	dirty, _ := snap.Partition("dirty", 0)
	if clean.LeaderEpoch != 1 || len(clean.ISR) != 0 || !slices.Equal(clean.ELR, []int32{0}) {
		t.Errorf("offline partition: %+v; want leader -1, epoch 1, ISR [], ELR [0]", clean)
	}
	if dirty.Leader != 1 || dirty.LeaderEpoch != 1 || !slices.Equal(dirty.ISR, []int32{1}) {
		t.Errorf("unclean election: %+v; want leader 1, epoch 1, ISR [1]", dirty)
	}
	// The controller logs after its write, which the cache may show first.
	if w := rec.wait(t, "unclean", "topic=dirty"); len(w) != 1 {
		t.Errorf("unclean election warnings: %q; want one", w)
	}
	if w := rec.wait(t, "offline", "topic=clean"); len(w) != 1 {
		t.Errorf("offline warnings: %q; want one", w)
	}

	// Broker 0 returns: the offline partition is elected to it; the other
	// keeps its unclean leader.
	c.start(0)
	snap = waitSnap(t, ctrl, "the return of broker 0", func(s *cluster.Snapshot) bool {
		p, _ := s.Partition("clean", 0)
		return p.Leader == 0
	})
	clean, _ = snap.Partition("clean", 0)
	if clean.LeaderEpoch != 2 || !slices.Equal(clean.ISR, []int32{0}) {
		t.Errorf("returned leader: %+v; want leader 0, epoch 2, ISR [0]", clean)
	}
	if p, _ := snap.Partition("dirty", 0); p.Leader != 1 || p.LeaderEpoch != 1 {
		t.Errorf("unclean partition changed on return of broker 0: %+v", p)
	}
}

// TestElectPreferredLeaders: leadership moves to the first replica when it
// is live and in the ISR, and only the controller moves it.
func TestElectPreferredLeaders(t *testing.T) {
	c := newTestCluster(t, 0, 1, 2)
	c.createTopicStates("p", nil, []cluster.PartitionState{
		{Replicas: []int32{0, 1, 2}, Leader: 1, LeaderEpoch: 3, ISR: []int32{1, 0, 2}}, // moves to 0
		{Replicas: []int32{1, 2, 0}, Leader: 1, ISR: []int32{1, 2, 0}},                 // already there
		{Replicas: []int32{2, 0, 1}, Leader: 0, ISR: []int32{0, 1}},                    // 2 not in ISR
	})
	ctrl := c.active()
	var follower *node
	for _, n := range c.nodes {
		if n != ctrl {
			follower = n
		}
	}
	parts := []TopicPartition{{"p", 0}, {"p", 1}, {"p", 2}, {"p", 9}, {"nope", 0}}
	if _, err := follower.ctrl.ElectPreferredLeaders(testCtx(t), parts); !errors.Is(err, ErrNotController) {
		t.Fatalf("on a follower: %v; want ErrNotController", err)
	}
	res, err := ctrl.ctrl.ElectPreferredLeaders(testCtx(t), parts)
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := []error{nil, ErrElectionNotNeeded, ErrPreferredNotAvailable, cluster.ErrUnknownPartition, cluster.ErrUnknownTopic}
	for i, r := range res {
		if r.TopicPartition != parts[i] || !errors.Is(r.Err, wantErrs[i]) || (wantErrs[i] == nil) != (r.Err == nil) {
			t.Errorf("result %d: %+v; want %v for %v", i, r, wantErrs[i], parts[i])
		}
	}
	if r := res[0]; r.Leader != 0 || r.LeaderEpoch != 4 {
		t.Errorf("elected %d at epoch %d; want 0 at 4", r.Leader, r.LeaderEpoch)
	}
	snap := waitSnap(t, ctrl, "the election", func(s *cluster.Snapshot) bool {
		p, _ := s.Partition("p", 0)
		return p.Leader == 0
	})
	if p, _ := snap.Partition("p", 0); p.LeaderEpoch != 4 || fmt.Sprint(p.ISR) != "[1 0 2]" {
		t.Errorf("partition 0 after the election: %+v", p)
	}

	// The preferred replica is dead: not available.
	c.kill(2)
	if _, _, err := c.nodes[0].store.UpdatePartition(testCtx(t), "p", 2, func(p *cluster.PartitionState) error {
		p.ISR = []int32{0, 1, 2}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctrl = c.active()
	waitSnap(t, ctrl, "broker 2 to go", func(s *cluster.Snapshot) bool { _, ok := s.Brokers[2]; return !ok })
	res, err = ctrl.ctrl.ElectPreferredLeaders(testCtx(t), parts[2:3])
	if err != nil || !errors.Is(res[0].Err, ErrPreferredNotAvailable) {
		t.Fatalf("dead preferred replica: %+v, %v", res, err)
	}
}

// TestDeposedControllerCannotWrite: once a controller's election key is
// gone, its writes fail, however late they come.
func TestDeposedControllerCannotWrite(t *testing.T) {
	c := newTestCluster(t, 0, 1)
	c.createTopic("t", 4, nil, 0, 1)
	old := c.active()
	stale := old.ctrl.term.Load()
	oldCtrl := old.ctrl
	c.kill(old.id)
	ctrl := c.active()
	snap := waitSnap(t, ctrl, "new leaders and ISRs", func(s *cluster.Snapshot) bool {
		return !slices.ContainsFunc(s.Topic("t").Partitions, func(p cluster.PartitionState) bool {
			return p.Leader == old.id || slices.Contains(p.ISR, old.id)
		})
	})

	// The deposed controller's full write path, on the snapshot it would
	// have acted on, through a live client: every write is refused.
	if _, err := oldCtrl.ElectPreferredLeaders(testCtx(t), []TopicPartition{{"t", 0}}); !errors.Is(err, ErrNotController) {
		t.Fatalf("deposed controller's preferred election: %v; want ErrNotController", err)
	}
	deposed := &Controller{store: ctrl.store, broker: c.broker, log: c.log}
	offline := *snap
	offline.Brokers = map[int32]cluster.BrokerInfo{} // everyone dead: every partition needs a write
	if _, err := deposed.reconcile(testCtx(t), &offline, stale); !errors.Is(err, cluster.ErrConditionFailed) {
		t.Fatalf("deposed controller's elections: %v; want ErrConditionFailed", err)
	}
	if now := ctrl.cache.Load(); now.Revision != snap.Revision {
		if p := now.Topic("t").Partitions; !slices.EqualFunc(p, snap.Topic("t").Partitions, func(a, b cluster.PartitionState) bool { return a.PartitionEpoch == b.PartitionEpoch }) {
			t.Fatalf("a deposed controller wrote:\n%s", describe(now))
		}
	}
}

func TestPolicyUnclean(t *testing.T) {
	b, _, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctrl := &Controller{broker: b, log: clustertest.Logger}
	for _, tc := range []struct {
		def     bool
		configs map[string]string
		want    bool
	}{
		{false, nil, false},
		{true, nil, true},
		{true, map[string]string{"unclean.leader.election.enable": "false"}, false},
		{false, map[string]string{"unclean.leader.election.enable": "true"}, true},
		{false, map[string]string{"unclean.leader.election.enable": "maybe"}, false},
	} {
		b.LogDefaults.UncleanLeaderElection = tc.def
		if got := ctrl.policy(&cluster.Topic{Name: "t", Configs: tc.configs}).unclean; got != tc.want {
			t.Errorf("default %v, configs %v: %v; want %v", tc.def, tc.configs, got, tc.want)
		}
	}
}
