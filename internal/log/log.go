package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/spotstream/spotstream/internal/record"
)

var (
	// ErrCorrupt marks errors caused by log or index bytes that no correct
	// writer produced; check it with errors.Is.
	ErrCorrupt = errors.New("log: corrupt data")

	// ErrOffsetOutOfRange is returned for offsets outside
	// [StartOffset, EndOffset].
	ErrOffsetOutOfRange = errors.New("log: offset out of range")

	// ErrNonContiguous is returned by AppendReplicated when the batches do
	// not continue the log exactly at its end offset.
	ErrNonContiguous = errors.New("log: batches do not continue the log")

	// ErrClosed is returned by the methods that use the files after Close
	// or Delete.
	ErrClosed = errors.New("log: closed")
)

// Log is one partition's log: a directory of segments.
//
// Append, AppendReplicated, TruncateTo and Close must be serialized by the
// caller; every other method is safe for concurrent use, including with
// those. See the package documentation for the locking scheme.
type Log struct {
	dir    string
	cfg    Config
	epochs *EpochCache

	// mu guards segs, and is held shared by everyone using a segment file
	// so that files are truncated, closed or removed only under the
	// exclusive lock.
	mu   sync.RWMutex
	segs []*segment // in offset order; the last is the active segment

	start   atomic.Int64 // base offset of the first segment
	end     atomic.Int64 // offset after the last appended batch
	size    atomic.Int64 // bytes of batches in all segments
	flushed atomic.Int64 // end offset known to be durable

	// flushMu serializes Flush calls: one that waited for another often
	// finds nothing left to sync.
	flushMu sync.Mutex

	closed  atomic.Bool
	failure atomic.Pointer[error] // first write or sync error; the log refuses writes after it
}

// StartOffset returns the offset of the first batch in the log.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset returns the offset the next appended batch will get (Kafka's
// log end offset).
func (l *Log) EndOffset() int64 { return l.end.Load() }

// Size returns the bytes of batches in the log, excluding indexes and
// preallocated space.
func (l *Log) Size() int64 { return l.size.Load() }

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// Epochs returns the log's leader epoch history.
func (l *Log) Epochs() *EpochCache { return l.epochs }

// active returns the last segment. The caller holds l.mu or owns appends.
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// segmentFor returns the index of the segment that holds offset, which is
// at least the start offset. The caller holds l.mu or owns appends.
func (l *Log) segmentFor(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return max(i-1, 0)
}

// usable reports why the log cannot be used, if it cannot.
func (l *Log) usable() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if p := l.failure.Load(); p != nil {
		return fmt.Errorf("log: unusable after an earlier failure: %w", *p)
	}
	return nil
}

// fail records err as the reason the log refuses further writes. After a
// failed write or sync the state of the file and page cache is unknown,
// so retrying could acknowledge data that is not on disk.
func (l *Log) fail(err error) error {
	l.failure.CompareAndSwap(nil, &err)
	return err
}

// advanceFlushed raises the durable offset to off.
func (l *Log) advanceFlushed(off int64) {
	for {
		cur := l.flushed.Load()
		if off <= cur || l.flushed.CompareAndSwap(cur, off) {
			return
		}
	}
}

// Append appends one batch, stamping its base offset with the end offset,
// which it returns. The batch must have passed record.Validate; Append
// only checks that its header describes exactly the bytes given. The
// caller stamps the partition leader epoch and keeps the epoch cache up to
// date. The data is not durable until Flush.
func (l *Log) Append(batch []byte) (baseOffset int64, err error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	h, err := record.ReadHeader(batch)
	if err != nil {
		return 0, fmt.Errorf("log: append: %w", err)
	}
	if h.Size() != len(batch) {
		return 0, fmt.Errorf("log: append: header says %d bytes, batch has %d: %w", h.Size(), len(batch), record.ErrCorrupt)
	}
	base := l.end.Load()
	record.SetBaseOffset(batch, base)
	if err := l.appendBatches(batch); err != nil {
		return 0, err
	}
	return base, nil
}

// AppendReplicated appends one or more whole batches whose offsets the
// leader has already assigned, as fetched by a follower. Each batch is
// validated, and the first must start at the end offset and each next one
// where the previous ended, or the call fails with ErrNonContiguous and
// appends nothing.
func (l *Log) AppendReplicated(batches []byte) error {
	if err := l.usable(); err != nil {
		return err
	}
	next := l.end.Load()
	for b, pos := batches, 0; len(b) > 0; {
		h, err := record.ReadHeader(b)
		if err == nil && h.Size() > len(b) {
			err = fmt.Errorf("%w: batch of %d bytes with %d left", record.ErrCorrupt, h.Size(), len(b))
		}
		if err == nil {
			_, err = record.Validate(b[:h.Size()])
		}
		if err != nil {
			return fmt.Errorf("log: replicated batch at byte %d: %w", pos, err)
		}
		if h.BaseOffset != next {
			return fmt.Errorf("%w: batch at byte %d starts at offset %d, expected %d", ErrNonContiguous, pos, h.BaseOffset, next)
		}
		next = h.NextOffset()
		b, pos = b[h.Size():], pos+h.Size()
	}
	return l.appendBatches(batches)
}

// appendBatches writes consecutive, checked batches whose offsets are
// set, one write per run that fits in a segment.
func (l *Log) appendBatches(data []byte) error {
	for len(data) > 0 {
		h, err := record.ReadHeader(data)
		if err != nil {
			return fmt.Errorf("log: append: %w", err)
		}
		s := l.active()
		if l.shouldRoll(s, &h) {
			if err := l.roll(h.BaseOffset); err != nil {
				return err
			}
			s = l.active()
		}
		n, next := h.Size(), h.NextOffset()
		for n < len(data) {
			h, err := record.ReadHeader(data[n:])
			if err != nil {
				return fmt.Errorf("log: append: %w", err)
			}
			if s.size+int64(n+h.Size()) > l.cfg.SegmentBytes || h.LastOffset()-s.base > maxRelativeOffset {
				break
			}
			n, next = n+h.Size(), h.NextOffset()
		}
		if err := l.write(s, data[:n], next); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// shouldRoll reports whether the batch with header h must go to a new
// segment rather than s.
func (l *Log) shouldRoll(s *segment, h *record.Header) bool {
	switch {
	case s.size == 0:
		return false // every batch fits in an empty segment
	case s.size+int64(h.Size()) > l.cfg.SegmentBytes:
		return true
	case h.LastOffset()-s.base > maxRelativeOffset:
		return true
	case l.cfg.SegmentAge > 0 && l.cfg.Now().Sub(s.rollAt) >= l.cfg.SegmentAge:
		return true
	}
	return false
}

// roll seals the active segment and starts a new one at base.
func (l *Log) roll(base int64) error {
	old := l.active()
	if err := old.seal(); err != nil {
		return l.fail(err)
	}
	// Everything in the old segment is durable now.
	l.advanceFlushed(base)
	s, err := createSegment(l.dir, base, &l.cfg)
	if err != nil {
		return l.fail(err)
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	return nil
}

// write writes run, consecutive batches ending before offset next, at the
// end of s in one system call, then indexes it and publishes the new end.
func (l *Log) write(s *segment, run []byte, next int64) error {
	if s.size == 0 {
		s.rollAt = l.cfg.Now()
	}
	pos := s.size
	if l.cfg.Preallocate {
		if err := s.preallocate(&l.cfg, pos+int64(len(run))); err != nil {
			return l.fail(err)
		}
	}
	if _, err := s.f.WriteAt(run, pos); err != nil {
		return l.fail(fmt.Errorf("log: write %s: %w", s.name(), err))
	}
	s.mu.Lock()
	for b := run; len(b) > 0; {
		h, _ := record.ReadHeader(b) // checked by the caller
		s.indexBatch(&h, pos, l.cfg.IndexIntervalBytes)
		pos += int64(h.Size())
		b = b[h.Size():]
	}
	s.size, s.next = pos, next
	s.mu.Unlock()
	l.size.Add(int64(len(run)))
	l.end.Store(next)
	return nil
}

// Flush makes every batch appended so far durable and returns the end
// offset that is now durable: the end offset observed before syncing, so
// batches appended during the sync may be durable too but are not
// reported. It costs nothing when nothing was appended since the last
// flush. After a failed sync the log refuses further writes and flushes.
func (l *Log) Flush() (durable int64, err error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	if end := l.end.Load(); end == l.flushed.Load() {
		return end, nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return 0, ErrClosed
	}
	// Under l.mu the end offset can only grow (TruncateTo takes l.mu
	// exclusively), and every batch below it is in the active segment or
	// in a segment that was synced when it was rolled.
	end := l.end.Load()
	if end == l.flushed.Load() {
		return end, nil
	}
	s := l.active()
	if err := fdatasync(s.f); err != nil {
		return 0, l.fail(fmt.Errorf("log: sync %s: %w", s.name(), err))
	}
	l.advanceFlushed(end)
	return end, nil
}

// Close makes the log durable, writes the indexes, trims preallocated
// space, records a clean shutdown so that the next Open skips recovery,
// and closes the files. It must not be called concurrently with appends;
// concurrent readers get ErrClosed.
func (l *Log) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if l.failure.Load() == nil {
		if err := l.active().seal(); err != nil {
			errs = append(errs, err)
		} else if err := writeFileAtomic(l.dir, cleanShutdownName, nil, true); err != nil {
			errs = append(errs, fmt.Errorf("log: write clean shutdown marker: %w", err))
		}
	}
	for _, s := range l.segs {
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}
	l.segs = nil
	return errors.Join(errs...)
}

// Delete closes the log and removes its directory with everything in it,
// including files other packages keep there.
func (l *Log) Delete() error {
	l.closed.Store(true)
	l.mu.Lock()
	for _, s := range l.segs {
		s.f.Close() // the files are about to go; nothing to report
	}
	l.segs = nil
	l.mu.Unlock()
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log: delete: %w", err)
	}
	if err := syncDir(filepath.Dir(l.dir)); err != nil {
		return fmt.Errorf("log: delete: %w", err)
	}
	return nil
}
