package partition

import (
	"context"
	"fmt"
	"maps"
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
	// ELR are the eligible leader replicas: while there are any, the
	// high watermark stays where it is (see mayCommit).
	ELR []int32
	// Dirs records the directory of each member's copy, and SelfDir is the
	// directory of this replica. A follower counts for the high watermark
	// only while it fetches for the copy recorded for it, and the leader
	// commits only once its own copy is recorded. Both empty: directories
	// are not tracked (single-replica callers, tests).
	Dirs    map[int32]string
	SelfDir string
	// Notify, if set, is poked without blocking when a follower may rejoin
	// the ISR, so that the ISR owner need not wait for its next tick.
	Notify chan<- struct{}
}

// ISRChange is an ISR change a leader proposes: the replica manager writes
// it with a compare-and-swap fenced by Epoch, then reports the outcome
// with FinishISRChange.
type ISRChange struct {
	ID    ID
	Epoch int32
	// Remove leave the ISR (fell behind); Add join it (caught up).
	Remove []int32
	Add    []int32
	// Lost fetch for another copy than the one recorded for them: they
	// leave the ISR and the ELR for good.
	Lost []int32
	// Dirs are directories to record: those of the copies joining, and of
	// members whose copy has no record yet.
	Dirs map[int32]string
	// MinISR is min.insync.replicas, for the ELR rules of the write.
	MinISR int
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
	p.commits = make(chan struct{})
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
	p.elr = slices.Clone(s.ELR)
	p.dirs = maps.Clone(s.Dirs)
	p.selfDir = s.SelfDir
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
	p.updateCommits()
}

// belowMinISR reports whether the ISR is too small for the high watermark
// to advance (see mayCommit). Callers hold p.mu.
func (p *Partition) belowMinISR() bool {
	return p.self >= 0 && len(p.isr) < effectiveMinISR(p.cfg.MinInsyncReplicas, len(p.replicas))
}

// updateCommits closes the commits channel when the ISR is below
// min.insync.replicas, and opens a new one when it is not. Callers hold
// p.mu for writing, while leading.
func (p *Partition) updateCommits() {
	select {
	case <-p.commits:
		if !p.belowMinISR() {
			p.commits = make(chan struct{})
		}
	default:
		if p.belowMinISR() {
			close(p.commits)
		}
	}
}

// endTerm ends the current leadership term, if any: produce requests
// waiting on it return NOT_LEADER_OR_FOLLOWER. Callers hold p.mu.
func (p *Partition) endTerm() {
	if p.leader {
		close(p.term)
		select {
		case <-p.commits:
		default:
			close(p.commits)
		}
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
	if p.self >= 0 && !mayCommit(p.isr, p.elr, len(p.replicas), p.cfg.MinInsyncReplicas, p.dirs[p.self] == p.selfDir) {
		return
	}
	isr := p.isr
	if len(p.pendingAdd) > 0 {
		isr = withISRChange(p.isr, nil, p.pendingAdd)
	}
	p.hw.Advance(highWatermark(p.durable.Load(), p.self, isr, p.followers, p.dirs))
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
// has offset durably (its log end offset) in its copy in directory dir,
// which may advance the high watermark, and returns batches from offset up
// to the leader's log end, not only below the high watermark. maxBytes 0
// records the fetch offset without reading (a fetch response already
// full).
func (p *Partition) ReadReplica(replica int32, dir string, offset int64, maxBytes int, currentEpoch int32, now time.Time) (ReadResult, error) {
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
	f.dir = dir
	p.advanceHWLocked()
	if p.notify != nil && !p.changing && p.isrWork(replica, f) {
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

// isrWork reports whether a follower's fetch gives the ISR goroutine
// something to write: it may join, its copy is lost, or its directory is
// not recorded yet. Callers hold p.mu.
func (p *Partition) isrWork(id int32, f *follower) bool {
	inISR := slices.Contains(p.isr, id)
	switch {
	case !inISR && canJoin(f, p.hw.Load(), p.epochStart):
		return true
	case (inISR || slices.Contains(p.elr, id)) && lostCopy(f, p.dirs[id]):
		return true
	}
	return inISR && p.dirs[id] == "" && f.dir != ""
}

// ISRRules are what a leader's ISR check needs to know beyond its own
// followers.
type ISRRules struct {
	// LagMax is replica.lag.time.max.ms: a member not caught up for that
	// long leaves.
	LagMax time.Duration
	// Joinable, if not nil, vetoes followers that may not join whatever
	// their offsets say: a broker that died or is stopping keeps its last
	// fetch offset here, and proposing it would hold the high watermark
	// for nothing.
	Joinable func(id int32) bool
	// Leaving, if not nil, names the followers whose brokers announced
	// they are going (drained). Such a member leaves once silent, no
	// fetch for LeavingSilence, rather than after LagMax: its death is
	// expected, and acks=all producers should not wait for its session to
	// expire.
	Leaving        func(id int32) bool
	LeavingSilence time.Duration
}

// ProposeISRChange decides whether the ISR should change at now: members
// not caught up for rules.LagMax leave, as do leaving members fallen
// silent, followers that reached the high
// watermark join, members fetching for a copy other than the recorded one
// are lost, unrecorded directories of members (this one included) get
// recorded, and an ELR that the ISR has outgrown (min.insync.replicas was
// lowered) is cleared. Followers joining count towards the high watermark
// at once (until FinishISRChange), so that it cannot pass them while the
// change is written. One change is in flight at a time, as in Kafka.
func (p *Partition) ProposeISRChange(now time.Time, rules ISRRules) (ISRChange, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader || p.self < 0 || p.changing {
		return ISRChange{}, false
	}
	c := ISRChange{ID: p.id, Epoch: p.leaderEpoch, MinISR: p.cfg.MinInsyncReplicas}
	for _, id := range p.replicas {
		if id == p.self {
			continue
		}
		if f := p.followers[id]; (slices.Contains(p.isr, id) || slices.Contains(p.elr, id)) && lostCopy(f, p.dirs[id]) {
			c.Lost = append(c.Lost, id)
		}
	}
	for _, id := range outOfSync(p.self, p.isr, p.followers, now, rules) {
		if !slices.Contains(c.Lost, id) {
			c.Remove = append(c.Remove, id)
		}
	}
	hw := p.hw.Load()
	for _, id := range p.replicas {
		f := p.followers[id]
		switch {
		case id == p.self:
			if p.dirs[id] == "" && p.selfDir != "" {
				c.recordDir(id, p.selfDir)
			}
		case slices.Contains(p.isr, id):
			if p.dirs[id] == "" && f != nil && f.fetchOffset >= 0 && f.dir != "" && !slices.Contains(c.Remove, id) {
				c.recordDir(id, f.dir)
			}
		case canJoin(f, hw, p.epochStart) && !slices.Contains(c.Lost, id) && (rules.Joinable == nil || rules.Joinable(id)):
			c.Add = append(c.Add, id)
			c.recordDir(id, f.dir)
		}
	}
	isrAfter := len(p.isr) - len(c.Remove) - countIn(c.Lost, p.isr) + len(c.Add)
	settle := len(p.elr) > 0 && isrAfter >= effectiveMinISR(p.cfg.MinInsyncReplicas, len(p.replicas))
	if len(c.Remove) == 0 && len(c.Add) == 0 && len(c.Lost) == 0 && len(c.Dirs) == 0 && !settle {
		return ISRChange{}, false
	}
	p.changing, p.pendingAdd = true, c.Add
	return c, true
}

// recordDir adds a directory to record. The map is made on first use:
// most checks propose nothing, and they run for every led partition.
func (c *ISRChange) recordDir(id int32, dir string) {
	if c.Dirs == nil {
		c.Dirs = map[int32]string{}
	}
	c.Dirs[id] = dir
}

// countIn returns how many of ids are in set.
func countIn(ids, set []int32) int {
	n := 0
	for _, id := range ids {
		if slices.Contains(set, id) {
			n++
		}
	}
	return n
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
// rule) or the ISR fell below min.insync.replicas before it did (then the
// high watermark cannot advance: strict min ISR), ErrNotLeader when the
// leadership term that appended it ended, and ctx's error on timeout.
func (p *Partition) WaitAcked(ctx context.Context, res AppendResult, all bool) error {
	w, abort := p.durable, res.term
	if all {
		w, abort = p.hw, res.commits
	}
	if !w.Wait(ctx, res.NextOffset, abort) {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-p.closed:
			return ErrClosed
		case <-res.term:
			return ErrNotLeader
		default:
			return fmt.Errorf("partition %s: %w: the ISR fell below min.insync.replicas, so the high watermark cannot reach the batch", p.id, ErrNotEnoughReplicasAfterAppend)
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
