package groupcoord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/record"
)

// Topic is the internal topic that holds groups and committed offsets.
const Topic = "__consumer_offsets"

var (
	// ErrNotCoordinator means this broker does not lead the group's
	// partition of Topic (NOT_COORDINATOR).
	ErrNotCoordinator = group.ErrNotCoordinator
	// ErrLoading means this broker leads the group's partition but is
	// still loading it (COORDINATOR_LOAD_IN_PROGRESS).
	ErrLoading = errors.New("groupcoord: coordinator loading")
)

// Config configures a Coordinator.
type Config struct {
	// PartitionCount returns the partition count of Topic: the existing
	// topic's, else offsets.topic.num.partitions.
	PartitionCount func() int32
	// Group configures every shard.
	Group group.Config
	// RetentionCheckInterval is how often offsets are expired
	// (offsets.retention.check.interval.ms).
	RetentionCheckInterval time.Duration
	// CompactBytes is how far a partition's log may grow past the size of
	// its last rewrite before the shard rewrites its state again; Topic's
	// segment size is the natural choice.
	CompactBytes int64
	Logger       *slog.Logger
}

// Coordinator holds the shards of the partitions of Topic this broker
// leads.
type Coordinator struct {
	cfg Config
	log *slog.Logger

	// ctx bounds the loading goroutines; Run's maintenance loop runs in
	// the caller's goroutine.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // loading goroutines

	mu     sync.Mutex
	shards map[int32]*hostedShard // guarded by mu
}

// hostedShard is one partition's shard and its state.
type hostedShard struct {
	p      *partition.Partition
	loaded chan struct{} // closed once shard is usable (or failed)
	shard  *group.Shard  // set before loaded is closed; nil if loading failed
	cancel context.CancelFunc

	compactMu sync.Mutex // serializes compactions of this partition
	liveBytes int64      // log bytes after the last rewrite; guarded by compactMu
}

// New returns a Coordinator with no shards. Stop it with Close.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "groupcoord"),
		ctx:    ctx,
		cancel: cancel,
		shards: make(map[int32]*hostedShard),
	}
}

// Partition returns the partition of Topic that coordinates groupID.
func (c *Coordinator) Partition(groupID string) int32 {
	return group.Partition(groupID, c.cfg.PartitionCount())
}

// BecameLeader starts loading the shard of p, a partition of Topic that
// this broker now leads. It does not block.
func (c *Coordinator) BecameLeader(p *partition.Partition) {
	id := p.ID()
	if id.Topic != Topic {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	h := &hostedShard{p: p, loaded: make(chan struct{}), cancel: cancel}
	c.mu.Lock()
	old := c.shards[id.Partition]
	c.shards[id.Partition] = h
	c.mu.Unlock()
	if old != nil {
		old.close()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(h.loaded)
		start := time.Now()
		shard, n, err := c.load(ctx, p)
		if err != nil {
			c.log.Error("loading groups", "partition", id.String(), "err", err)
			return
		}
		h.shard = shard
		h.liveBytes = p.LogSize()
		c.log.Info("loaded groups", "partition", id.String(), "records", n, "took", time.Since(start).Round(time.Millisecond))
	}()
}

// StoppedLeading closes the shard of p, if p is a partition of Topic.
func (c *Coordinator) StoppedLeading(p *partition.Partition) {
	id := p.ID()
	if id.Topic != Topic {
		return
	}
	c.mu.Lock()
	h := c.shards[id.Partition]
	if h != nil && h.p == p {
		delete(c.shards, id.Partition)
	} else {
		h = nil
	}
	c.mu.Unlock()
	if h != nil {
		h.close()
	}
}

// close stops loading or closes the shard.
func (h *hostedShard) close() {
	h.cancel()
	<-h.loaded
	if h.shard != nil {
		h.shard.Close()
	}
}

// load replays p's log into a new shard and starts it.
func (c *Coordinator) load(ctx context.Context, p *partition.Partition) (*group.Shard, int, error) {
	shard := group.NewShard(p.ID().Partition, c.cfg.Group, &partitionLog{p: p})
	// A new leader's high watermark starts low and catches up with its log
	// end as the followers fetch. Everything in the leader's log will be
	// committed (a leader never truncates its own log), and the shard must
	// see all of it before it answers: wait for the high watermark to pass
	// the log end as it was at election, then load up to there.
	end := p.LogEndOffset()
	if !p.WaitHighWatermark(ctx, end) {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("waiting for the high watermark to reach %d: partition closed", end)
	}
	n := 0
	offset := p.LogStartOffset()
	for offset < end {
		if err := ctx.Err(); err != nil {
			return nil, n, err
		}
		res, err := p.Read(offset, 1<<20, -1)
		if err != nil {
			return nil, n, fmt.Errorf("read at %d: %w", offset, err)
		}
		if len(res.Records) == 0 {
			break
		}
		next, count, err := c.replay(shard, res.Records)
		if err != nil {
			return nil, n, err
		}
		n += count
		offset = next
	}
	shard.Start()
	return shard, n, nil
}

// replay loads the records of the batches in b into shard and returns the
// offset after the last batch.
func (c *Coordinator) replay(shard *group.Shard, b []byte) (next int64, n int, err error) {
	for len(b) > 0 {
		h, err := record.ReadHeader(b)
		if err != nil {
			return next, n, err
		}
		batch := b[:h.Size()]
		b = b[h.Size():]
		next = h.NextOffset()
		if h.Control() {
			continue
		}
		recs, err := record.Records(batch)
		if err != nil {
			return next, n, fmt.Errorf("batch at %d: %w", h.BaseOffset, err)
		}
		for _, r := range recs {
			if err := shard.Load(r.Key, r.Value, r.Offset); err != nil {
				// A record of a newer format: skip it rather than lose
				// every group of the partition.
				c.log.Warn("skipping group record", "offset", r.Offset, "err", err)
				continue
			}
			n++
		}
	}
	return next, n, nil
}

// Shard returns the shard that coordinates groupID, ErrLoading while it
// loads, or ErrNotCoordinator.
func (c *Coordinator) Shard(groupID string) (*group.Shard, error) {
	c.mu.Lock()
	h := c.shards[c.Partition(groupID)]
	c.mu.Unlock()
	if h == nil {
		return nil, ErrNotCoordinator
	}
	select {
	case <-h.loaded:
	default:
		return nil, ErrLoading
	}
	if h.shard == nil {
		return nil, ErrNotCoordinator
	}
	return h.shard, nil
}

// Shards returns the loaded shards, and whether any partition is still
// loading (ListGroups reports COORDINATOR_LOAD_IN_PROGRESS then).
func (c *Coordinator) Shards() (shards []*group.Shard, loading bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.shards {
		select {
		case <-h.loaded:
			if h.shard != nil {
				shards = append(shards, h.shard)
			}
		default:
			loading = true
		}
	}
	return shards, loading
}

// Run expires offsets and compacts logs until ctx ends. The caller owns the
// goroutine.
func (c *Coordinator) Run(ctx context.Context) {
	interval := c.cfg.RetentionCheckInterval
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	expire := time.NewTicker(interval)
	defer expire.Stop()
	compact := time.NewTicker(min(interval, 30*time.Second))
	defer compact.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-expire.C:
			for _, h := range c.loadedShards() {
				if err := h.shard.ExpireOffsets(ctx, now); err != nil && ctx.Err() == nil {
					c.log.Warn("expiring offsets", "partition", h.p.ID().String(), "err", err)
				}
			}
		case <-compact.C:
			for _, h := range c.loadedShards() {
				if err := c.compact(ctx, h); err != nil && ctx.Err() == nil {
					c.log.Warn("compacting group log", "partition", h.p.ID().String(), "err", err)
				}
			}
		}
	}
}

// loadedShards returns the hosted shards that finished loading.
func (c *Coordinator) loadedShards() []*hostedShard {
	c.mu.Lock()
	defer c.mu.Unlock()
	var hs []*hostedShard
	for _, h := range c.shards {
		select {
		case <-h.loaded:
			if h.shard != nil {
				hs = append(hs, h)
			}
		default:
		}
	}
	return hs
}

// compact rewrites h's live state at the end of its log and deletes the
// segments before it, once the log has grown CompactBytes past its size
// after the previous rewrite.
func (c *Coordinator) compact(ctx context.Context, h *hostedShard) error {
	h.compactMu.Lock()
	defer h.compactMu.Unlock()
	if h.p.LogSize() < h.liveBytes+c.cfg.CompactBytes {
		return nil
	}
	before := h.p.LogSize()
	safe, err := h.shard.Rewrite(ctx)
	if err != nil {
		return err
	}
	start, err := h.p.DeleteSegmentsBefore(safe)
	if err != nil {
		return err
	}
	h.liveBytes = h.p.LogSize()
	c.log.Info("compacted group log", "partition", h.p.ID().String(), "bytes.before", before, "bytes.after", h.liveBytes, "log.start.offset", start)
	return nil
}

// Close closes every shard and waits for loading to stop.
func (c *Coordinator) Close() {
	c.cancel()
	c.mu.Lock()
	shards := c.shards
	c.shards = make(map[int32]*hostedShard)
	c.mu.Unlock()
	for _, h := range shards {
		h.close()
	}
	c.wg.Wait()
}

// PartitionFor returns the partition of Topic, of n partitions, that
// coordinates groupID.
func PartitionFor(groupID string, n int32) int32 { return group.Partition(groupID, n) }
