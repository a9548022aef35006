package log

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Flusher is something a Syncer makes durable: typically a partition whose
// FlushDurable calls Log.Flush and then releases the requests that were
// waiting for the offset it returns.
type Flusher interface {
	// FlushDurable makes what was appended before the call durable and
	// publishes the result itself; it reports no error because the
	// requesters are waiting on the Flusher, not on the Syncer. A Syncer
	// never calls it concurrently with itself for the same Flusher.
	FlushDurable()
}

// syncWorkers bounds how many Flushers one round runs at once. A few in
// parallel let the file system merge their journal commits; many would
// only queue in the device.
const syncWorkers = 4

// Syncer group-commits Flushers: one per log directory, so that a single
// round of syncs covers every partition and batch appended since the last
// round. A request marks a Flusher dirty and wakes the loop; a round takes
// the whole dirty set and flushes each member once; requests that arrive
// during a round go to the next one. Under load, rounds run back to back
// and each covers everything that accumulated during the previous one, so
// the fsync rate stays bounded however many requests arrive.
type Syncer struct {
	logger *slog.Logger
	wake   chan struct{} // capacity 1: a pending wake-up

	mu      sync.Mutex
	dirty   []Flusher
	pending map[Flusher]struct{} // members of dirty, for deduplication

	rounds atomic.Int64
}

// NewSyncer returns a Syncer. Nothing is flushed until Run is called.
func NewSyncer(logger *slog.Logger) *Syncer {
	if logger == nil {
		logger = slog.Default()
	}
	return &Syncer{
		logger:  logger,
		wake:    make(chan struct{}, 1),
		pending: make(map[Flusher]struct{}),
	}
}

// Request asks for f to be flushed in the next round. It never blocks.
// Requesting a Flusher that is already waiting for a round has no further
// effect.
func (s *Syncer) Request(f Flusher) {
	s.mu.Lock()
	if _, ok := s.pending[f]; !ok {
		s.pending[f] = struct{}{}
		s.dirty = append(s.dirty, f)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Rounds returns how many rounds have run, for metrics.
func (s *Syncer) Rounds() int64 { return s.rounds.Load() }

// Run flushes requested Flushers in rounds until ctx is done. It returns
// after the round in progress, if any, completes; requests still pending
// then are not flushed (closing a Log flushes it anyway). The caller runs
// it once, in its own goroutine.
func (s *Syncer) Run(ctx context.Context) {
	var batch []Flusher
	for {
		select {
		case <-ctx.Done():
			s.logger.Debug("log: syncer stopped", "rounds", s.rounds.Load())
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch, s.dirty = s.dirty, batch[:0]
		clear(s.pending)
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		s.round(batch)
		clear(batch) // drop references until the next round
	}
}

// round flushes every member of batch, in parallel when there are several.
func (s *Syncer) round(batch []Flusher) {
	s.rounds.Add(1)
	if len(batch) == 1 {
		batch[0].FlushDurable()
		return
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(syncWorkers, len(batch)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				batch[i].FlushDurable()
			}
		})
	}
	wg.Wait()
}
