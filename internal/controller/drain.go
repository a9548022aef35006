package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/placement"
)

// Drains (see cluster.Drain). A drained broker keeps running as a follower
// in the ISRs, so its loss later costs nothing but the ISR shrink its
// leaders make when it falls silent. The controller's part:
//
//   - leadership moves off a drained leader (settle, in elect.go);
//   - a fully drained broker's partitions that would keep fewer live
//     replicas than min.insync.replicas without it (two notices at once,
//     or one while another broker is dead) get temporary replicas on
//     brokers that stay, chosen by package placement and started as
//     reassignments, so that acks=all writes go on after the broker goes;
//   - temporary replicas leave again once every other replica is live,
//     in sync and not drained (a replacement caught up, or the drain was
//     undone), and become ordinary replicas when the drained broker stays
//     dead past broker.replacement.grace.ms (repair.go).

// staysFor reports whether broker id will still hold its replica once
// fully drained brokers are gone: it is live and not fully drained.
func staysFor(brokers map[int32]cluster.BrokerInfo, id int32) bool {
	b, live := brokers[id]
	return live && b.Draining() != cluster.DrainFull
}

// wantStaying is how many of p's replicas should stay through the drains:
// min.insync.replicas, at most the partition's own replication factor
// (temporary replicas are not part of it).
func wantStaying(p *cluster.PartitionState, minISR int) int {
	return min(minISR, len(p.Replicas)-len(p.Temporary))
}

// temporariesNeeded returns how many temporary replicas p needs: none
// unless a replica's broker is live and fully drained, else what brings
// the replicas that stay up to wantStaying. Partitions being reassigned
// wait until the move is over.
func temporariesNeeded(p *cluster.PartitionState, brokers map[int32]cluster.BrokerInfo, minISR int) int {
	if !p.Available() || reassigning(p) || p.Leader == cluster.NoLeader {
		return 0
	}
	drained, staying := false, 0
	for _, id := range p.Replicas {
		if staysFor(brokers, id) {
			staying++
		} else if _, live := brokers[id]; live {
			drained = true
		}
	}
	if !drained {
		return 0
	}
	return max(0, wantStaying(p, minISR)-staying)
}

// temporariesDone reports whether p's temporary replicas can leave: every
// other replica is live with its copy, in the ISR and not fully drained.
func temporariesDone(p *cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) bool {
	if len(p.Temporary) == 0 || reassigning(p) {
		return false
	}
	for _, id := range p.Replicas {
		if slices.Contains(p.Temporary, id) {
			continue
		}
		if !staysFor(brokers, id) || !p.CopyLive(id, brokers) || !slices.Contains(p.ISR, id) {
			return false
		}
	}
	return true
}

// DrainPending returns how many partitions still hold broker id's drain
// up: those it leads while another live, undrained ISR member could lead,
// and, for a full drain, those whose in-sync replicas on brokers that stay
// are fewer than min.insync.replicas while the cluster has brokers to add
// temporary ones on. Zero means drained: the broker can go without any
// partition losing its leader or its acks=all writes. cfg supplies the
// topics' min.insync.replicas (nil: Kafka's defaults).
func DrainPending(snap *cluster.Snapshot, id int32, cfg *config.Broker) int {
	self, live := snap.Brokers[id]
	if !live {
		return 0
	}
	full := self.Draining() == cluster.DrainFull
	spare := 0 // live brokers that could take a temporary replica
	for bid := range snap.Brokers {
		if staysFor(snap.Brokers, bid) {
			spare++
		}
	}
	n := 0
	for _, t := range snap.Topics {
		minISR := topicPolicy(cfg, t, nil).minISR
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if !p.Available() || !slices.Contains(p.Replicas, id) {
				continue
			}
			if p.Leader == id && slices.ContainsFunc(p.ISR, func(o int32) bool { return o != id && active(snap.Brokers, o) }) {
				n++
				continue
			}
			if !full {
				continue
			}
			inSync := 0
			for _, o := range p.ISR {
				if staysFor(snap.Brokers, o) {
					inSync++
				}
			}
			if want := wantStaying(p, minISR); inSync < want && spare >= want {
				n++
			}
		}
	}
	return n
}

// addTemporaries starts the temporary replicas that the fully drained
// brokers of snap call for, and returns the revision of its last write.
func (c *Controller) addTemporaries(ctx context.Context, snap *cluster.Snapshot, t *term, placementView func() *placementView) (int64, error) {
	var jobs []job
	minISRs := map[string]int{} // by topic, parsed once it matters
	for name, topic := range snap.Topics {
		for i := range topic.Partitions {
			p := &topic.Partitions[i]
			if !p.Available() || reassigning(p) {
				continue // the cheap half of temporariesNeeded, before parsing configs
			}
			minISR, ok := minISRs[name]
			if !ok {
				minISR = c.policy(topic).minISR
				minISRs[name] = minISR
			}
			if temporariesNeeded(p, snap.Brokers, minISR) > 0 {
				jobs = append(jobs, job{topic: name, partition: int32(i), i: len(jobs)})
			}
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	// Chosen one partition at a time, so that each choice sees the load
	// of the ones before it.
	view := placementView()
	targets := make([][]int32, len(jobs))
	for i, j := range jobs {
		p := snap.Topics[j.topic].Partitions[j.partition]
		need := temporariesNeeded(&p, snap.Brokers, minISRs[j.topic])
		target := slices.Clone(p.Replicas)
		for range need {
			id := placement.AddReplica(view.brokers, view.parts, target, nil)
			if id < 0 {
				break
			}
			target = append(target, id)
			view.add(j.topic, j.partition, id)
		}
		if len(target) > len(p.Replicas) {
			targets[i] = target
		}
	}
	return c.writeAll(ctx, snap, t, jobs, "adding temporary replicas to",
		func(j job, p *cluster.PartitionState) error {
			target := targets[j.i]
			if target == nil || temporariesNeeded(p, snap.Brokers, minISRs[j.topic]) == 0 {
				return errNothingToDo // none needed any more, or no broker can take one: the status says so
			}
			next, err := startReassignment(*p, target, snap.Brokers)
			if err != nil {
				return err
			}
			next.Temporary = union(p.Temporary, minus(target, p.Replicas))
			*p = next
			return nil
		},
		func(j job, old, state cluster.PartitionState) {
			c.log.Info("added temporary replicas while brokers drain", "topic", j.topic, "partition", j.partition,
				"temporary", minus(state.Temporary, old.Temporary), "replicas", state.Replicas, "isr", state.ISR)
		})
}

// releaseTemporaries removes the temporary replicas that are no longer
// needed, and returns the revision of its last write.
func (c *Controller) releaseTemporaries(ctx context.Context, snap *cluster.Snapshot, t *term) (int64, error) {
	var jobs []job
	for name, topic := range snap.Topics {
		for i := range topic.Partitions {
			if temporariesDone(&topic.Partitions[i], snap.Brokers) {
				jobs = append(jobs, job{topic: name, partition: int32(i)})
			}
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	return c.writeAll(ctx, snap, t, jobs, "removing temporary replicas of",
		func(_ job, p *cluster.PartitionState) error {
			if !temporariesDone(p, snap.Brokers) {
				return errNothingToDo
			}
			next, err := startReassignment(*p, minus(p.Replicas, p.Temporary), snap.Brokers)
			if err != nil {
				return err
			}
			next.Temporary = nil
			*p = next
			return nil
		},
		func(j job, old, state cluster.PartitionState) {
			c.log.Info("removed temporary replicas: the drained replicas are back in sync", "topic", j.topic, "partition", j.partition,
				"removed", old.Temporary, "replicas", state.Replicas, "isr", state.ISR)
		})
}

// errNothingToDo aborts a write whose reason went away since the snapshot.
var errNothingToDo = errors.New("controller: nothing to do")

// written sorts out the error of a partition write of the reconciliation
// (what says what it was doing): ok when it was written; not ok, with no
// error, when its reason went away (errNothingToDo, the topic or the
// partition deleted); ErrConditionFailed (deposed) as is; others wrapped.
func written(err error, what string, j job) (ok bool, _ error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errNothingToDo), errors.Is(err, cluster.ErrUnknownTopic), errors.Is(err, cluster.ErrUnknownPartition):
		return false, nil
	case errors.Is(err, cluster.ErrConditionFailed):
		return false, err
	}
	return false, fmt.Errorf("controller: %s %s-%d: %w", what, j.topic, j.partition, err)
}
