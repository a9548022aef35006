package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
)

// catchUp adds every replica of topic-0 that is not in the ISR to it, as
// the leader does once a follower has caught up.
func (c *testCluster) catchUp(topic string) {
	c.t.Helper()
	if _, _, err := c.any().store.UpdatePartition(testCtx(c.t), topic, 0, func(p *cluster.PartitionState) error {
		for _, id := range p.Replicas {
			if b, live := c.any().cache.Load().Brokers[id]; live && !slices.Contains(p.ISR, id) && !b.Stopping() {
				p.ISR = append(p.ISR, id)
			}
		}
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
}

// drain sets (or, with DrainNone, clears) the operator's drain of ids.
func (c *testCluster) drain(d cluster.Drain, ids ...int32) {
	c.t.Helper()
	for _, id := range ids {
		configs := map[string]string{}
		if d != cluster.DrainNone {
			configs[cluster.DrainConfig] = string(d)
		}
		if _, err := c.any().store.SetBrokerConfigs(testCtx(c.t), id, configs); err != nil {
			c.t.Fatal(err)
		}
	}
}

// TestTemporaryReplicas drains two of a partition's three replicas at
// once (min.insync.replicas 2): the controller adds a temporary replica on
// a broker that stays, which joins Replicas once in sync; undone drains
// remove it again; drained brokers that then die past their grace period
// leave the partition for the temporary replica and one that repair adds,
// and the partition ends up with three live replicas.
func TestTemporaryReplicas(t *testing.T) {
	c := newTestClusterWith(t, map[string]string{"broker.replacement.grace.ms": "300"}, 0, 1, 2, 3, 4)
	ctrl := c.active()
	c.createTopic("t", 1, map[string]string{"min.insync.replicas": "2"}, 0, 1, 2)
	part := func(s *cluster.Snapshot) cluster.PartitionState { p, _ := s.Partition("t", 0); return p }

	c.drain(cluster.DrainFull, 1, 2)
	snap := waitSnap(t, ctrl, "a temporary replica", func(s *cluster.Snapshot) bool { return len(part(s).Temporary) == 1 })
	tmp := part(snap).Temporary[0]
	if p := part(snap); tmp != 3 && tmp != 4 || !slices.Equal(p.Adding, []int32{tmp}) {
		t.Fatalf("temporary replica %d, state %+v; want broker 3 or 4 being added", tmp, p)
	}
	c.catchUp("t")
	waitSnap(t, ctrl, "the temporary replica to join", func(s *cluster.Snapshot) bool {
		p := part(s)
		return len(p.Adding) == 0 && len(p.Replicas) == 4 && slices.Contains(p.ISR, tmp)
	})

	c.drain(cluster.DrainNone, 1, 2)
	waitSnap(t, ctrl, "the temporary replica to leave", func(s *cluster.Snapshot) bool {
		p := part(s)
		return len(p.Temporary) == 0 && fmt.Sprint(p.Replicas) == "[0 1 2]" && !reassigning(&p)
	})

	c.drain(cluster.DrainFull, 1, 2)
	snap = waitSnap(t, ctrl, "a temporary replica again", func(s *cluster.Snapshot) bool { return len(part(s).Temporary) == 1 })
	tmp = part(snap).Temporary[0]
	c.catchUp("t")
	waitSnap(t, ctrl, "the temporary replica to join again", func(s *cluster.Snapshot) bool {
		p := part(s)
		return len(p.Adding) == 0 && slices.Contains(p.ISR, tmp)
	})
	c.kill(1)
	c.kill(2)
	// Past the grace period, the temporary replica stands in for one dead
	// replica, and repair replaces the other.
	waitSnap(t, ctrl, "a replacement for the second dead replica", func(s *cluster.Snapshot) bool {
		p := part(s)
		return len(p.Temporary) == 0 && len(p.Adding) == 1
	})
	c.catchUp("t")
	snap = waitSnap(t, ctrl, "three live replicas", func(s *cluster.Snapshot) bool {
		p := part(s)
		return len(p.Replicas) == 3 && !reassigning(&p) && !slices.Contains(p.Replicas, 1) && !slices.Contains(p.Replicas, 2)
	})
	if p := part(snap); !slices.Contains(p.Replicas, tmp) || p.Leader == cluster.NoLeader {
		t.Errorf("final state %+v: want the temporary replica %d kept and a leader", p, tmp)
	}
}

// TestAutoLeaderRebalance: a broker that leads none of the partitions it
// is the preferred replica of gets them back at the next check, as
// Kafka's auto.leader.rebalance.enable does; one within
// leader.imbalance.per.broker.percentage keeps the imbalance.
func TestAutoLeaderRebalance(t *testing.T) {
	c := newTestClusterWith(t, map[string]string{"placement.repair.max.moves": "0", "leader.imbalance.check.interval.seconds": "1"}, 0, 1, 2)
	ctrl := c.active()
	r := []int32{0, 1, 2}
	var ps []cluster.PartitionState
	for i := range 10 {
		p := cluster.PartitionState{Replicas: r, Leader: 0, ISR: r}
		if i < 4 {
			p.Leader = 1 // broker 0 leads 6 of its 10: 40% elsewhere, over 10%
		}
		ps = append(ps, p)
	}
	c.createTopicStates("t", nil, ps)
	snap := waitSnap(t, ctrl, "broker 0 leading its preferred partitions", func(s *cluster.Snapshot) bool {
		for _, p := range s.Topics["t"].Partitions {
			if p.Leader != 0 {
				return false
			}
		}
		return true
	})
	for i, p := range snap.Topics["t"].Partitions {
		if want := int32(0); i < 4 && p.LeaderEpoch != 1 || i >= 4 && p.LeaderEpoch != want {
			t.Errorf("partition %d at leader epoch %d", i, p.LeaderEpoch)
		}
	}
}
