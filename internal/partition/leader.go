package partition

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spotstream/spotstream/internal/log"
)

// LeaderState is the part of the replicated partition state a leader acts
// on. The replica manager builds it from the cluster's partition state;
// partition does not import the cluster package (it sits below it).
type LeaderState struct {
	// Self is this broker's id. -1 means the caller tracks no replica ids:
	// the replica is the only one (tests, single-replica callers).
	Self int32
	// Epoch is the leader epoch.
	Epoch int32
	// PartitionEpoch versions Replicas and ISR: a state older than the one
	// applied is ignored, so that a lagging snapshot cannot undo an ISR
	// change the leader already made.
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	// Notify, if set, is poked without blocking when a follower may rejoin
	// the ISR, so that the ISR owner need not wait for its next tick.
	Notify chan<- struct{}
}

// ISRChange is an ISR change a leader proposes: the replica manager writes
// it with a compare-and-swap fenced by Epoch, then reports the outcome
// with FinishISRChange.
type ISRChange struct {
	ID     ID
	Epoch  int32
	Remove []int32
	Add    []int32
}

// BecomeLeader makes the replica the only in-sync replica and leader at
// epoch. Batches appended from now on carry epoch.
func (p *Partition) BecomeLeader(epoch int32) error {
	_, err := p.Lead(LeaderState{Self: -1, Epoch: epoch})
	return err
}

// Lead makes the replica lead at s.Epoch, or, when it already leads at
// that epoch, applies a newer ISR and replica set. It reports whether a
// new leadership term began (the caller tells the group coordinator). The
// high watermark carries over from the previous role and only advances
// once every in-sync follower has fetched in this term, so that nothing
// above the true high watermark becomes visible.
func (p *Partition) Lead(s LeaderState) (became bool, err error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.leader && p.leaderEpoch == s.Epoch {
		if s.PartitionEpoch > p.partitionEpoch {
			p.setMembers(s, now)
			p.advanceHWLocked()
		}
		return false, nil
	}
	if latest, ok := p.log.Epochs().Latest(); !ok || s.Epoch > latest {
		if err := p.log.Epochs().Assign(s.Epoch, p.log.EndOffset()); err != nil {
			return false, fmt.Errorf("partition %s: %w", p.id, err)
		}
	}
	p.epochStart = p.log.EndOffset()
	if entries := p.log.Epochs().Entries(); len(entries) > 0 && entries[len(entries)-1].Epoch == s.Epoch {
		p.epochStart = entries[len(entries)-1].StartOffset
	}
	p.leader = true
	p.leaderEpoch = s.Epoch
	p.leaderID = s.Self
	p.term = make(chan struct{})
	p.self = s.Self
	p.notify = s.Notify
	p.changing, p.pendingAdd = false, nil
	p.followers = make(map[int32]*follower)
	p.setMembers(s, now)
	p.advanceHWLocked()
	return true, nil
}

// setMembers adopts s's replicas and ISR, keeping what is known of
// followers that stay. Callers hold p.mu.
func (p *Partition) setMembers(s LeaderState, now time.Time) {
	p.partitionEpoch = s.PartitionEpoch
	p.replicas = slices.Clone(s.Replicas)
	p.isr = slices.Clone(s.ISR)
	for id := range p.followers {
		if !slices.Contains(p.replicas, id) {
			delete(p.followers, id)
		}
	}
	for _, id := range p.replicas {
		if id != p.self && p.followers[id] == nil {
			p.followers[id] = newFollower(slices.Contains(p.isr, id), now)
		}
	}
}

// endTerm ends the current leadership term, if any: produce requests
// waiting on it return NOT_LEADER_OR_FOLLOWER. Callers hold p.mu.
func (p *Partition) endTerm() {
	if p.leader {
		close(p.term)
	}
	p.leader = false
	p.followers = nil
	p.changing, p.pendingAdd = false, nil
}

// advanceHWLocked raises the high watermark to what the ISR (with any
// follower being added, Kafka's "maximal ISR") has durably. It advances
// while p.mu is held, so that an ISR decision made under the write lock
// sees every advance that could have happened before it. Callers hold
// p.mu.
func (p *Partition) advanceHWLocked() {
	if !p.leader {
		return
	}
	isr := p.isr
	if len(p.pendingAdd) > 0 {
		isr = withISRChange(p.isr, nil, p.pendingAdd)
	}
	p.hw.Advance(highWatermark(p.durable.Load(), p.self, isr, p.followers))
}

// advanceHW is advanceHWLocked for callers without p.mu.
func (p *Partition) advanceHW() {
	p.mu.RLock()
	p.advanceHWLocked()
	p.mu.RUnlock()
}

// ISRSize returns the number of in-sync replicas, this one included.
func (p *Partition) ISRSize() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 1
	for _, id := range p.isr {
		if id != p.self {
			n++
		}
	}
	return n
}

// ISR returns the in-sync replicas the leader works with.
func (p *Partition) ISR() []int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.isr)
}

// ReadReplica serves a follower's fetch: it records that follower replica
// has offset durably (its log end offset), which may advance the high
// watermark, and returns batches from offset up to the leader's log end,
// not only below the high watermark. maxBytes 0 records the fetch offset
// without reading (a fetch response already full).
func (p *Partition) ReadReplica(replica int32, offset int64, maxBytes int, currentEpoch int32, now time.Time) (ReadResult, error) {
	p.mu.Lock()
	if !p.leader {
		p.mu.Unlock()
		return ReadResult{}, ErrNotLeader
	}
	if err := p.checkEpoch(currentEpoch); err != nil {
		p.mu.Unlock()
		return ReadResult{}, err
	}
	f := p.followers[replica]
	if f == nil {
		p.mu.Unlock()
		return ReadResult{}, fmt.Errorf("%w: broker %d is not a follower of %s", ErrNotLeader, replica, p.id)
	}
	end, start := p.log.EndOffset(), p.log.StartOffset()
	if offset > end || offset < start {
		p.mu.Unlock()
		return ReadResult{HighWatermark: p.hw.Load(), LogStartOffset: start},
			fmt.Errorf("partition %s: follower %d fetches %d, log is [%d, %d): %w", p.id, replica, offset, start, end, log.ErrOffsetOutOfRange)
	}
	f.fetched(offset, end, now)
	p.advanceHWLocked()
	if p.notify != nil && !p.changing && !slices.Contains(p.isr, replica) && canJoin(f, p.hw.Load(), p.epochStart) {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()

	res := ReadResult{HighWatermark: p.hw.Load(), LogStartOffset: start}
	if offset == end || maxBytes <= 0 {
		return res, nil
	}
	records, err := p.log.Read(offset, maxBytes, end)
	if err != nil {
		return res, err
	}
	res.Records = records
	return res, nil
}

// ProposeISRChange decides whether the ISR should change at now: members
// not caught up for lagMax leave, followers that reached the high
// watermark join. Followers joining count towards the high watermark at
// once (until FinishISRChange), so that it cannot pass them while the
// change is written. One change is in flight at a time, as in Kafka.
// joinable, if not nil, vetoes followers that may not join whatever their
// offsets say: a broker that died or is draining keeps its last fetch
// offset here, and proposing it would hold the high watermark for nothing.
func (p *Partition) ProposeISRChange(now time.Time, lagMax time.Duration, joinable func(id int32) bool) (ISRChange, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader || p.self < 0 || p.changing {
		return ISRChange{}, false
	}
	remove := outOfSync(p.self, p.isr, p.followers, now, lagMax)
	var add []int32
	hw := p.hw.Load()
	for _, id := range p.replicas {
		if id != p.self && !slices.Contains(p.isr, id) && canJoin(p.followers[id], hw, p.epochStart) && (joinable == nil || joinable(id)) {
			add = append(add, id)
		}
	}
	if len(remove) == 0 && len(add) == 0 {
		return ISRChange{}, false
	}
	p.changing, p.pendingAdd = true, add
	return ISRChange{ID: p.id, Epoch: p.leaderEpoch, Remove: remove, Add: add}, true
}

// FinishISRChange ends the change ProposeISRChange started: committed is
// the state written, or nil when the write failed or was fenced.
func (p *Partition) FinishISRChange(committed *LeaderState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.changing, p.pendingAdd = false, nil
	if committed != nil && p.leader && committed.Epoch == p.leaderEpoch && committed.PartitionEpoch > p.partitionEpoch {
		p.setMembers(*committed, time.Now())
	}
	// A shrink lets the high watermark advance.
	p.advanceHWLocked()
}

// WaitAcked blocks until the batch res describes is acknowledged: the
// high watermark passed it (all, acks=all) or it is durable here (acks=1).
// It fails with ErrNotEnoughReplicasAfterAppend when the high watermark
// passed it with fewer in-sync replicas than min.insync.replicas (Kafka's
// rule), ErrNotLeader when the leadership term that appended it ended, and
// ctx's error on timeout.
func (p *Partition) WaitAcked(ctx context.Context, res AppendResult, all bool) error {
	w := p.durable
	if all {
		w = p.hw
	}
	if !w.Wait(ctx, res.NextOffset, res.term) {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-p.closed:
			return ErrClosed
		default:
			return ErrNotLeader
		}
	}
	if all {
		if n, minISR := p.ISRSize(), p.Config().MinInsyncReplicas; n < minISR {
			return fmt.Errorf("partition %s: %w: %d in-sync replicas, min.insync.replicas is %d", p.id, ErrNotEnoughReplicasAfterAppend, n, minISR)
		}
	}
	return nil
}

// SubscribeLogEnd pokes ch (without blocking) whenever the log end offset
// advances, until the returned function is called: follower fetches
// long-poll on it.
func (p *Partition) SubscribeLogEnd(ch chan<- struct{}) func() {
	return p.leo.Subscribe(ch)
}
