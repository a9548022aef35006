package log

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spotstream/spotstream/internal/record"
)

// Open opens the log in dir, creating the directory and an empty log at
// offset 0 if needed.
//
// After a clean Close it trusts the segment files and indexes. Otherwise it
// recovers: it checks every batch of the last segment (checksum and offset
// continuity), truncates the file at the first batch that fails, and
// rebuilds that segment's indexes. Earlier segments were synced when they
// were rolled and are trusted; their indexes are rebuilt if missing. When
// Open returns, everything in the log is durable.
func Open(dir string, cfg Config) (*Log, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	bases, clean, err := scanDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, cfg: cfg}
	if err := l.open(bases, clean); err != nil {
		for _, s := range l.segs {
			s.close()
		}
		return nil, err
	}
	return l, nil
}

// scanDir lists the segments in dir, reports whether the last shutdown was
// clean, and removes what interrupted writes left behind.
func scanDir(dir string) (bases []int64, clean bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("log: %w", err)
	}
	hasLog := make(map[int64]bool)
	var indexes []string
	for _, e := range ents {
		name := e.Name()
		if name == cleanShutdownName {
			clean = true
			continue
		}
		if isTempFileName(name) {
			if err := removeIfExists(filepath.Join(dir, name)); err != nil {
				return nil, false, err
			}
			continue
		}
		base, suffix, ok := parseSegmentFileName(name)
		switch {
		case !ok:
		case suffix == logSuffix:
			bases = append(bases, base)
			hasLog[base] = true
		default:
			indexes = append(indexes, name)
		}
	}
	// An index without its segment is left over from an interrupted
	// removal; it would be mistaken for a future segment's index.
	for _, name := range indexes {
		if base, _, _ := parseSegmentFileName(name); !hasLog[base] {
			if err := removeIfExists(filepath.Join(dir, name)); err != nil {
				return nil, false, err
			}
		}
	}
	slices.Sort(bases)
	return bases, clean, nil
}

// open loads the segments at bases into l.
func (l *Log) open(bases []int64, clean bool) error {
	for _, base := range bases {
		s, err := openSegment(l.dir, base)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}
	if clean {
		// From here on a crash must be seen as unclean.
		if err := os.Remove(filepath.Join(l.dir, cleanShutdownName)); err != nil {
			return fmt.Errorf("log: remove clean shutdown marker: %w", err)
		}
		if err := syncDir(l.dir); err != nil {
			return fmt.Errorf("log: %w", err)
		}
	}
	fresh := len(l.segs) == 0
	if fresh {
		s, err := createSegment(l.dir, 0, &l.cfg)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
	}

	epochs, epochsFound, err := loadEpochCache(l.dir, l.EndOffset, l.cfg.Logger)
	if err != nil {
		return err
	}
	l.epochs = epochs

	active := l.active()
	end := active.base
	if clean && !fresh {
		end, err = l.loadActive(active)
		if err != nil {
			l.cfg.Logger.Warn("log: clean shutdown marker present but the last segment does not load; recovering",
				"dir", l.dir, "segment", active.name(), "err", err)
			clean = false
		}
	}
	if !clean && !fresh {
		if end, err = l.recoverSegment(active); err != nil {
			return err
		}
	}
	if err := active.initRollAt(l.cfg.Now()); err != nil {
		return err
	}
	if l.cfg.Preallocate {
		if err := active.preallocate(&l.cfg, active.size+1); err != nil {
			return err
		}
	}

	var size int64
	for i, s := range l.segs[:len(l.segs)-1] {
		s.next = l.segs[i+1].base
		size += s.size
		if !indexFilesExist(s) {
			if err := s.ensureLoaded(&l.cfg); err != nil {
				return err
			}
		}
	}
	l.size.Store(size + active.size)
	l.start.Store(l.segs[0].base)
	l.end.Store(end)
	l.flushed.Store(end) // synced by Close or by recovery

	if err := l.epochs.TruncateFromEnd(end); err != nil {
		return err
	}
	switch {
	case epochsFound:
		return nil
	case end > l.StartOffset():
		return l.rebuildEpochs()
	default:
		// A new log: write the empty history, so that a missing file
		// always means a lost one.
		return l.epochs.replace(nil)
	}
}

// indexFilesExist reports whether both index files of s are present.
func indexFilesExist(s *segment) bool {
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if _, err := os.Stat(segmentPath(s.dir, s.base, suffix)); errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// loadActive loads the last segment after a clean shutdown, trusting its
// size and index files, and returns the log end offset.
func (l *Log) loadActive(s *segment) (int64, error) {
	if err := s.ensureLoaded(&l.cfg); err != nil {
		return 0, err
	}
	return s.scanTail()
}

// recoverSegment checks every batch of s from the start, truncates the file
// after the last good one, rebuilds the indexes, and returns the offset
// after the last good batch. Leader epochs found in the batches that are
// newer than the epoch cache knows are added to it, in case the process
// died between appending a new leader's first batch and recording the
// epoch.
func (l *Log) recoverSegment(s *segment) (next int64, err error) {
	fi, err := s.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("log: recover: %w", err)
	}
	fileSize := fi.Size()
	s.resetIndexes()
	r := chunkReader{f: s.f}
	var (
		pos    int64
		reason error
		epochs []EpochEntry
	)
	next = s.base
	latest, _ := l.epochs.Latest()
	for pos < fileSize {
		if fileSize-pos < record.HeaderSize {
			reason = fmt.Errorf("%d bytes left, too few for a batch header", fileSize-pos)
			break
		}
		b, err := r.read(pos, record.HeaderSize, fileSize)
		if err != nil {
			return 0, err
		}
		h, err := record.ReadHeader(b)
		if err != nil {
			reason = err
			break
		}
		if int64(h.Size()) > fileSize-pos {
			reason = fmt.Errorf("batch of %d bytes with %d left in the file", h.Size(), fileSize-pos)
			break
		}
		if b, err = r.read(pos, h.Size(), fileSize); err != nil {
			return 0, err
		}
		if _, err := record.Validate(b); err != nil {
			reason = err
			break
		}
		if h.BaseOffset != next || h.LastOffset()-s.base > maxRelativeOffset {
			reason = fmt.Errorf("batch has offsets %d-%d, expected to start at %d", h.BaseOffset, h.LastOffset(), next)
			break
		}
		s.indexBatch(&h, pos, l.cfg.IndexIntervalBytes)
		if h.PartitionLeaderEpoch > latest {
			latest = h.PartitionLeaderEpoch
			epochs = append(epochs, EpochEntry{Epoch: latest, StartOffset: h.BaseOffset})
		}
		pos += int64(h.Size())
		next = h.NextOffset()
	}
	s.size, s.next = pos, next
	s.loaded.Store(true)

	if pos < fileSize {
		if tailIsZero(&r, pos, fileSize) {
			// Preallocated space, or the part of it a crash left unwritten.
			l.cfg.Logger.Info("log: recovered segment", "segment", s.name(), "dir", l.dir,
				"valid_bytes", pos, "next_offset", next)
		} else {
			l.cfg.Logger.Warn("log: truncating invalid tail of segment", "segment", s.name(), "dir", l.dir,
				"valid_bytes", pos, "truncated_bytes", fileSize-pos, "next_offset", next, "reason", reason)
		}
		// Cut the file rather than only forgetting the tail: leftover bytes
		// must never be taken for batches by a later recovery.
		if err := s.f.Truncate(pos); err != nil {
			return 0, fmt.Errorf("log: recover: %w", err)
		}
	}
	// If only the process died, what survived may still be only in the
	// page cache; the log reports it as durable from the start.
	if err := fdatasync(s.f); err != nil {
		return 0, fmt.Errorf("log: recover: %w", err)
	}
	for _, e := range epochs {
		if err := l.epochs.Assign(e.Epoch, e.StartOffset); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// tailIsZero reports whether the first bytes at pos are zero, which is how
// preallocated space that was never written looks.
func tailIsZero(r *chunkReader, pos, fileSize int64) bool {
	n := int(min(record.HeaderSize, fileSize-pos))
	b, err := r.read(pos, n, fileSize)
	if err != nil {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// rebuildEpochs reconstructs a missing leader epoch checkpoint from the
// leader epochs stamped in the batches.
func (l *Log) rebuildEpochs() error {
	l.cfg.Logger.Warn("log: leader epoch checkpoint missing; rebuilding it from the log", "dir", l.dir)
	var entries []EpochEntry
	latest := int32(UndefinedEpoch)
	err := l.Batches(l.StartOffset(), func(h record.Header) error {
		if h.PartitionLeaderEpoch > latest {
			latest = h.PartitionLeaderEpoch
			entries = append(entries, EpochEntry{Epoch: latest, StartOffset: h.BaseOffset})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return l.epochs.replace(entries)
}
