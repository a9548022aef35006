package log

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spotstream/spotstream/internal/record"
)

// maxRelativeOffset bounds offsets within a segment, relative to its base,
// as Kafka does: relative offsets are stored in 32 bits and Kafka treats
// them as signed.
const maxRelativeOffset = math.MaxInt32

// segment is one .log file with its two indexes.
//
// The active (last) segment's indexes are always in memory and grow with
// each append. A rolled segment's indexes are read from disk on first use
// (or rebuilt if unusable) and never change afterwards.
type segment struct {
	base int64
	dir  string
	f    *os.File

	loaded atomic.Bool // index, tindex and maxTS describe the whole segment
	loadMu sync.Mutex  // serializes loading

	mu       sync.RWMutex // guards the fields below
	size     int64        // bytes of whole batches; the file may be longer
	next     int64        // offset after the last batch
	index    offsetIndex
	tindex   timeIndex
	maxTS    int64  // largest batch MaxTimestamp, or noTimestamp
	maxTSRel uint32 // relative offset of the first batch that reached maxTS

	// Used only by whoever appends (or by Open and TruncateTo, which
	// exclude appends).
	bytesSinceIndex int64
	rollAt          time.Time // when the first batch was appended; zero while empty
	allocated       int64     // file length reserved by preallocation, or 0
}

// createSegment creates an empty segment file at base and makes its name
// durable.
func createSegment(dir string, base int64, cfg *Config) (*segment, error) {
	f, err := os.OpenFile(segmentPath(dir, base, logSuffix), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: create segment: %w", err)
	}
	s := &segment{base: base, dir: dir, f: f, next: base, maxTS: noTimestamp}
	s.loaded.Store(true)
	if cfg.Preallocate {
		if err := s.preallocate(cfg, 1); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("log: create segment: %w", err)
	}
	return s, nil
}

// openSegment opens an existing segment file, taking its length as its
// size until recovery or loading says otherwise.
func openSegment(dir string, base int64) (*segment, error) {
	f, err := os.OpenFile(segmentPath(dir, base, logSuffix), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("log: open segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("log: open segment: %w", err)
	}
	// next is set by the caller, from the following segment or from
	// recovery.
	return &segment{base: base, dir: dir, f: f, size: fi.Size(), next: base, maxTS: noTimestamp}, nil
}

func (s *segment) name() string { return segmentFileName(s.base, logSuffix) }

// rel returns offset relative to the segment base. Callers keep offsets
// within maxRelativeOffset of the base.
func (s *segment) rel(offset int64) uint32 { return uint32(offset - s.base) }

// preallocateChunk is how far ahead of the data a segment's file is
// reserved. Reserving the whole segment at once would make every idle
// partition hold log.segment.bytes (1 GiB by default) of disk.
const preallocateChunk = 32 << 20

// preallocate reserves space for the file up to at least need bytes (and
// then to the next chunk boundary, within SegmentBytes), or quietly does
// nothing where the file system cannot.
func (s *segment) preallocate(cfg *Config, need int64) error {
	if need <= s.allocated {
		return nil
	}
	target := min(cfg.SegmentBytes, (need/preallocateChunk+1)*preallocateChunk)
	if target < need || target <= s.size {
		return nil // a batch larger than the segment: let the write grow the file
	}
	switch err := preallocate(s.f, target); {
	case err == nil:
		s.allocated = target
	case errors.Is(err, errPreallocateUnsupported):
		cfg.Logger.Debug("log: preallocation unsupported", "segment", s.name())
	default:
		return fmt.Errorf("log: preallocate %s: %w", s.name(), err)
	}
	return nil
}

// indexBatch accounts for the batch with header h written at pos: it
// tracks the largest timestamp and adds index entries every interval
// bytes, by the same rule whether appending, recovering or rebuilding.
// The caller holds s.mu or owns s exclusively.
func (s *segment) indexBatch(h *record.Header, pos int64, interval int) {
	rel := s.rel(h.BaseOffset)
	if h.MaxTimestamp > s.maxTS {
		s.maxTS, s.maxTSRel = h.MaxTimestamp, rel
	}
	if s.bytesSinceIndex > int64(interval) {
		s.index.add(rel, uint32(pos))
		s.tindex.maybeAdd(s.maxTS, s.maxTSRel)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += int64(h.Size())
}

// resetIndexes empties the in-memory indexes before a rebuild. The caller
// holds s.mu or owns s exclusively.
func (s *segment) resetIndexes() {
	s.index, s.tindex = offsetIndex{}, timeIndex{}
	s.maxTS, s.maxTSRel = noTimestamp, 0
	s.bytesSinceIndex = 0
}

// ensureLoaded makes the segment's indexes available in memory, reading
// them from disk, or rebuilding them from the log if they are missing or
// fail validation. It may be called concurrently.
func (s *segment) ensureLoaded(cfg *Config) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.readIndexes()
	if err == nil {
		s.loaded.Store(true)
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		cfg.Logger.Warn("log: rebuilding unusable index", "segment", s.name(), "err", err)
	}
	if _, err := s.rebuild(cfg.IndexIntervalBytes); err != nil {
		return err
	}
	s.loaded.Store(true)
	// The rebuilt files are an optimization for the next start; a failure
	// to write them costs only another rebuild.
	if err := s.writeIndexes(); err != nil {
		cfg.Logger.Warn("log: write rebuilt index", "segment", s.name(), "err", err)
	}
	return nil
}

// readIndexes loads and checks the index files. The caller holds s.mu.
func (s *segment) readIndexes() error {
	b, err := os.ReadFile(segmentPath(s.dir, s.base, indexSuffix))
	if err != nil {
		return err
	}
	idx, err := parseOffsetIndex(b, s.size)
	if err != nil {
		return err
	}
	if b, err = os.ReadFile(segmentPath(s.dir, s.base, timeIndexSuffix)); err != nil {
		return err
	}
	tidx, err := parseTimeIndex(b)
	if err != nil {
		return err
	}
	// A cheap check that the index belongs to this version of the
	// segment: its last entry must point at the batch it names.
	if n := len(idx.entries); n > 0 {
		e := idx.entries[n-1]
		var hb [record.HeaderSize]byte
		if _, err := s.f.ReadAt(hb[:], int64(e.pos)); err != nil {
			return fmt.Errorf("log: read %s: %w", s.name(), err)
		}
		h, err := record.ReadHeader(hb[:])
		if err != nil || h.BaseOffset != s.base+int64(e.rel) {
			return fmt.Errorf("%w: %s: last index entry %d@%d does not match the log", ErrCorrupt, s.name(), e.rel, e.pos)
		}
	}
	s.index, s.tindex = idx, tidx
	s.maxTS, s.maxTSRel = noTimestamp, 0
	if n := len(tidx.entries); n > 0 {
		s.maxTS, s.maxTSRel = tidx.entries[n-1].ts, tidx.entries[n-1].rel
	}
	return nil
}

// rebuild recomputes the indexes from the batch headers, trusting the data
// (no checksums), and returns the offset after the last batch. The caller
// holds s.mu or owns s exclusively.
func (s *segment) rebuild(interval int) (next int64, err error) {
	s.resetIndexes()
	var sc headerScanner
	sc.reset(s.f, 0, s.size)
	next = s.base
	for {
		h, pos, err := sc.next()
		if err == io.EOF {
			s.next = next
			return next, nil
		}
		if err != nil {
			return 0, err
		}
		if h.BaseOffset != next || h.LastOffset()-s.base > maxRelativeOffset {
			return 0, fmt.Errorf("%w: %s: batch at position %d has offsets %d-%d, expected to start at %d",
				ErrCorrupt, s.name(), pos, h.BaseOffset, h.LastOffset(), next)
		}
		s.indexBatch(&h, pos, interval)
		next = h.NextOffset()
	}
}

// scanTail walks the batches after the last index entry to restore what
// the indexes do not record: the offset after the last batch (next), the
// bytes since the last entry, and any larger timestamp. The caller owns s
// exclusively and has loaded the indexes.
func (s *segment) scanTail() (next int64, err error) {
	start := int64(s.index.lastPosition())
	var sc headerScanner
	sc.reset(s.f, start, s.size)
	next = s.base
	if len(s.index.entries) > 0 {
		next = s.base + int64(s.index.entries[len(s.index.entries)-1].rel)
	}
	s.bytesSinceIndex = 0
	for {
		h, pos, err := sc.next()
		if err == io.EOF {
			s.next = next
			return next, nil
		}
		if err != nil {
			return 0, err
		}
		if h.BaseOffset != next || h.LastOffset()-s.base > maxRelativeOffset {
			return 0, fmt.Errorf("%w: %s: batch at position %d has offsets %d-%d, expected to start at %d",
				ErrCorrupt, s.name(), pos, h.BaseOffset, h.LastOffset(), next)
		}
		if h.MaxTimestamp > s.maxTS {
			s.maxTS, s.maxTSRel = h.MaxTimestamp, s.rel(h.BaseOffset)
		}
		s.bytesSinceIndex += int64(h.Size())
		next = h.NextOffset()
	}
}

// initRollAt sets the time-based roll clock of a segment found on disk.
// Its first append happened in an earlier process, so the first batch's
// timestamp stands in for it, as in Kafka, but never later than now, so
// that a producer's clock cannot postpone rolling.
func (s *segment) initRollAt(now time.Time) error {
	if s.size == 0 {
		s.rollAt = time.Time{}
		return nil
	}
	var hb [record.HeaderSize]byte
	if _, err := s.f.ReadAt(hb[:], 0); err != nil {
		return fmt.Errorf("log: read %s: %w", s.name(), err)
	}
	s.rollAt = now
	if h, err := record.ReadHeader(hb[:]); err == nil && h.MaxTimestamp >= 0 {
		if t := time.UnixMilli(h.MaxTimestamp); t.Before(now) {
			s.rollAt = t
		}
	}
	return nil
}

// locate returns the header and position of the batch that holds offset,
// or io.EOF if the segment ends before it. The caller holds Log.mu (shared
// is enough) and has loaded the indexes.
func (s *segment) locate(offset int64) (record.Header, int64, error) {
	s.mu.RLock()
	pos, size := int64(s.index.lookup(s.rel(offset))), s.size
	s.mu.RUnlock()
	var sc headerScanner
	sc.reset(s.f, pos, size)
	for {
		h, pos, err := sc.next()
		if err != nil {
			return record.Header{}, 0, err
		}
		if h.LastOffset() >= offset {
			return h, pos, nil
		}
	}
}

// writeIndexes writes both index files from memory, synced but without
// syncing the directory. The caller holds s.mu (shared is enough).
func (s *segment) writeIndexes() error {
	if err := writeFileAtomic(s.dir, segmentFileName(s.base, indexSuffix), s.index.marshal(), false); err != nil {
		return fmt.Errorf("log: write index: %w", err)
	}
	if err := writeFileAtomic(s.dir, segmentFileName(s.base, timeIndexSuffix), s.tindex.marshal(), false); err != nil {
		return fmt.Errorf("log: write time index: %w", err)
	}
	return nil
}

// seal prepares the segment to stop being the active one: it records the
// final time index entry, writes both indexes, gives back preallocated
// space, and syncs the data, so that recovery never needs to look at this
// segment again. The caller owns appends.
func (s *segment) seal() error {
	s.mu.Lock()
	s.tindex.maybeAdd(s.maxTS, s.maxTSRel)
	err := s.writeIndexes()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.allocated > s.size {
		if err := s.f.Truncate(s.size); err != nil {
			return fmt.Errorf("log: trim %s: %w", s.name(), err)
		}
		s.allocated = 0
	}
	if err := fdatasync(s.f); err != nil {
		return fmt.Errorf("log: sync %s: %w", s.name(), err)
	}
	return nil
}

// truncate drops the batches from the one at pos, whose base offset is
// newNext, to the end, on disk and in the indexes, and syncs. The caller
// holds Log.mu exclusively and has loaded the indexes.
func (s *segment) truncate(pos, newNext int64, cfg *Config) error {
	if err := s.f.Truncate(pos); err != nil {
		return fmt.Errorf("log: truncate %s: %w", s.name(), err)
	}
	s.allocated = 0
	s.mu.Lock()
	s.size = pos
	s.index.truncate(uint32(pos))
	s.tindex.truncate(s.rel(newNext))
	s.maxTS, s.maxTSRel = noTimestamp, 0
	if n := len(s.tindex.entries); n > 0 {
		s.maxTS, s.maxTSRel = s.tindex.entries[n-1].ts, s.tindex.entries[n-1].rel
	}
	_, err := s.scanTail()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.initRollAt(cfg.Now()); err != nil {
		return err
	}
	if cfg.Preallocate {
		if err := s.preallocate(cfg, s.size+1); err != nil {
			return err
		}
	}
	if err := fdatasync(s.f); err != nil {
		return fmt.Errorf("log: sync %s: %w", s.name(), err)
	}
	return nil
}

// close closes the segment file.
func (s *segment) close() error {
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("log: close %s: %w", s.name(), err)
	}
	return nil
}

// remove closes the segment and deletes its files.
func (s *segment) remove() error {
	err := s.f.Close()
	for _, suffix := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		if rerr := removeIfExists(segmentPath(s.dir, s.base, suffix)); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("log: remove %s: %w", s.name(), err)
	}
	return nil
}
