package controller

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/placement"
)

// Repair keeps the assignments under package placement's rules: replicas
// of brokers dead past broker.replacement.grace.ms move to live brokers,
// rule violations (no on-demand replica, two replicas in a zone that
// another zone could take) are fixed, and replicas move off overloaded
// brokers. Each move is a reassignment, so it survives controller
// failover, and at most placement.repair.max.moves run at once, so that
// repair never crowds out client traffic.
//
// Death times are this controller's own: a broker missing from the
// snapshots is dead since the first snapshot of this term that misses
// it. A new controller thus starts the grace again, which delays
// re-replication, never hastens it.

// PlacementInput returns snap as package placement sees it: the live
// brokers (drained ones take nothing new), by id, and every available
// partition's replicas, by topic and partition. New topics are assigned
// against it; the controller's repair adds the dead brokers still in
// their grace.
func PlacementInput(snap *cluster.Snapshot) ([]placement.Broker, []placement.Partition) {
	brokers := make([]placement.Broker, 0, len(snap.Brokers))
	for id, b := range snap.Brokers {
		brokers = append(brokers, placement.Broker{ID: id, Rack: b.Rack, Capacity: b.Capacity, Draining: !b.Leads()})
	}
	slices.SortFunc(brokers, func(a, b placement.Broker) int { return cmp.Compare(a.ID, b.ID) })
	var parts []placement.Partition
	for name, t := range snap.Topics {
		for i := range t.Partitions {
			if p := &t.Partitions[i]; p.Available() {
				parts = append(parts, placement.Partition{Topic: name, Partition: int32(i), Replicas: p.Replicas})
			}
		}
	}
	slices.SortFunc(parts, func(a, b placement.Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return brokers, parts
}

// placementView is what package placement sees of a snapshot: brokers
// that may hold replicas, and every partition's replicas.
type placementView struct {
	brokers []placement.Broker
	parts   []placement.Partition
	index   map[TopicPartition]int // into parts
}

// newPlacementView returns snap as placement sees it, with graced, the
// dead brokers within their grace: they keep their replicas but take no
// new ones, like drained brokers. Dead brokers past their grace are
// absent, so that their replicas move.
func newPlacementView(snap *cluster.Snapshot, graced []placement.Broker) *placementView {
	v := &placementView{}
	v.brokers, v.parts = PlacementInput(snap)
	v.brokers = append(v.brokers, graced...)
	v.index = make(map[TopicPartition]int, len(v.parts))
	for i, p := range v.parts {
		v.index[TopicPartition{p.Topic, p.Partition}] = i
	}
	return v
}

// graced returns the dead brokers of gone that keep their replicas (keep),
// as placement sees them: draining, in the zone and capacity they were
// last seen with.
func (d *tenure) graced(gone []int32, keep func(int32) bool) []placement.Broker {
	var out []placement.Broker
	for _, id := range gone {
		if keep(id) {
			b := d.last[id]
			out = append(out, placement.Broker{ID: id, Rack: b.Rack, Capacity: b.Capacity, Draining: true})
		}
	}
	return out
}

// add records a replica added to a partition, so that later choices see
// its load.
func (v *placementView) add(topic string, partition int32, id int32) {
	if i, ok := v.index[TopicPartition{topic, partition}]; ok {
		v.parts[i].Replicas = append(slices.Clip(v.parts[i].Replicas), id)
	}
}

// tenure is what a controller remembers during one term: since when each
// broker named in an assignment has been missing from the snapshots, what
// each broker was last seen as (its zone and capacity still count while it is in grace),
// and what placement repair last looked at.
type tenure struct {
	since map[int32]time.Time
	last  map[int32]cluster.BrokerInfo
	// repaired is the placementKey of the last snapshot repaired.
	repaired uint64
	// rebalanced is when the leader imbalance was last checked.
	rebalanced time.Time
}

// observe updates the death times from snap at now, and returns the dead
// brokers that hold replicas, sorted.
func (d *tenure) observe(snap *cluster.Snapshot, now time.Time) []int32 {
	if d.since == nil {
		d.since, d.last = map[int32]time.Time{}, map[int32]cluster.BrokerInfo{}
	}
	for id, b := range snap.Brokers {
		d.last[id] = b
	}
	var dead []int32
	for _, t := range snap.Topics {
		for i := range t.Partitions {
			for _, id := range t.Partitions[i].Replicas {
				if _, live := snap.Brokers[id]; !live && !slices.Contains(dead, id) {
					dead = append(dead, id)
				}
			}
		}
	}
	slices.Sort(dead)
	for id := range d.since {
		if !slices.Contains(dead, id) {
			delete(d.since, id)
		}
	}
	for _, id := range dead {
		if _, ok := d.since[id]; !ok {
			d.since[id] = now
		}
	}
	return dead
}

// inGrace reports whether dead broker id is still within grace at now.
func (d *tenure) inGrace(id int32, now time.Time, grace time.Duration) bool {
	since, ok := d.since[id]
	return ok && now.Sub(since) < grace
}

// nextWake returns when the controller must look again without a new
// snapshot: the next end of a grace period, or of the leader imbalance
// check interval (every > 0); the zero time for never.
func (d *tenure) nextWake(grace, every time.Duration) time.Time {
	next := d.nextExpiry(grace)
	if every > 0 && !d.rebalanced.IsZero() {
		if check := d.rebalanced.Add(every); next.IsZero() || check.Before(next) {
			next = check
		}
	}
	return next
}

// nextExpiry returns when the next grace period ends, or the zero time.
func (d *tenure) nextExpiry(grace time.Duration) time.Time {
	var next time.Time
	for _, since := range d.since {
		if end := since.Add(grace); next.IsZero() || end.Before(next) {
			next = end
		}
	}
	return next
}

// keySeed makes the placement keys of one process comparable.
var keySeed = maphash.MakeSeed()

// placementKey sums up what placement decides from: the brokers (id,
// zone, capacity, drain), the dead ones within their grace, and every
// partition's replicas and moves. Repair runs again only when it changes:
// most snapshots change leaders and ISRs, which placement does not look
// at, and repairing a large cluster costs milliseconds. Each item is
// hashed on its own and the hashes summed, so that the maps need no
// sorting.
func placementKey(snap *cluster.Snapshot, graced []placement.Broker) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	var key uint64
	item := func(fn func()) {
		h.Reset()
		fn()
		key += h.Sum64()
	}
	ids := func(v []int32) {
		for _, id := range v {
			maphash.WriteComparable(&h, id)
		}
		h.WriteByte(0xff)
	}
	broker := func(id int32, rack, capacity string, draining, live bool) {
		item(func() {
			maphash.WriteComparable(&h, id)
			h.WriteString(rack)
			h.WriteByte(0)
			h.WriteString(capacity)
			maphash.WriteComparable(&h, draining)
			maphash.WriteComparable(&h, live)
		})
	}
	for id, b := range snap.Brokers {
		broker(id, b.Rack, b.Capacity, !b.Leads(), true)
	}
	for _, b := range graced {
		broker(b.ID, b.Rack, b.Capacity, true, false)
	}
	for name, t := range snap.Topics {
		for i := range t.Partitions {
			p := &t.Partitions[i]
			item(func() {
				h.WriteString(name)
				maphash.WriteComparable(&h, i)
				ids(p.Replicas)
				ids(p.Adding)
				ids(p.Temporary)
			})
		}
	}
	return key
}

// repair starts the reassignments that bring snap back under the
// placement rules, at most placement.repair.max.moves at once counting
// those already running, and returns the revision of its last write. It
// looks again only when the placement inputs changed since last.
func (c *Controller) repair(ctx context.Context, snap *cluster.Snapshot, t *term, graced []placement.Broker, view func() *placementView, last *uint64) (int64, error) {
	key := placementKey(snap, graced)
	if key == *last {
		return 0, nil
	}
	rev, err := c.startRepairs(ctx, snap, t, view(), settled(snap, graced))
	if err == nil {
		*last = key
	}
	return rev, err
}

// startRepairs computes and starts the repair moves of snap.
func (c *Controller) startRepairs(ctx context.Context, snap *cluster.Snapshot, t *term, view *placementView, settled bool) (int64, error) {
	running := 0
	for _, topic := range snap.Topics {
		for i := range topic.Partitions {
			if reassigning(&topic.Partitions[i]) {
				running++
			}
		}
	}
	limit := c.broker.RepairMaxMoves - running
	if limit <= 0 {
		return 0, nil
	}
	moves := placement.Repair(view.brokers, view.parts, uint64(snap.Revision), limit)
	jobs := make([]job, 0, len(moves))
	for i, m := range moves {
		p, ok := snap.Partition(m.Topic, m.Partition)
		if !ok || len(p.Temporary) > 0 || reassigning(&p) {
			continue
		}
		// While brokers are drained or dead within their grace, only
		// replicas of brokers dead past it move: the others' replicas
		// stay theirs (a replacement catches up cheaply), and so do the
		// leaderships they take back when they return.
		if settled || replacesOnly(p.Replicas, m.Replicas, view) {
			jobs = append(jobs, job{topic: m.Topic, partition: m.Partition, i: i})
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	return c.run(ctx, jobs, func(ctx context.Context, j job) (int64, error) {
		m := moves[j.i]
		state, rev, err := c.update(ctx, snap, t, j, func(p *cluster.PartitionState) error {
			if reassigning(p) || len(p.Temporary) > 0 || !slices.Equal(p.Replicas, view.parts[view.index[TopicPartition{m.Topic, m.Partition}]].Replicas) {
				return errNothingToDo // changed since the snapshot: decide again on the next one
			}
			next, err := startReassignment(*p, m.Replicas, snap.Brokers)
			if err != nil {
				return err
			}
			*p = next
			return nil
		})
		if errors.Is(err, ErrInvalidReplicaAssignment) {
			c.log.Warn("placement repair skipped", "topic", j.topic, "partition", j.partition, "target", m.Replicas, "err", err)
			return 0, nil
		}
		if ok, err := written(err, "repairing the placement of", j); !ok {
			return 0, err
		}
		c.log.Info("repairing placement", "topic", j.topic, "partition", j.partition, "reason", m.Reason,
			"target", m.Replicas, "replicas", state.Replicas, "adding", state.Adding, "removing", state.Removing)
		return rev, nil
	})
}

// settled reports whether every broker is live and not drained: no
// broker of snap is drained and none is dead within its grace (graced).
func settled(snap *cluster.Snapshot, graced []placement.Broker) bool {
	if len(graced) > 0 {
		return false
	}
	for _, b := range snap.Brokers {
		if !b.Leads() {
			return false
		}
	}
	return true
}

// replacesOnly reports whether moving replicas to target removes only
// brokers that view leaves out (dead past their grace).
func replacesOnly(replicas, target []int32, view *placementView) bool {
	removed := minus(replicas, target)
	for _, id := range removed {
		if slices.ContainsFunc(view.brokers, func(b placement.Broker) bool { return b.ID == id }) {
			return false
		}
	}
	return len(removed) > 0
}

// adoptTemporaries makes temporary replicas ordinary ones where a drained
// replica's broker stayed dead past its grace: the dead replica leaves
// and a temporary one takes its place, without a copy. It returns the
// revision of its last write.
func (c *Controller) adoptTemporaries(ctx context.Context, snap *cluster.Snapshot, t *term, expired func(int32) bool) (int64, error) {
	var jobs []job
	for name, topic := range snap.Topics {
		for i := range topic.Partitions {
			if p := &topic.Partitions[i]; len(p.Temporary) > 0 && !reassigning(p) && len(expiredReplicas(p, expired)) > 0 {
				jobs = append(jobs, job{topic: name, partition: int32(i)})
			}
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	return c.run(ctx, jobs, func(ctx context.Context, j job) (int64, error) {
		var gone []int32
		state, rev, err := c.update(ctx, snap, t, j, func(p *cluster.PartitionState) error {
			dead := expiredReplicas(p, expired)
			if len(p.Temporary) == 0 || reassigning(p) || len(dead) == 0 {
				return errNothingToDo
			}
			k := min(len(dead), len(p.Temporary))
			gone = dead[:k]
			next, err := startReassignment(*p, minus(p.Replicas, gone), snap.Brokers)
			if err != nil {
				return err
			}
			next.Temporary = slices.Clone(p.Temporary[k:])
			if len(next.Temporary) == 0 {
				next.Temporary = nil
			}
			*p = next
			return nil
		})
		if ok, err := written(err, "adopting the temporary replicas of", j); !ok {
			return 0, err
		}
		c.log.Info("temporary replicas replace brokers dead past their grace", "topic", j.topic, "partition", j.partition,
			"dead", gone, "replicas", state.Replicas, "isr", state.ISR)
		return rev, nil
	})
}

// expiredReplicas returns p's replicas, other than temporary ones, whose
// brokers are dead past their grace.
func expiredReplicas(p *cluster.PartitionState, expired func(int32) bool) []int32 {
	var out []int32
	for _, id := range p.Replicas {
		if !slices.Contains(p.Temporary, id) && expired(id) {
			out = append(out, id)
		}
	}
	return out
}

// rebalanceLeaders is Kafka's automatic preferred leader election
// (auto.leader.rebalance.enable): every leader.imbalance.check.interval
// in a settled cluster, a broker that leads less than
// 100 - leader.imbalance.per.broker.percentage percent of the partitions
// it is the preferred replica of gets them back, where it is live and in
// sync. It returns the revision of its last write.
func (c *Controller) rebalanceLeaders(ctx context.Context, snap *cluster.Snapshot, t *term, graced []placement.Broker, mem *tenure, now time.Time) (int64, error) {
	if mem.rebalanced.IsZero() {
		mem.rebalanced = now // as in Kafka, the first check comes one interval into the term
	}
	if !c.broker.AutoLeaderRebalance || now.Sub(mem.rebalanced) < c.broker.LeaderImbalanceInterval || !settled(snap, graced) {
		return 0, nil
	}
	mem.rebalanced = now
	preferred, elsewhere := map[int32]int{}, map[int32][]job{}
	for name, topic := range snap.Topics {
		for i := range topic.Partitions {
			p := &topic.Partitions[i]
			if !p.Available() || len(p.Replicas) == 0 || reassigning(p) {
				continue
			}
			b := p.Replicas[0]
			preferred[b]++
			if p.Leader != b {
				elsewhere[b] = append(elsewhere[b], job{topic: name, partition: int32(i)})
			}
		}
	}
	var jobs []job
	for b, js := range elsewhere {
		if len(js)*100 > c.broker.LeaderImbalancePercentage*preferred[b] {
			jobs = append(jobs, js...)
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	return c.writeAll(ctx, snap, t, jobs, "electing the preferred leader of",
		func(_ job, p *cluster.PartitionState) error {
			next, err := electPreferred(*p, snap.Brokers)
			if err != nil {
				return errNothingToDo // not needed, or not available: next time
			}
			*p = next
			return nil
		},
		func(j job, old, state cluster.PartitionState) {
			c.log.Info("rebalanced leadership to the preferred replica", "topic", j.topic, "partition", j.partition,
				"leader", state.Leader, "leader.epoch", state.LeaderEpoch, "previous.leader", old.Leader)
		})
}
