package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/partition"
)

// PartitionStore writes partition states: the leader's ISR changes,
// starting from the state of the latest snapshot (see
// cluster.Store.UpdatePartitionFrom). *cluster.Store implements it.
type PartitionStore interface {
	UpdatePartitionFrom(ctx context.Context, topic string, partition int32, known *cluster.PartitionState, conds []clientv3.Cmp, fn func(*cluster.PartitionState) error) (cluster.PartitionState, int64, error)
	// WritePartitions writes many ISR changes in one transaction, all or
	// none; MaxPartitionWrites bounds a batch.
	WritePartitions(ctx context.Context, writes []cluster.PartitionWrite, conds []clientv3.Cmp) (int64, error)
	MaxPartitionWrites() int
}

// errISRFenced aborts an ISR write whose leader no longer leads at its
// epoch: another broker, or a later epoch, owns the ISR now.
var errISRFenced = errors.New("replica: ISR change fenced: no longer the leader at this epoch")

// isrWriteTimeout bounds one ISR compare-and-swap.
const isrWriteTimeout = 10 * time.Second

// maintainISR is the goroutine (owned by Run) that shrinks and expands
// the ISR of the partitions this broker leads: every half
// replica.lag.time.max.ms, as in Kafka, whenever a follower's fetch
// makes it eligible to rejoin, and, while a broker is drained, often
// enough to remove it within leavingSilence of its going silent.
func (m *Manager) maintainISR(ctx context.Context) {
	lag := m.cfg.Broker.ReplicaLagTimeMax
	t := time.NewTicker(max(lag/2, 10*time.Millisecond))
	defer t.Stop()
	silence := m.leavingSilence()
	fast := time.NewTicker(max(silence/4, 10*time.Millisecond))
	defer fast.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.isrWake:
		case <-fast.C:
			if !m.anyDrained() {
				continue
			}
		}
		m.checkISR(ctx, time.Now(), partition.ISRRules{LagMax: lag, Joinable: m.canJoin, Leaving: m.drained, LeavingSilence: silence})
	}
}

// leavingSilence is how long a drained follower may go without fetching
// before its leaders take it out of their ISRs: a live follower fetches
// at least every replica.fetch.wait.max.ms, so a few of those without a
// fetch mean the broker went (its instance was reclaimed), long before
// its session expires.
func (m *Manager) leavingSilence() time.Duration {
	return max(4*m.cfg.Broker.ReplicaFetchWaitMax, time.Second)
}

// drained reports whether broker id is drained, by the last snapshot.
func (m *Manager) drained(id int32) bool {
	snap := m.latest.Load()
	if snap == nil {
		return false
	}
	b, live := snap.Brokers[id]
	return live && !b.Leads()
}

// anyDrained reports whether the last snapshot shows a drained broker.
func (m *Manager) anyDrained() bool {
	snap := m.latest.Load()
	if snap == nil {
		return false
	}
	for _, b := range snap.Brokers {
		if !b.Leads() {
			return true
		}
	}
	return false
}

// maxISRWriters bounds the ISR changes written at once. etcd commits
// concurrent proposals together, so the changes of hundreds of partitions
// (a follower back in sync everywhere, temporary replicas joining, a dead
// follower leaving) take a few round trips rather than one each.
const maxISRWriters = 16

// checkISR proposes and writes the ISR changes of every led partition.
func (m *Manager) checkISR(ctx context.Context, now time.Time, rules partition.ISRRules) {
	m.mu.RLock()
	parts := make([]*partition.Partition, 0, len(m.parts))
	for _, h := range m.parts {
		parts = append(parts, h.p)
	}
	m.mu.RUnlock()
	type proposal struct {
		p      *partition.Partition
		change partition.ISRChange
	}
	var props []proposal
	for _, p := range parts {
		if change, ok := p.ProposeISRChange(now, rules); ok {
			props = append(props, proposal{p, change})
		}
	}
	// Each partition has one change in flight at most (ProposeISRChange),
	// so the writes are independent: they go in batches of one etcd
	// transaction each (a dead follower leaves hundreds of ISRs at once),
	// several batches at a time.
	var batches [][]proposal
	for len(props) > 0 {
		n := min(len(props), max(1, m.cfg.Store.MaxPartitionWrites()))
		batches, props = append(batches, props[:n]), props[n:]
	}
	sem := make(chan struct{}, maxISRWriters)
	var wg sync.WaitGroup
	for _, b := range batches {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			changes := make([]partition.ISRChange, len(b))
			for i, pr := range b {
				changes[i] = pr.change
			}
			for i, res := range m.writeISRs(ctx, changes) {
				change := b[i].change
				if res.err != nil {
					m.log.Warn("changing ISR", "partition", change.ID.String(), "remove", change.Remove, "add", change.Add, "err", res.err)
				} else {
					m.log.Info("changed ISR", "partition", change.ID.String(), "remove", change.Remove, "add", change.Add, "isr", res.committed.ISR)
				}
				b[i].p.FinishISRChange(res.committed)
			}
		})
	}
	wg.Wait()
}

// isrResult is the outcome of one ISR change: the state written, or err.
type isrResult struct {
	committed *partition.LeaderState
	err       error
}

// writeISRs writes changes in one transaction when every partition is
// still as the latest snapshot shows it, led by this broker at the
// change's epoch; else each on its own (writeISR), deciding on the
// current state.
func (m *Manager) writeISRs(ctx context.Context, changes []partition.ISRChange) []isrResult {
	out := make([]isrResult, len(changes))
	one := func() []isrResult {
		for i, c := range changes {
			out[i].committed, out[i].err = m.writeISR(ctx, c)
		}
		return out
	}
	snap := m.latest.Load()
	if snap == nil || len(changes) == 1 {
		return one()
	}
	self := m.cfg.BrokerID
	writes := make([]cluster.PartitionWrite, len(changes))
	for i, c := range changes {
		known, ok := snap.Partition(c.ID.Topic, c.ID.Partition)
		if !ok || !known.Available() || known.Leader != self || known.LeaderEpoch != c.Epoch {
			return one()
		}
		next := known.Clone()
		applyISRChange(&next, c, m.joinable(c.Add))
		writes[i] = cluster.PartitionWrite{Topic: c.ID.Topic, Partition: c.ID.Partition, Known: known, Next: next}
	}
	wctx, cancel := context.WithTimeout(ctx, isrWriteTimeout)
	rev, err := m.cfg.Store.WritePartitions(wctx, writes, nil)
	cancel()
	if err != nil {
		return one()
	}
	for i, w := range writes {
		st := w.Next
		st.PartitionEpoch, st.Revision = w.Known.PartitionEpoch+1, rev
		ls := m.leaderState(&st, m.dirOf(changes[i].ID))
		out[i].committed = &ls
	}
	return out
}

// writeISR writes an ISR change with a compare-and-swap fenced by the
// leader epoch, and returns the state written. The metadata cache will
// deliver the same state later; the partition ignores it then, by its
// partition epoch.
func (m *Manager) writeISR(ctx context.Context, change partition.ISRChange) (*partition.LeaderState, error) {
	ctx, cancel := context.WithTimeout(ctx, isrWriteTimeout)
	defer cancel()
	self := m.cfg.BrokerID
	var known *cluster.PartitionState
	if snap := m.latest.Load(); snap != nil {
		if p, ok := snap.Partition(change.ID.Topic, change.ID.Partition); ok {
			known = &p
		}
	}
	st, _, err := m.cfg.Store.UpdatePartitionFrom(ctx, change.ID.Topic, change.ID.Partition, known, nil, func(s *cluster.PartitionState) error {
		if s.Leader != self || s.LeaderEpoch != change.Epoch {
			return fmt.Errorf("%w (%s: leader %d epoch %d, we are %d at epoch %d)", errISRFenced, change.ID, s.Leader, s.LeaderEpoch, self, change.Epoch)
		}
		applyISRChange(s, change, m.joinable(change.Add))
		return nil
	})
	if err != nil {
		return nil, err
	}
	ls := m.leaderState(&st, m.dirOf(change.ID))
	return &ls, nil
}

// applyISRChange applies a leader's change to the state it is about to
// replace, through the cluster package's rules (so that departing members
// become eligible when they must). Only joinable brokers that are still
// replicas join: a reassignment may have dropped one since the change was
// proposed.
func applyISRChange(s *cluster.PartitionState, change partition.ISRChange, joinable []int32) {
	s.LoseCopies(change.Lost)
	s.LeaveISR(change.Remove, change.MinISR)
	for id, dir := range change.Dirs {
		switch {
		case slices.Contains(change.Add, id):
			if slices.Contains(joinable, id) && slices.Contains(s.Replicas, id) {
				s.JoinISR(id, dir, change.MinISR)
			}
		case slices.Contains(s.ISR, id) && s.Dirs[id] == "":
			s.RecordDir(id, dir)
		}
	}
	s.SettleELR(change.MinISR)
}

// dirOf returns the directory id of the log directory holding a local
// replica ("" if none, or not tracked).
func (m *Manager) dirOf(id partition.ID) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if h := m.parts[id]; h != nil {
		return h.dir.id
	}
	return ""
}

// canJoin reports whether broker id may join an ISR: live and not
// stopping, by the last snapshot.
func (m *Manager) canJoin(id int32) bool { return len(m.joinable([]int32{id})) == 1 }

// joinable returns the brokers of add that may join an ISR: live and not
// stopping. A stopping broker is on its way out; the controller takes it
// out of every ISR, and adding it back would make acks=all producers wait
// for a broker that is about to stop. A drained broker that keeps running
// may join: it replicates until it goes.
func (m *Manager) joinable(add []int32) []int32 {
	snap := m.latest.Load()
	if snap == nil {
		return add
	}
	out := make([]int32, 0, len(add))
	for _, id := range add {
		if b, live := snap.Brokers[id]; live && !b.Stopping() {
			out = append(out, id)
		}
	}
	return out
}

// leaderState is what the partition needs of a partition state to lead;
// selfDir is the directory id of the local copy.
func (m *Manager) leaderState(ps *cluster.PartitionState, selfDir string) partition.LeaderState {
	return partition.LeaderState{
		Self:           m.cfg.BrokerID,
		Epoch:          ps.LeaderEpoch,
		PartitionEpoch: ps.PartitionEpoch,
		Replicas:       ps.Replicas,
		ISR:            ps.ISR,
		ELR:            ps.ELR,
		Dirs:           ps.Dirs,
		SelfDir:        selfDir,
		Notify:         m.isrWake,
	}
}
