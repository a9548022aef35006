// Package partition holds one replica of a topic partition: its log, its
// idempotent-producer state, its leader epoch, and the two offsets that
// decide what is acknowledged and what is visible:
//
//   - the durable offset: the log end offset known to be on disk (with
//     log.flush.on.ack) or written (without it). Appends advance the log end
//     offset at once; the log directory's group-commit syncer advances the
//     durable offset when its fdatasync round covers them.
//   - the high watermark: the offset below which every in-sync replica has
//     the records durably. Consumers read below it, and acks=all produce
//     requests complete when it passes their batch. A leader computes it as
//     the smallest of its own durable offset and the fetch offsets of the
//     other in-sync replicas (followers fsync what they fetched before they
//     report it); with this broker as the only in-sync replica it equals the
//     durable offset. It only moves forward, except when a follower
//     truncates its log below it.
//
// A replica leads (leader.go: Lead, ReadReplica, the ISR decisions of
// isr.go) or follows (follower.go: BecomeFollower, AppendFromLeader,
// TruncateFromLeader, driven by the fetchers of package replication). The
// two roles are switched under the append lock, and every follower write
// names the leader epoch it was fetched under, so that a fetch that
// completes after a role change cannot write into a leader's log.
//
// Appends are serialized by the partition (one appender at a time, in the
// order the requests arrived on each connection); reads, waits and flushes
// run concurrently with them.
package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/producers"
	"github.com/spotstream/spotstream/internal/record"
	"github.com/spotstream/spotstream/internal/watermark"
)

var (
	// ErrNotLeader means this replica does not lead the partition
	// (NOT_LEADER_OR_FOLLOWER).
	ErrNotLeader = errors.New("partition: not the leader")
	// ErrFencedLeaderEpoch means the request carries an older leader epoch
	// than this replica knows (FENCED_LEADER_EPOCH).
	ErrFencedLeaderEpoch = errors.New("partition: fenced leader epoch")
	// ErrUnknownLeaderEpoch means the request carries a newer leader epoch
	// than this replica knows (UNKNOWN_LEADER_EPOCH).
	ErrUnknownLeaderEpoch = errors.New("partition: unknown leader epoch")
	// ErrClosed means the partition was closed or deleted.
	ErrClosed = errors.New("partition: closed")
	// ErrNotEnoughReplicasAfterAppend means an acks=all batch was written
	// but the ISR fell below min.insync.replicas before it was committed
	// (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	ErrNotEnoughReplicasAfterAppend = errors.New("partition: not enough in-sync replicas after append")
	// ErrNotFollowing means a fetcher's write came for a leader epoch the
	// replica no longer follows.
	ErrNotFollowing = errors.New("partition: not following at this leader epoch")
)

// ID names a partition.
type ID struct {
	Topic     string
	Partition int32
}

func (id ID) String() string { return fmt.Sprintf("%s-%d", id.Topic, id.Partition) }

// Config is the part of a topic's configuration a partition applies itself.
type Config struct {
	// FlushOnAck makes acknowledgements wait for fdatasync
	// (log.flush.on.ack). Without it, writes count as durable once
	// written, and FlushMessages bounds how many records may stay unsynced.
	FlushOnAck bool
	// FlushMessages requests a flush after this many unflushed records
	// when FlushOnAck is off (flush.messages). Zero or less means never.
	FlushMessages int64
	// LogAppendTime stamps the broker's time on every batch
	// (message.timestamp.type=LogAppendTime).
	LogAppendTime bool
	// MaxMessageBytes is the largest batch accepted (max.message.bytes).
	MaxMessageBytes int32
	// MinInsyncReplicas is the smallest ISR that accepts acks=all
	// (min.insync.replicas).
	MinInsyncReplicas int
}

// Syncer schedules a partition's log flush; it is the log directory's
// group-commit loop.
type Syncer interface {
	Request(f log.Flusher)
}

// Partition is one replica of a partition.
type Partition struct {
	id      ID
	topicID [16]byte
	log     *log.Log
	syncer  Syncer
	logger  *slog.Logger

	durable *watermark.Watermark // log end offset on disk
	hw      *watermark.Watermark // high watermark
	leo     *watermark.Watermark // log end offset; follower fetches wait on it

	// appendMu serializes appends and truncations, and guards the fields
	// only appenders touch.
	appendMu  sync.Mutex
	producers *producers.State
	unflushed int64 // records appended since the last flush request

	// truncMu and truncGen keep a flush that raced with a follower's
	// truncation from publishing a durable offset past the new log end:
	// truncation bumps truncGen under truncMu, and a flush publishes
	// only if truncGen did not move while it synced.
	truncMu  sync.Mutex
	truncGen atomic.Int64

	mu          sync.RWMutex
	cfg         Config // guarded by mu
	leader      bool   // guarded by mu
	leaderEpoch int32  // guarded by mu; the epoch led or followed
	// leaderID is the broker this replica follows (-1: none known), or
	// self while leading. Guarded by mu.
	leaderID int32
	// The leader's state, guarded by mu; see leader.go.
	term chan struct{} // closed when the leadership term ends
	// commits is closed when the term ends or the ISR falls below
	// min.insync.replicas, and replaced when the ISR is large enough
	// again: acks=all writes waiting for the high watermark, which cannot
	// advance meanwhile, fail at once rather than time out.
	commits        chan struct{}
	self           int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	elr            []int32
	dirs           map[int32]string // the recorded directory of each member's copy
	selfDir        string           // this copy's directory
	epochStart     int64            // where the current leader epoch began
	followers      map[int32]*follower
	changing       bool    // an ISR change is being written
	pendingAdd     []int32 // followers joining in that change
	notify         chan<- struct{}

	closeOnce sync.Once
	closed    chan struct{}
}

// Open opens (or creates) the replica's log in dir, recovering it if needed,
// and rebuilds the producer state from it. The replica starts as a follower
// with no leader epoch; Lead or BecomeFollower gives it a role.
func Open(dir string, id ID, topicID [16]byte, logCfg log.Config, cfg Config, syncer Syncer, logger *slog.Logger) (*Partition, error) {
	l, err := log.Open(dir, logCfg)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", id, err)
	}
	p := &Partition{
		id:        id,
		topicID:   topicID,
		log:       l,
		syncer:    syncer,
		logger:    logger.With("partition", id.String()),
		producers: producers.NewState(),
		cfg:       cfg,
		leaderID:  -1,
		self:      -1,
		closed:    make(chan struct{}),
	}
	err = l.Batches(l.StartOffset(), func(h record.Header) error {
		p.producers.Update(producerBatch(h))
		return nil
	})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("partition %s: rebuilding producer state: %w", id, err)
	}
	// What survived recovery may still sit in the page cache only; make it
	// durable before counting it.
	durable, err := l.Flush()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("partition %s: %w", id, err)
	}
	p.durable = watermark.New(durable)
	p.leo = watermark.New(durable)
	// The high watermark is not persisted: start at the log start, the
	// only offset known to be committed. A sole replica's advances to
	// its durable offset when it leads; a follower learns it from its
	// leader, and a new leader from its followers' fetches.
	p.hw = watermark.New(l.StartOffset())
	return p, nil
}

func producerBatch(h record.Header) producers.Batch {
	return producers.Batch{
		ProducerID:    h.ProducerID,
		ProducerEpoch: h.ProducerEpoch,
		FirstSequence: h.BaseSequence,
		NumRecords:    h.NumRecords,
		BaseOffset:    h.BaseOffset,
	}
}

// ID returns the partition's name.
func (p *Partition) ID() ID { return p.id }

// TopicID returns the id of the partition's topic.
func (p *Partition) TopicID() [16]byte { return p.topicID }

// SetConfig applies a changed topic configuration.
func (p *Partition) SetConfig(cfg Config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg = cfg
	if p.leader {
		// min.insync.replicas may have changed what the ISR allows.
		p.updateCommits()
		p.advanceHWLocked()
	}
}

// Config returns the partition's configuration.
func (p *Partition) Config() Config {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cfg
}

// Leader reports whether the replica leads, and at which epoch.
func (p *Partition) Leader() (epoch int32, leader bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leaderEpoch, p.leader
}

// checkEpoch validates a client's view of the leader epoch (-1 = unknown to
// the client, which skips the check). Callers hold p.mu.
func (p *Partition) checkEpoch(current int32) error {
	switch {
	case current < 0 || current == p.leaderEpoch:
		return nil
	case current < p.leaderEpoch:
		return ErrFencedLeaderEpoch
	default:
		return ErrUnknownLeaderEpoch
	}
}

// AppendResult says where an appended batch went.
type AppendResult struct {
	BaseOffset int64
	// NextOffset is the offset after the batch: the high watermark must
	// reach it before the batch is acknowledged.
	NextOffset int64
	// LogAppendTime is the broker's timestamp when the topic uses
	// LogAppendTime, else -1.
	LogAppendTime int64
	// LogStartOffset is the log start offset after the append.
	LogStartOffset int64
	// Duplicate is true when the batch was a retry of one already in the
	// log, whose offsets are returned instead.
	Duplicate bool

	term    <-chan struct{} // the leadership term that appended the batch
	commits <-chan struct{} // the leader's commits channel at the append
}

// Append appends a validated batch as leader: it checks the producer's
// sequence, stamps the leader epoch, writes the batch and schedules its
// flush. The batch is acknowledged once WaitHighWatermark(NextOffset)
// returns.
func (p *Partition) Append(batch []byte, h record.Header, now int64) (AppendResult, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.RLock()
	leader, epoch, cfg, term, commits := p.leader, p.leaderEpoch, p.cfg, p.term, p.commits
	p.mu.RUnlock()
	select {
	case <-p.closed:
		return AppendResult{}, ErrClosed
	default:
	}
	if !leader {
		return AppendResult{}, ErrNotLeader
	}
	pb := producerBatch(h)
	orig, dup, err := p.producers.Check(pb)
	if err != nil {
		return AppendResult{}, err
	}
	if dup {
		return AppendResult{
			BaseOffset:     orig.BaseOffset,
			NextOffset:     orig.LastOffset() + 1,
			LogAppendTime:  -1,
			LogStartOffset: p.log.StartOffset(),
			Duplicate:      true,
			term:           term,
			commits:        commits,
		}, nil
	}
	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = now
		record.SetLogAppendTime(batch, now)
	}
	record.SetPartitionLeaderEpoch(batch, epoch)
	base, err := p.log.Append(batch)
	if err != nil {
		return AppendResult{}, fmt.Errorf("partition %s: %w", p.id, err)
	}
	pb.BaseOffset = base
	p.producers.Update(pb)
	next := base + int64(h.LastOffsetDelta) + 1
	p.leo.Advance(next)

	if cfg.FlushOnAck {
		p.syncer.Request(p)
	} else {
		p.durable.Advance(next)
		p.advanceHW()
		p.unflushed += int64(h.NumRecords)
		if cfg.FlushMessages > 0 && p.unflushed >= cfg.FlushMessages {
			p.unflushed = 0
			p.syncer.Request(p)
		}
	}
	return AppendResult{
		BaseOffset:     base,
		NextOffset:     next,
		LogAppendTime:  appendTime,
		LogStartOffset: p.log.StartOffset(),
		term:           term,
		commits:        commits,
	}, nil
}

// FlushDurable flushes the log and publishes what became durable. The log
// directory's syncer calls it in a group-commit round.
func (p *Partition) FlushDurable() {
	gen := p.truncGen.Load()
	durable, err := p.log.Flush()
	if err != nil {
		// The data is not known to be on disk, so nothing is
		// acknowledged; waiting producers time out and retry.
		p.logger.Error("flush failed", "err", err)
		return
	}
	p.truncMu.Lock()
	if p.truncGen.Load() != gen {
		// What was synced may have been truncated: sync again.
		p.truncMu.Unlock()
		p.syncer.Request(p)
		return
	}
	p.durable.Advance(durable)
	p.truncMu.Unlock()
	p.advanceHW()
}

// RequestFlush asks the syncer for a flush (the log.flush.interval.ms timer
// without log.flush.on.ack).
func (p *Partition) RequestFlush() { p.syncer.Request(p) }

// WaitHighWatermark blocks until the high watermark reaches offset, ctx ends
// or the partition closes, and reports whether it was reached.
func (p *Partition) WaitHighWatermark(ctx context.Context, offset int64) bool {
	return p.hw.Wait(ctx, offset, p.closed)
}

// WaitDurable blocks until the local log is durable up to offset (acks=1),
// ctx ends or the partition closes, and reports whether it was reached.
func (p *Partition) WaitDurable(ctx context.Context, offset int64) bool {
	return p.durable.Wait(ctx, offset, p.closed)
}

// HighWatermark returns the high watermark.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset returns the first offset in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// LogEndOffset returns the offset the next batch will get.
func (p *Partition) LogEndOffset() int64 { return p.log.EndOffset() }

// SubscribeHighWatermark pokes ch (without blocking) whenever the high
// watermark advances, until the returned function is called.
func (p *Partition) SubscribeHighWatermark(ch chan<- struct{}) func() {
	return p.hw.Subscribe(ch)
}

// ReadResult is what a fetch gets from one partition.
type ReadResult struct {
	Records        []byte
	HighWatermark  int64
	LogStartOffset int64
}

// Read returns whole batches from offset on, below the high watermark, up to
// maxBytes (but at least one batch when one is there). currentEpoch is the
// client's leader epoch, or -1.
func (p *Partition) Read(offset int64, maxBytes int, currentEpoch int32) (ReadResult, error) {
	p.mu.RLock()
	leader := p.leader
	err := p.checkEpoch(currentEpoch)
	p.mu.RUnlock()
	if !leader {
		return ReadResult{}, ErrNotLeader
	}
	if err != nil {
		return ReadResult{}, err
	}
	hw := p.hw.Load()
	res := ReadResult{HighWatermark: hw, LogStartOffset: p.log.StartOffset()}
	if offset == hw {
		return res, nil
	}
	if offset > hw && offset <= p.log.EndOffset() {
		return res, nil // known to the log but not yet visible
	}
	records, err := p.log.Read(offset, maxBytes, hw)
	if err != nil {
		return res, err
	}
	res.Records = records
	return res, nil
}

// OffsetForTimestamp returns the first visible offset whose record has a
// timestamp at or after ts, for ListOffsets.
func (p *Partition) OffsetForTimestamp(ts int64, currentEpoch int32) (offset, timestamp int64, found bool, err error) {
	if err := p.checkLeader(currentEpoch); err != nil {
		return 0, 0, false, err
	}
	offset, timestamp, found, err = p.log.OffsetForTimestamp(ts)
	if err != nil || !found || offset >= p.hw.Load() {
		return -1, -1, false, err
	}
	return offset, timestamp, true, nil
}

// MaxTimestamp returns the largest timestamp in the log and its offset.
func (p *Partition) MaxTimestamp(currentEpoch int32) (timestamp, offset int64, err error) {
	if err := p.checkLeader(currentEpoch); err != nil {
		return 0, 0, err
	}
	timestamp, offset = p.log.MaxTimestamp()
	return timestamp, offset, nil
}

// checkLeader is the common check of requests only a leader serves.
func (p *Partition) checkLeader(currentEpoch int32) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.leader {
		return ErrNotLeader
	}
	return p.checkEpoch(currentEpoch)
}

// EndOffsetForEpoch answers OffsetsForLeaderEpoch: the largest epoch at or
// below epoch and the offset where it ended (the log end for the latest).
func (p *Partition) EndOffsetForEpoch(epoch, currentEpoch int32) (int32, int64, error) {
	if err := p.checkLeader(currentEpoch); err != nil {
		return -1, -1, err
	}
	e, off := p.log.Epochs().EndOffsetFor(epoch)
	return e, off, nil
}

// Close closes the log cleanly. Waiters are released.
func (p *Partition) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	p.mu.Lock()
	p.endTerm()
	p.mu.Unlock()
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.log.Close()
}

// Delete closes the partition and removes its files.
func (p *Partition) Delete() error {
	p.closeOnce.Do(func() { close(p.closed) })
	p.mu.Lock()
	p.endTerm()
	p.mu.Unlock()
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.log.Delete()
}

// DeleteSegmentsBefore gives back the space of the segments below offset
// (clamped to the high watermark, so nothing unacknowledged goes) and
// returns the new log start offset.
func (p *Partition) DeleteSegmentsBefore(offset int64) (int64, error) {
	start, err := p.log.DeleteSegmentsBefore(min(offset, p.hw.Load()))
	if err != nil {
		return start, fmt.Errorf("partition %s: %w", p.id, err)
	}
	return start, nil
}

// LogSize returns the bytes of batches in the log.
func (p *Partition) LogSize() int64 { return p.log.Size() }
