// Package producers keeps the idempotent-producer state of one partition:
// for each producer id, its current epoch and the sequence ranges and offsets
// of its last five batches. The leader consults it before appending a batch
// to turn a retried batch into a duplicate acknowledgement rather than a
// second copy, to reject a gap in the sequence, and to fence a producer whose
// epoch is stale. Followers and log recovery replay every appended batch into
// it, so the state is a pure function of the log and survives restarts by
// being rebuilt from it.
//
// The rules follow Kafka's (KIP-98, KIP-360):
//
//   - a batch from an epoch older than the producer's current one is
//     rejected with [ErrInvalidProducerEpoch];
//   - a batch opening a newer epoch, or from an unknown producer, must carry
//     sequence 0;
//   - a batch identical in (epoch, first sequence, last sequence) to one of
//     the last [MaxCachedBatches] is a duplicate: it is acknowledged with the
//     offsets of the original and not appended again;
//   - otherwise its first sequence must follow the last one (wrapping at
//     math.MaxInt32), else [ErrOutOfOrderSequence].
package producers

import (
	"errors"
	"fmt"
	"math"
)

// MaxCachedBatches is how many recent batches per producer are remembered for
// duplicate detection. Kafka's producers keep at most five batches in flight
// per partition when idempotent, so five suffice.
const MaxCachedBatches = 5

// NoProducerID marks a batch from a producer that is not idempotent.
const NoProducerID = -1

var (
	// ErrOutOfOrderSequence means a batch does not continue its producer's
	// sequence (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("producers: out of order sequence number")
	// ErrInvalidProducerEpoch means a batch comes from a fenced, older
	// epoch of its producer (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("producers: invalid producer epoch")
)

// Batch is what the state needs to know of a record batch.
type Batch struct {
	ProducerID    int64
	ProducerEpoch int16
	FirstSequence int32
	NumRecords    int32
	// BaseOffset is the offset of the batch's first record; meaningful
	// once the batch is in the log.
	BaseOffset int64
}

// LastSequence is the sequence of the batch's last record, wrapping as Kafka
// does.
func (b Batch) LastSequence() int32 { return addSeq(b.FirstSequence, b.NumRecords-1) }

// LastOffset is the offset of the batch's last record.
func (b Batch) LastOffset() int64 { return b.BaseOffset + int64(b.NumRecords) - 1 }

func addSeq(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

type cachedBatch struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	numRecords        int32
}

type producer struct {
	epoch   int16
	batches [MaxCachedBatches]cachedBatch // ring, oldest first from head
	head, n int
}

func (p *producer) last() *cachedBatch {
	if p.n == 0 {
		return nil
	}
	return &p.batches[(p.head+p.n-1)%MaxCachedBatches]
}

func (p *producer) push(b cachedBatch) {
	if p.n < MaxCachedBatches {
		p.batches[(p.head+p.n)%MaxCachedBatches] = b
		p.n++
		return
	}
	p.batches[p.head] = b
	p.head = (p.head + 1) % MaxCachedBatches
}

// State is the producer state of one partition. It is not safe for
// concurrent use; the partition serializes access with its append lock.
type State struct {
	producers map[int64]*producer
}

// NewState returns an empty state.
func NewState() *State { return &State{producers: make(map[int64]*producer)} }

// Len returns the number of producers tracked.
func (s *State) Len() int { return len(s.producers) }

// Check decides what to do with a batch the leader is about to append. It
// returns dup true and the original batch's offsets when the batch was
// already appended, an error when it must be rejected, and neither when it
// should be appended. Batches from non-idempotent producers always pass.
func (s *State) Check(b Batch) (orig Batch, dup bool, err error) {
	if b.ProducerID == NoProducerID {
		return Batch{}, false, nil
	}
	p := s.producers[b.ProducerID]
	if p == nil {
		if b.FirstSequence != 0 {
			return Batch{}, false, fmt.Errorf("%w: producer %d is unknown and its batch starts at sequence %d", ErrOutOfOrderSequence, b.ProducerID, b.FirstSequence)
		}
		return Batch{}, false, nil
	}
	switch {
	case b.ProducerEpoch < p.epoch:
		return Batch{}, false, fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, b.ProducerID, b.ProducerEpoch, p.epoch)
	case b.ProducerEpoch > p.epoch:
		if b.FirstSequence != 0 {
			return Batch{}, false, fmt.Errorf("%w: producer %d opens epoch %d at sequence %d", ErrOutOfOrderSequence, b.ProducerID, b.ProducerEpoch, b.FirstSequence)
		}
		return Batch{}, false, nil
	}
	last := b.LastSequence()
	for i := range p.n {
		c := p.batches[(p.head+i)%MaxCachedBatches]
		if c.firstSeq == b.FirstSequence && c.lastSeq == last {
			orig = b
			orig.BaseOffset = c.baseOffset
			return orig, true, nil
		}
	}
	if l := p.last(); l != nil && b.FirstSequence != addSeq(l.lastSeq, 1) {
		return Batch{}, false, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d", ErrOutOfOrderSequence, b.ProducerID, b.ProducerEpoch, addSeq(l.lastSeq, 1), b.FirstSequence)
	}
	return Batch{}, false, nil
}

// Update records a batch that is now in the log. The leader calls it after
// appending a batch that passed Check; followers and recovery call it for
// every batch, in log order.
func (s *State) Update(b Batch) {
	if b.ProducerID == NoProducerID {
		return
	}
	p := s.producers[b.ProducerID]
	if p == nil || b.ProducerEpoch > p.epoch {
		p = &producer{epoch: b.ProducerEpoch}
		s.producers[b.ProducerID] = p
	} else if b.ProducerEpoch < p.epoch {
		return // a zombie's batch replicated before it was fenced
	}
	p.push(cachedBatch{firstSeq: b.FirstSequence, lastSeq: b.LastSequence(), baseOffset: b.BaseOffset, numRecords: b.NumRecords})
}

// TruncateTo forgets batches at or after offset (a follower truncating a
// divergent log). Producers left without batches are forgotten, which a
// rebuild from the truncated log would also do.
func (s *State) TruncateTo(offset int64) {
	for id, p := range s.producers {
		for p.n > 0 && p.last().baseOffset >= offset {
			p.n--
		}
		if p.n == 0 {
			delete(s.producers, id)
		}
	}
}
