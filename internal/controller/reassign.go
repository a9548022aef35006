package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
)

// Partition reassignment (KIP-455). A reassignment is stored in the
// partition state itself, so it survives controller failover and needs no
// state of its own here:
//
//   - start: Replicas = target, then the current replicas not in it;
//     Adding = target − current; Removing = current − target. The leader
//     and its epoch stay: the brokers in Adding open replicas, fetch, and
//     join the ISR through the leader once caught up, like any follower.
//   - completion: once every Adding broker is in the ISR, the controller
//     writes Replicas = target, ISR ∩ target, no Adding or Removing, and a
//     new leader from target ∩ ISR (epoch + 1) if the leader is removed.
//     Brokers that left Replicas delete their replica.
//   - cancel: back to the original replicas (Replicas − Adding), ISR ∩
//     those, and a leader among them.
//
// Every write decides again on the state it replaces (inside
// UpdatePartitionIf) and is fenced by the controller's election key, as
// elections are.

// Errors of reassignments, one per partition. The handlers translate them
// to Kafka error codes (noted on each).
var (
	// ErrNoReassignmentInProgress: a cancel of a partition that is not
	// being reassigned (NO_REASSIGNMENT_IN_PROGRESS).
	ErrNoReassignmentInProgress = errors.New("controller: no reassignment in progress")

	// ErrInvalidReplicaAssignment: an empty target, a broker listed twice
	// or not registered, or a change that would leave no in-sync replica
	// to lead (INVALID_REPLICA_ASSIGNMENT).
	ErrInvalidReplicaAssignment = errors.New("controller: invalid replica assignment")
)

// Reassignment asks for a partition's replicas to become Target; a nil
// Target cancels the partition's ongoing reassignment.
type Reassignment struct {
	TopicPartition
	Target []int32
}

// OngoingReassignment is a partition being reassigned, as
// ListPartitionReassignments reports it.
type OngoingReassignment struct {
	TopicPartition
	Replicas []int32
	Adding   []int32
	Removing []int32
}

// AlterReassignments starts, replaces or cancels the reassignment of each
// partition, and returns one error per request, in order (nil for
// success): ErrInvalidReplicaAssignment, ErrNoReassignmentInProgress,
// cluster.ErrUnknownTopic or cluster.ErrUnknownPartition, or one of
// etcd's. It returns once this broker's cache has seen its writes, so that
// ListReassignments reflects them. The call fails as a whole with
// ErrNotController when this broker is not the active controller, or stops
// being it during the call.
func (c *Controller) AlterReassignments(ctx context.Context, reqs []Reassignment) ([]error, error) {
	t := c.term.Load()
	if t == nil {
		return nil, ErrNotController
	}
	// Registrations from the latest snapshot; partition states are read
	// fresh by UpdatePartitionIf.
	brokers := c.cache.Load().Brokers
	errs := make([]error, len(reqs))
	jobs := make([]job, len(reqs))
	for i, r := range reqs {
		jobs[i] = job{topic: r.Topic, partition: r.Partition, i: i}
		if r.Target != nil {
			errs[i] = validateTarget(r.Target, brokers)
		}
	}
	jobs = slices.DeleteFunc(jobs, func(j job) bool { return errs[j.i] != nil })
	lastRev, err := c.run(ctx, jobs, func(ctx context.Context, j job) (int64, error) {
		target := reqs[j.i].Target
		state, rev, err := c.store.UpdatePartitionIf(ctx, j.topic, j.partition, t.fence(), func(p *cluster.PartitionState) error {
			var next cluster.PartitionState
			var err error
			if target == nil {
				next, err = cancelReassignment(*p, brokers)
			} else {
				next, err = startReassignment(*p, target, brokers)
			}
			if err == nil {
				*p = next
			}
			return err
		})
		if errors.Is(err, cluster.ErrConditionFailed) {
			return 0, err
		}
		errs[j.i] = err // each job writes only its own error
		if err == nil {
			c.log.Info("altered partition reassignment", "topic", j.topic, "partition", j.partition,
				"target", target, "replicas", state.Replicas, "adding", state.Adding, "removing", state.Removing,
				"leader", state.Leader, "leader.epoch", state.LeaderEpoch, "isr", state.ISR)
		}
		return rev, nil
	})
	if errors.Is(err, cluster.ErrConditionFailed) {
		return nil, fmt.Errorf("%w: deposed during the reassignment: %w", ErrNotController, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("controller: altering reassignments: %w", err)
	}
	if lastRev > 0 {
		if err := c.cache.WaitRevision(ctx, lastRev); err != nil {
			return nil, fmt.Errorf("controller: altering reassignments: %w", err)
		}
	}
	return errs, nil
}

// ListReassignments returns the ongoing reassignments of parts (of every
// partition when parts is nil), sorted by topic and partition, from the
// latest snapshot. Unknown partitions are skipped, as Kafka does. It fails
// with ErrNotController when this broker is not the active controller.
func (c *Controller) ListReassignments(parts []TopicPartition) ([]OngoingReassignment, error) {
	if c.term.Load() == nil {
		return nil, ErrNotController
	}
	snap := c.cache.Load()
	var out []OngoingReassignment
	add := func(name string, i int32, p *cluster.PartitionState) {
		if p.Available() && reassigning(p) {
			out = append(out, OngoingReassignment{TopicPartition{name, i},
				slices.Clone(p.Replicas), slices.Clone(p.Adding), slices.Clone(p.Removing)})
		}
	}
	if parts == nil {
		for name, t := range snap.Topics {
			for i := range t.Partitions {
				add(name, int32(i), &t.Partitions[i])
			}
		}
	} else {
		seen := make(map[TopicPartition]bool, len(parts))
		for _, tp := range parts {
			t := snap.Topics[tp.Topic]
			if seen[tp] || t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
				continue
			}
			seen[tp] = true
			add(tp.Topic, tp.Partition, &t.Partitions[tp.Partition])
		}
	}
	slices.SortFunc(out, func(a, b OngoingReassignment) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// reconcileAll is one reconciliation of a snapshot: leader elections (a
// dead leader matters most) together with the temporary replicas of
// drains (drain.go), which take longest to catch up and so start at once;
// then the reassignments that can complete, the temporary replicas that
// can go, placement repair and the automatic preferred leader election
// (repair.go). It returns the highest
// revision written, and ErrConditionFailed (deposed) in preference to
// other errors. Each write decides again on the partition state it
// replaces, so steps that touch one partition at once, or one after the
// other, never undo each other.
func (c *Controller) reconcileAll(ctx context.Context, snap *cluster.Snapshot, t *term, mem *tenure) (int64, error) {
	now := time.Now()
	grace := c.broker.ReplacementGrace
	gone := mem.observe(snap, now)
	expired := func(id int32) bool { return slices.Contains(gone, id) && !mem.inGrace(id, now, grace) }
	graced := mem.graced(gone, func(id int32) bool { return !expired(id) })
	// Built only when a step needs it: most snapshots call for neither
	// temporary replicas nor repair.
	view := sync.OnceValue(func() *placementView { return newPlacementView(snap, graced) })
	stages := [][]func() (int64, error){
		{
			func() (int64, error) { return c.reconcile(ctx, snap, t) },
			func() (int64, error) { return c.addTemporaries(ctx, snap, t, view) },
		},
		{func() (int64, error) { return c.completeReassignments(ctx, snap, t) }},
		{func() (int64, error) { return c.releaseTemporaries(ctx, snap, t) }},
		{func() (int64, error) { return c.adoptTemporaries(ctx, snap, t, expired) }},
		{func() (int64, error) { return c.repair(ctx, snap, t, graced, view, &mem.repaired) }},
		{func() (int64, error) { return c.rebalanceLeaders(ctx, snap, t, graced, mem, now) }},
	}
	var last int64
	var firstErr error
	for _, stage := range stages {
		revs, errs := make([]int64, len(stage)), make([]error, len(stage))
		var wg sync.WaitGroup
		for i, step := range stage {
			wg.Go(func() { revs[i], errs[i] = step() })
		}
		wg.Wait()
		for i := range stage {
			last = max(last, revs[i])
			if errors.Is(errs[i], cluster.ErrConditionFailed) {
				return last, errs[i]
			}
			if firstErr == nil {
				firstErr = errs[i]
			}
		}
	}
	return last, firstErr
}

// completeReassignments writes the completion of every reassignment of
// snap that is ready, and returns the revision of its last write.
func (c *Controller) completeReassignments(ctx context.Context, snap *cluster.Snapshot, t *term) (int64, error) {
	var jobs []job
	for name, topic := range snap.Topics {
		for i := range topic.Partitions {
			p := &topic.Partitions[i]
			if !p.Available() || !reassigning(p) {
				continue
			}
			if _, ok := completeReassignment(*p, snap.Brokers); ok {
				jobs = append(jobs, job{topic: name, partition: int32(i)})
			}
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	// Decided again on the state written over: the ISR may have shrunk,
	// or the reassignment been cancelled, since the snapshot.
	return c.writeAll(ctx, snap, t, jobs, "completing the reassignment of",
		func(_ job, p *cluster.PartitionState) error {
			next, ok := completeReassignment(*p, snap.Brokers)
			if !ok {
				return errNothingToDo
			}
			*p = next
			return nil
		},
		func(j job, _, state cluster.PartitionState) {
			c.log.Info("completed partition reassignment", "topic", j.topic, "partition", j.partition,
				"replicas", state.Replicas, "leader", state.Leader, "leader.epoch", state.LeaderEpoch, "isr", state.ISR)
		})
}

// reassigning reports whether p has an ongoing reassignment.
func reassigning(p *cluster.PartitionState) bool { return len(p.Adding) > 0 || len(p.Removing) > 0 }

// validateTarget checks a target replica list: not empty, no broker twice,
// every broker registered (Kafka accepts only brokers it knows).
func validateTarget(target []int32, brokers map[int32]cluster.BrokerInfo) error {
	if len(target) == 0 {
		return fmt.Errorf("%w: empty replica list", ErrInvalidReplicaAssignment)
	}
	for i, id := range target {
		if slices.Contains(target[:i], id) {
			return fmt.Errorf("%w: broker %d listed twice", ErrInvalidReplicaAssignment, id)
		}
		if _, ok := brokers[id]; !ok {
			return fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicaAssignment, id)
		}
	}
	return nil
}

// startReassignment returns p moving to target (validated). A partition
// already being reassigned moves from its original replicas to the new
// target instead (KIP-455: the new reassignment replaces the old one).
// A target that only reorders the replicas is written at once, and one
// that only removes replicas completes at once if it can.
func startReassignment(p cluster.PartitionState, target []int32, brokers map[int32]cluster.BrokerInfo) (cluster.PartitionState, error) {
	orig := original(&p)
	next := p.Clone()
	next.Replicas = union(target, orig)
	next.Adding = minus(target, orig)
	next.Removing = minus(orig, target)
	// Adding brokers of a replaced reassignment that the new target drops
	// leave the ISR (and the ELR) with their assignment.
	next.PruneToReplicas()
	if len(next.ISR) == 0 {
		return p, fmt.Errorf("%w: no in-sync replica would remain", ErrInvalidReplicaAssignment)
	}
	if !reassigning(&next) {
		next.Adding, next.Removing = nil, nil
	}
	if !slices.Contains(next.Replicas, p.Leader) && p.Leader != cluster.NoLeader {
		if !moveLeader(&next, next.Replicas, brokers) {
			return p, fmt.Errorf("%w: no live in-sync replica of the new assignment can lead", ErrInvalidReplicaAssignment)
		}
	}
	if done, ok := completeReassignment(next, brokers); ok {
		return done, nil
	}
	return next, nil
}

// completeReassignment returns p with its reassignment completed, if it is
// ready: every adding broker is in the ISR, at least one target replica
// is, and, if the leader is being removed, a live target replica in the
// ISR can take over. It reports false (and p) otherwise.
func completeReassignment(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) (cluster.PartitionState, bool) {
	if !reassigning(&p) {
		return p, false
	}
	for _, id := range p.Adding {
		if !slices.Contains(p.ISR, id) {
			return p, false
		}
	}
	next := p.Clone()
	next.Replicas = minus(p.Replicas, p.Removing)
	next.Adding, next.Removing = nil, nil
	next.PruneToReplicas()
	if len(next.ISR) == 0 || len(next.Replicas) == 0 {
		// No target replica holds every committed record yet.
		return p, false
	}
	if !slices.Contains(next.Replicas, p.Leader) && !moveLeader(&next, next.Replicas, brokers) {
		return p, false
	}
	return next, true
}

// cancelReassignment returns p back on its original replicas, or
// ErrNoReassignmentInProgress, or ErrInvalidReplicaAssignment when no
// original replica is in the ISR (or, to lead, live).
func cancelReassignment(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) (cluster.PartitionState, error) {
	if !reassigning(&p) {
		return p, ErrNoReassignmentInProgress
	}
	next := p.Clone()
	next.Replicas = original(&p)
	next.Adding, next.Removing = nil, nil
	next.PruneToReplicas()
	if len(next.ISR) == 0 {
		return p, fmt.Errorf("%w: cannot cancel: no original replica is in sync", ErrInvalidReplicaAssignment)
	}
	if !slices.Contains(next.Replicas, p.Leader) && p.Leader != cluster.NoLeader &&
		!moveLeader(&next, next.Replicas, brokers) {
		return p, fmt.Errorf("%w: cannot cancel: no live in-sync original replica can lead", ErrInvalidReplicaAssignment)
	}
	return next, nil
}

// moveLeader makes the first live replica of candidates that is in p's
// ISR lead, at the next epoch (a leader change always bumps it), and
// reports whether there was one. A draining one is taken only when no
// other will do, as in elections.
func moveLeader(p *cluster.PartitionState, candidates []int32, brokers map[int32]cluster.BrokerInfo) bool {
	l := pick(candidates, brokers, func(id int32) bool { return slices.Contains(p.ISR, id) && p.CopyLive(id, brokers) })
	if l < 0 {
		return false
	}
	p.ElectFrom(l, false)
	return true
}

// original returns the replicas p had before its reassignment began.
func original(p *cluster.PartitionState) []int32 { return minus(p.Replicas, p.Adding) }

// union returns a, then the members of b not in a, in a new slice.
func union(a, b []int32) []int32 {
	out := slices.Clone(a)
	for _, id := range b {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// minus returns the members of a not in b, in order, in a new slice (nil
// when none, so that an empty Adding or Removing compares equal to none).
func minus(a, b []int32) []int32 {
	var out []int32
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}
