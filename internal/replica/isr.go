package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/partition"
)

// PartitionStore writes partition states: the leader's ISR changes.
// *cluster.Store implements it.
type PartitionStore interface {
	UpdatePartition(ctx context.Context, topic string, partition int32, fn func(*cluster.PartitionState) error) (cluster.PartitionState, int64, error)
}

// errISRFenced aborts an ISR write whose leader no longer leads at its
// epoch: another broker, or a later epoch, owns the ISR now.
var errISRFenced = errors.New("replica: ISR change fenced: no longer the leader at this epoch")

// isrWriteTimeout bounds one ISR compare-and-swap.
const isrWriteTimeout = 10 * time.Second

// maintainISR is the goroutine (owned by Run) that shrinks and expands
// the ISR of the partitions this broker leads: every half
// replica.lag.time.max.ms, as in Kafka, and whenever a follower's fetch
// makes it eligible to rejoin.
func (m *Manager) maintainISR(ctx context.Context) {
	lag := m.cfg.Broker.ReplicaLagTimeMax
	t := time.NewTicker(max(lag/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.isrWake:
		}
		m.checkISR(ctx, time.Now(), lag)
	}
}

// checkISR proposes and writes the ISR changes of every led partition.
func (m *Manager) checkISR(ctx context.Context, now time.Time, lag time.Duration) {
	m.mu.RLock()
	parts := make([]*partition.Partition, 0, len(m.parts))
	for _, h := range m.parts {
		parts = append(parts, h.p)
	}
	m.mu.RUnlock()
	for _, p := range parts {
		change, ok := p.ProposeISRChange(now, lag, m.canJoin)
		if !ok {
			continue
		}
		committed, err := m.writeISR(ctx, change)
		if err != nil {
			m.log.Warn("changing ISR", "partition", change.ID.String(), "remove", change.Remove, "add", change.Add, "err", err)
		} else {
			m.log.Info("changed ISR", "partition", change.ID.String(), "remove", change.Remove, "add", change.Add, "isr", committed.ISR)
		}
		p.FinishISRChange(committed)
	}
}

// writeISR writes an ISR change with a compare-and-swap fenced by the
// leader epoch, and returns the state written. The metadata cache will
// deliver the same state later; the partition ignores it then, by its
// partition epoch.
func (m *Manager) writeISR(ctx context.Context, change partition.ISRChange) (*partition.LeaderState, error) {
	ctx, cancel := context.WithTimeout(ctx, isrWriteTimeout)
	defer cancel()
	self := m.cfg.BrokerID
	st, _, err := m.cfg.Store.UpdatePartition(ctx, change.ID.Topic, change.ID.Partition, func(s *cluster.PartitionState) error {
		if s.Leader != self || s.LeaderEpoch != change.Epoch {
			return fmt.Errorf("%w (%s: leader %d epoch %d, we are %d at epoch %d)", errISRFenced, change.ID, s.Leader, s.LeaderEpoch, self, change.Epoch)
		}
		s.ISR = isrWithChange(s.ISR, change.Remove, m.joinable(change.Add), s.Replicas)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ls := m.leaderState(&st)
	return &ls, nil
}

// canJoin reports whether broker id may join an ISR: live and not
// draining, by the last snapshot.
func (m *Manager) canJoin(id int32) bool { return len(m.joinable([]int32{id})) == 1 }

// joinable returns the brokers of add that may join an ISR: live and not
// draining. A draining broker is on its way out; the controller takes it
// out of every ISR, and adding it back would make acks=all producers wait
// for a broker that is about to stop.
func (m *Manager) joinable(add []int32) []int32 {
	snap := m.latest.Load()
	if snap == nil {
		return add
	}
	out := make([]int32, 0, len(add))
	for _, id := range add {
		if b, live := snap.Brokers[id]; live && b.State != cluster.StateDraining {
			out = append(out, id)
		}
	}
	return out
}

// isrWithChange removes and adds members, keeping only assigned replicas
// (a reassignment may have dropped one since the change was proposed).
func isrWithChange(isr, remove, add, replicas []int32) []int32 {
	out := make([]int32, 0, len(isr)+len(add))
	for _, id := range isr {
		if !slices.Contains(remove, id) {
			out = append(out, id)
		}
	}
	for _, id := range add {
		if !slices.Contains(out, id) && slices.Contains(replicas, id) {
			out = append(out, id)
		}
	}
	return out
}

// leaderState is what the partition needs of a partition state to lead.
func (m *Manager) leaderState(ps *cluster.PartitionState) partition.LeaderState {
	return partition.LeaderState{
		Self:           m.cfg.BrokerID,
		Epoch:          ps.LeaderEpoch,
		PartitionEpoch: ps.PartitionEpoch,
		Replicas:       ps.Replicas,
		ISR:            ps.ISR,
		Notify:         m.isrWake,
	}
}
