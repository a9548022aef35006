package group

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"
	"unicode/utf16"
)

// Log is the shard's __consumer_offsets partition.
type Log interface {
	// Append appends recs as one batch and returns the offset of its first
	// record, and a function that waits until the batch is committed (durable
	// under acks=all rules) or ctx ends or the partition stops leading (error).
	// Append is called with the shard's lock held, so batches reach the log in
	// the order the shard decided them; it must not block for long.
	Append(recs []Record) (base int64, wait func(ctx context.Context) error, err error)
}

// Record is one __consumer_offsets record.
type Record struct{ Key, Value []byte } // Value nil: a tombstone

// TopicPartition names a partition whose offset a group commits.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Config is the coordinator's share of the broker configuration. Build it
// from [DefaultConfig]; New replaces the fields documented as such when they
// are zero.
type Config struct {
	// InitialRebalanceDelay delays the first rebalance of an empty group so
	// that several members can join it together
	// (group.initial.rebalance.delay.ms). Zero: no delay.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the session timeouts
	// members may ask for (group.min.session.timeout.ms,
	// group.max.session.timeout.ms). A zero maximum means Kafka's 30 min.
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// MaxSize is group.max.size; zero means unlimited.
	MaxSize int
	// OffsetsRetention is offsets.retention.minutes; zero means 7 days.
	OffsetsRetention time.Duration
	// MaxMetadataBytes is offset.metadata.max.bytes; zero means 4096.
	MaxMetadataBytes int
	// NewMemberJoinTimeout bounds how long a new member's JoinGroup may
	// wait before the member is dropped (Kafka's fixed 5 minutes, the
	// default when zero).
	NewMemberJoinTimeout time.Duration
	// Logger receives rebalance events; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for commit and state timestamps; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelay: 3 * time.Second,
		MinSessionTimeout:     6 * time.Second,
		MaxSessionTimeout:     30 * time.Minute,
		MaxSize:               math.MaxInt32,
		OffsetsRetention:      7 * 24 * time.Hour,
		MaxMetadataBytes:      4096,
		NewMemberJoinTimeout:  5 * time.Minute,
	}
}

// Shard holds the groups of one __consumer_offsets partition while this
// broker leads it. Its methods are safe for concurrent use.
type Shard struct {
	cfg    Config
	log    Log
	logger *slog.Logger

	// ctx ends at Close; it bounds the applier's waits on the Log.
	ctx    context.Context
	cancel context.CancelFunc
	// wake tells the applier that queue grew.
	wake chan struct{}
	// applierDone is closed when the applier goroutine returns.
	applierDone chan struct{}

	mu      sync.Mutex
	started bool              // guarded by mu
	closed  bool              // guarded by mu
	groups  map[string]*group // guarded by mu
	// queue holds the appended batches not yet applied, in log order; the
	// applier pops the head. Guarded by mu.
	queue []*write
}

// write is one appended batch awaiting commit.
type write struct {
	recs []Record
	base int64
	wait func(context.Context) error
	// apply runs under mu when the batch is committed (err nil) or failed,
	// unless the shard has closed; it returns what to report to notify.
	apply func(base int64, err error) error
	// notify, if not nil, receives the outcome (buffered, capacity 1).
	notify chan error
}

// NewShard returns the shard of __consumer_offsets partition partition,
// writing to log. Load it, then Start it.
func NewShard(partition int32, cfg Config, log Log) *Shard {
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = 30 * time.Minute
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = math.MaxInt32
	}
	if cfg.OffsetsRetention <= 0 {
		cfg.OffsetsRetention = 7 * 24 * time.Hour
	}
	if cfg.MaxMetadataBytes <= 0 {
		cfg.MaxMetadataBytes = 4096
	}
	if cfg.NewMemberJoinTimeout <= 0 {
		cfg.NewMemberJoinTimeout = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("partition", partition)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Shard{
		cfg:         cfg,
		log:         log,
		logger:      cfg.Logger,
		ctx:         ctx,
		cancel:      cancel,
		wake:        make(chan struct{}, 1),
		applierDone: make(chan struct{}),
		groups:      make(map[string]*group),
	}
}

// Start ends loading: it starts the session timers of the loaded members
// and the applier goroutine. Methods other than Load and Snapshot return
// ErrCoordinatorLoadInProgress before it.
func (s *Shard) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	for _, g := range s.groups {
		for _, m := range g.order {
			s.resetSession(g, m, m.sessionTimeout)
		}
	}
	go s.runApplier()
}

// Close fails every waiting Join and Sync with ErrNotCoordinator, stops all
// timers and the applier goroutine, and returns once the applier has
// returned. Every method returns ErrNotCoordinator afterwards. The Log's wait
// functions must return when their context ends, or Close blocks.
func (s *Shard) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cancel()
	for _, g := range s.groups {
		s.stopGroup(g, ErrNotCoordinator)
	}
	started := s.started
	s.mu.Unlock()
	if started {
		<-s.applierDone
	}
}

// usable reports whether the shard serves requests. Called with mu held.
func (s *Shard) usable() error {
	switch {
	case s.closed:
		return ErrNotCoordinator
	case !s.started:
		return ErrCoordinatorLoadInProgress
	}
	return nil
}

// appendBatch appends recs and queues apply to run once the batch is
// committed. Called with mu held.
func (s *Shard) appendBatch(recs []Record, apply func(base int64, err error) error, notify chan error) error {
	base, wait, err := s.log.Append(recs)
	if err != nil {
		return fmt.Errorf("group: appending %d records: %w", len(recs), err)
	}
	s.queue = append(s.queue, &write{recs: recs, base: base, wait: wait, apply: apply, notify: notify})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// runApplier is the applier goroutine: it waits for the head of the queue to
// be committed and applies it, in log order. Since the log commits in order,
// waiting in order costs nothing, and it makes memory follow the log.
func (s *Shard) runApplier() {
	defer close(s.applierDone)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.mu.Unlock()
			select {
			case <-s.wake:
			case <-s.ctx.Done():
			}
			s.mu.Lock()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return // closed and drained
		}
		w := s.queue[0]
		closed := s.closed
		s.mu.Unlock()

		var err error
		if !closed {
			if err = w.wait(s.ctx); err != nil {
				err = fmt.Errorf("group: waiting for the batch at offset %d: %w", w.base, err)
			}
		}

		s.mu.Lock()
		s.queue = s.queue[1:]
		res := ErrNotCoordinator
		if !s.closed {
			res = w.apply(w.base, err)
		}
		s.mu.Unlock()
		if w.notify != nil {
			w.notify <- res
		}
	}
}

// awaitWrite waits for the outcome of a queued write.
func awaitWrite(ctx context.Context, notify chan error) error {
	select {
	case err := <-notify:
		return err
	case <-ctx.Done():
		return fmt.Errorf("group: waiting for the log: %w", ctx.Err())
	}
}

// schedule makes *slot a timer that runs f under mu after d, replacing any
// timer already there. The callback does nothing if the shard has closed or
// *slot holds another timer by then. Called with mu held.
func (s *Shard) schedule(slot **time.Timer, d time.Duration, f func()) {
	stopTimer(slot)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || *slot != t {
			return
		}
		*slot = nil
		f()
	})
	*slot = t
}

// stopTimer stops the timer in *slot, if any, and clears the slot.
func stopTimer(slot **time.Timer) {
	if *slot != nil {
		(*slot).Stop()
		*slot = nil
	}
}

// stopGroup stops the group's timers and fails its waiting members with err.
// Called with mu held.
func (s *Shard) stopGroup(g *group, err error) {
	stopTimer(&g.joinTimer)
	stopTimer(&g.syncTimer)
	for _, p := range g.pending {
		stopTimer(&p.timer)
	}
	for _, m := range g.order {
		stopTimer(&m.session)
		m.finishJoin(JoinResult{}, err)
		m.finishSync(SyncResult{}, err)
	}
}

// sortedGroups returns the groups ordered by id, for deterministic output.
func (s *Shard) sortedGroups() []*group {
	gs := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	return gs
}

// Partition returns the __consumer_offsets partition of groupID, as Kafka
// computes it: Utils.abs(groupId.hashCode()) % numPartitions, where hashCode
// is Java's String.hashCode over UTF-16 code units and Utils.abs masks the
// sign bit.
func Partition(groupID string, numPartitions int32) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(groupID)) {
		h = 31*h + int32(c)
	}
	return (h & 0x7fffffff) % numPartitions
}

// newMemberID returns prefix + "-" + a random UUID, as Kafka names members.
func newMemberID(prefix string) string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
