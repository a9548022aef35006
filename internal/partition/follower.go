package partition

import (
	"context"
	"fmt"

	"github.com/spotstream/spotstream/internal/producers"
	"github.com/spotstream/spotstream/internal/record"
)

// BecomeFollower stops leading, if the replica led, and makes it follow
// leader at epoch (leader -1: the partition has no leader). Produce
// requests then get NOT_LEADER_OR_FOLLOWER, and those waiting for their
// acknowledgement fail with it. It reports whether anything changed, in
// which case the fetcher must find where the log diverges before fetching,
// and whether the replica was leading.
func (p *Partition) BecomeFollower(leader, epoch int32) (changed, wasLeader bool) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leader && p.leaderID == leader && p.leaderEpoch == epoch {
		return false, false
	}
	wasLeader = p.leader
	p.endTerm()
	p.leaderID, p.leaderEpoch = leader, epoch
	return true, wasLeader
}

// Following returns the leader and epoch the replica follows; ok is false
// while it leads.
func (p *Partition) Following() (leader, epoch int32, ok bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leaderID, p.leaderEpoch, !p.leader
}

// checkFollowing fails unless the replica still follows at epoch: a fetch
// answered after the replica changed role or epoch must not write.
// Callers hold p.appendMu, which role changes take too.
func (p *Partition) checkFollowing(epoch int32) error {
	select {
	case <-p.closed:
		return ErrClosed
	default:
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.leader || p.leaderEpoch != epoch {
		return fmt.Errorf("partition %s: %w %d", p.id, ErrNotFollowing, epoch)
	}
	return nil
}

// AppendFromLeader appends batches fetched from the leader at epoch, whose
// offsets and leader epochs the leader assigned, records the epochs they
// start in the epoch history and the producers in the producer state (for
// when this replica leads), and schedules a flush. It returns the new log
// end offset, durable once WaitDurable(end) returns: only then may the
// fetcher report it to the leader.
func (p *Partition) AppendFromLeader(epoch int32, batches []byte) (end int64, err error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollowing(epoch); err != nil {
		return 0, err
	}
	if err := p.log.AppendReplicated(batches); err != nil {
		return 0, fmt.Errorf("partition %s: %w", p.id, err)
	}
	var records int64
	for b := batches; len(b) > 0; {
		h, _ := record.ReadHeader(b) // AppendReplicated checked every header
		if latest, ok := p.log.Epochs().Latest(); h.PartitionLeaderEpoch >= 0 && (!ok || h.PartitionLeaderEpoch > latest) {
			if err := p.log.Epochs().Assign(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
				return 0, fmt.Errorf("partition %s: %w", p.id, err)
			}
		}
		p.producers.Update(producerBatch(h))
		records += int64(h.NumRecords)
		b = b[h.Size():]
	}
	end = p.log.EndOffset()
	p.leo.Advance(end)
	if cfg := p.Config(); cfg.FlushOnAck {
		p.syncer.Request(p)
	} else {
		p.durable.Advance(end)
		p.unflushed += records
		if cfg.FlushMessages > 0 && p.unflushed >= cfg.FlushMessages {
			p.unflushed = 0
			p.syncer.Request(p)
		}
	}
	return end, nil
}

// TruncateFromLeader removes the records at and after offset, where the
// log diverges from that of the leader at epoch (KIP-101). The log end may
// end up below offset (a batch goes whole); the durable offset and high
// watermark follow it down, and the producer state is rebuilt.
func (p *Partition) TruncateFromLeader(epoch int32, offset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollowing(epoch); err != nil {
		return err
	}
	if offset >= p.log.EndOffset() {
		return nil
	}
	p.truncMu.Lock()
	defer p.truncMu.Unlock()
	p.truncGen.Add(1)
	if err := p.log.TruncateTo(offset); err != nil {
		return fmt.Errorf("partition %s: %w", p.id, err)
	}
	end := p.log.EndOffset()
	p.logger.Info("truncated to the leader's log", "offset", end, "epoch", epoch)
	p.leo.Reset(end)
	if p.durable.Load() > end {
		p.durable.Reset(end)
	}
	if p.hw.Load() > end {
		p.hw.Reset(end)
	}
	state := producers.NewState()
	err := p.log.Batches(p.log.StartOffset(), func(h record.Header) error {
		state.Update(producerBatch(h))
		return nil
	})
	if err != nil {
		return fmt.Errorf("partition %s: rebuilding producer state: %w", p.id, err)
	}
	p.producers = state
	return nil
}

// ResetFromLeader empties a follower's log and restarts it at offset, the
// leader's log start, when the leader no longer has the records after the
// follower's end (deleted by retention or compaction): nothing the
// follower holds can be continued, so it starts over where the leader's
// log starts.
func (p *Partition) ResetFromLeader(epoch int32, offset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollowing(epoch); err != nil {
		return err
	}
	if offset <= p.log.EndOffset() {
		return nil // the leader's log continues ours after all
	}
	p.truncMu.Lock()
	defer p.truncMu.Unlock()
	p.truncGen.Add(1)
	if err := p.log.ResetTo(offset); err != nil {
		return fmt.Errorf("partition %s: %w", p.id, err)
	}
	p.logger.Warn("reset the log to the leader's log start: the records after our end are gone there", "offset", offset, "epoch", epoch)
	// Everything the watermarks covered is gone; they start again at the
	// leader's log start, which moves them forward.
	p.leo.Reset(offset)
	p.durable.Reset(offset)
	p.hw.Reset(offset)
	p.producers = producers.NewState()
	return nil
}

// FollowLeaderHighWatermark sets a follower's high watermark from its
// leader's: the leader's, capped at the local log end.
func (p *Partition) FollowLeaderHighWatermark(leaderHW int64) {
	p.hw.Advance(min(leaderHW, p.log.EndOffset()))
}

// FollowLeaderLogStart gives back the segments the leader no longer has.
func (p *Partition) FollowLeaderLogStart(leaderStart int64) error {
	if leaderStart <= p.log.StartOffset() {
		return nil
	}
	_, err := p.DeleteSegmentsBefore(leaderStart)
	return err
}

// LatestEpoch returns the latest leader epoch in the local log's history.
func (p *Partition) LatestEpoch() (int32, bool) { return p.log.Epochs().Latest() }

// LocalEndOffsetFor answers OffsetsForLeaderEpoch from the local history,
// as a follower does to compare its log with the leader's answer.
func (p *Partition) LocalEndOffsetFor(epoch int32) (int32, int64) {
	return p.log.Epochs().EndOffsetFor(epoch)
}

// DurableOffset returns the local log end offset known to be durable.
func (p *Partition) DurableOffset() int64 { return p.durable.Load() }

// WaitLogEnd blocks until the log end offset reaches offset (a follower's
// fetch long poll, in tests), ctx ends or the partition closes.
func (p *Partition) WaitLogEnd(ctx context.Context, offset int64) bool {
	return p.leo.Wait(ctx, offset, p.closed)
}
