package log

import (
	"fmt"
	"io"

	"github.com/spotstream/spotstream/internal/record"
)

// section is a run of whole batches in one segment file: what a fetch
// returns. It is resolved apart from reading so that a zero-copy path can
// hand the same range to sendfile instead of copying it.
type section struct {
	seg *segment
	pos int64 // byte position in the segment file
	n   int64 // length in bytes; 0 when there is nothing to return
}

// Read returns whole batches starting with the one that holds offset: as
// many as fit in maxBytes, but always at least one (so a batch larger than
// maxBytes can still be consumed, as in KIP-74), never one whose base
// offset is at or past limit, and never crossing into the next segment.
// Callers pass the high watermark as limit; a limit above the end offset
// means the end offset.
//
// It returns no bytes when offset >= limit, and ErrOffsetOutOfRange when
// offset is outside [StartOffset, EndOffset].
func (l *Log) Read(offset int64, maxBytes int, limit int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	sec, err := l.locate(offset, maxBytes, limit)
	if err != nil || sec.n == 0 {
		return nil, err
	}
	buf := make([]byte, sec.n)
	if _, err := sec.seg.f.ReadAt(buf, sec.pos); err != nil {
		return nil, fmt.Errorf("log: read %s at %d: %w", sec.seg.name(), sec.pos, err)
	}
	return buf, nil
}

// locate resolves a Read to a section of a segment file, reading only
// batch headers. The caller holds l.mu shared, and must keep holding it
// for as long as it uses the section's file.
func (l *Log) locate(offset int64, maxBytes int, limit int64) (section, error) {
	end := l.end.Load()
	if offset < l.start.Load() || offset > end {
		return section{}, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.start.Load(), end)
	}
	limit = min(limit, end)
	if offset >= limit {
		return section{}, nil
	}
	i := l.segmentFor(offset)
	s := l.segs[i]
	if err := s.ensureLoaded(&l.cfg); err != nil {
		return section{}, err
	}

	// size and next are read together, so the data below size is exactly
	// the batches below next, even while an append is in progress.
	s.mu.RLock()
	pos, size := int64(s.index.lookup(s.rel(offset))), s.size
	limitPos := int64(-1)
	if limit < s.next {
		limitPos = int64(s.index.lookup(s.rel(limit)))
	}
	s.mu.RUnlock()

	var sc headerScanner
	sc.reset(s.f, pos, size)

	// The batch that holds offset.
	var first record.Header
	for {
		h, p, err := sc.next()
		if err == io.EOF {
			// Impossible while offset < limit <= next: the data and the
			// offsets disagree.
			return section{}, fmt.Errorf("%w: %s ends before offset %d", ErrCorrupt, s.name(), offset)
		}
		if err != nil {
			return section{}, err
		}
		if h.LastOffset() >= offset {
			first, pos = h, p
			break
		}
	}

	// Where the batches below limit end.
	stop := size
	if limitPos >= 0 {
		sc.seek(max(limitPos, pos))
		for {
			h, p, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return section{}, err
			}
			if h.BaseOffset >= limit {
				stop = p
				break
			}
		}
	}

	// Where the last batch that fits in maxBytes ends.
	n := stop - pos
	switch {
	case n <= int64(maxBytes):
	case int64(first.Size()) >= int64(maxBytes):
		n = int64(first.Size())
	default:
		budgetEnd := pos + int64(maxBytes)
		s.mu.RLock()
		from := max(int64(s.index.lookupPosition(uint32(budgetEnd))), pos)
		s.mu.RUnlock()
		sc.seek(from)
		fits := from
		for {
			h, p, err := sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return section{}, err
			}
			if p+int64(h.Size()) > budgetEnd {
				break
			}
			fits = p + int64(h.Size())
		}
		n = fits - pos
	}
	return section{seg: s, pos: pos, n: n}, nil
}

// Batches calls fn with the header of every batch from the one that holds
// offset from to the end of the log, in order, without reading batch
// bodies: for rebuilding producer state and leader epochs. An error from fn
// stops the scan and is returned as is. fn runs while the log's segment
// list is locked, so it must not call Append, AppendReplicated, TruncateTo
// or Close.
func (l *Log) Batches(from int64, fn func(h record.Header) error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return ErrClosed
	}
	end := l.end.Load()
	if from < l.start.Load() || from > end {
		return fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, from, l.start.Load(), end)
	}
	first := l.segmentFor(from)
	for i := first; i < len(l.segs); i++ {
		s := l.segs[i]
		if i == first {
			if err := s.ensureLoaded(&l.cfg); err != nil {
				return err
			}
		}
		s.mu.RLock()
		pos, size := int64(0), s.size
		if i == first {
			pos = int64(s.index.lookup(s.rel(from)))
		}
		s.mu.RUnlock()
		if err := scanHeaders(s, pos, size, func(h *record.Header, _ int64) (bool, error) {
			switch {
			case h.BaseOffset >= end:
				return false, nil
			case h.LastOffset() < from:
				return true, nil
			}
			return true, fn(*h)
		}); err != nil {
			return err
		}
	}
	return nil
}

// scanHeaders calls fn with each batch header of s and its position, from
// pos to size, until fn returns false or an error.
func scanHeaders(s *segment, pos, size int64, fn func(h *record.Header, pos int64) (bool, error)) error {
	var sc headerScanner
	sc.reset(s.f, pos, size)
	for {
		h, p, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if more, err := fn(&h, p); err != nil || !more {
			return err
		}
	}
}

// OffsetForTimestamp returns the offset and timestamp of the first record
// whose timestamp is at least ts, as ListOffsets does. ok is false when
// there is no such record. Callers that must not expose records past the
// high watermark check the offset against it.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return 0, 0, false, ErrClosed
	}
	end := l.end.Load()
	for _, s := range l.segs {
		if err := s.ensureLoaded(&l.cfg); err != nil {
			return 0, 0, false, err
		}
		s.mu.RLock()
		maxTS, size, startRel := s.maxTS, s.size, s.tindex.lookup(ts)
		s.mu.RUnlock()
		if maxTS < ts {
			continue // no record in this segment is late enough
		}
		// Every batch before the time index's pick has only earlier
		// timestamps; start the header scan there.
		_, pos, err := s.locate(s.base + int64(startRel))
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: %s: time index points past the data", ErrCorrupt, s.name())
			}
			return 0, 0, false, err
		}
		err = scanHeaders(s, pos, size, func(h *record.Header, pos int64) (bool, error) {
			if h.BaseOffset >= end {
				return false, nil
			}
			if h.MaxTimestamp < ts {
				return true, nil
			}
			offset, timestamp, ok, err = searchBatch(s, h, pos, ts)
			// A batch whose header overstates its records' timestamps
			// yields nothing; keep looking.
			return !ok && err == nil, err
		})
		if err != nil || ok {
			return offset, timestamp, ok, err
		}
	}
	return 0, 0, false, nil
}

// searchBatch decodes the batch with header h at pos in s and returns its
// first record with a timestamp at least ts.
func searchBatch(s *segment, h *record.Header, pos, ts int64) (offset, timestamp int64, ok bool, err error) {
	buf := make([]byte, h.Size())
	if _, err := s.f.ReadAt(buf, pos); err != nil {
		return 0, 0, false, fmt.Errorf("log: read %s at %d: %w", s.name(), pos, err)
	}
	recs, err := record.Records(buf)
	if err != nil {
		return 0, 0, false, fmt.Errorf("log: %s: batch at offset %d: %w", s.name(), h.BaseOffset, err)
	}
	for _, r := range recs {
		if r.Timestamp >= ts {
			return r.Offset, r.Timestamp, true, nil
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the largest record timestamp in the log and the
// offset of the first record that has it, for ListOffsets' max-timestamp
// query; both are -1 when no record has a timestamp. Finding the exact
// record means reading and decoding its batch; if that fails, the error
// is logged and the batch's base offset is returned instead, and if even
// the indexes cannot be read, -1 and -1.
func (l *Log) MaxTimestamp() (timestamp, offset int64) {
	ts, off, err := l.maxTimestamp()
	if err != nil {
		l.cfg.Logger.Warn("log: max timestamp lookup", "dir", l.dir, "err", err)
	}
	return ts, off
}

func (l *Log) maxTimestamp() (timestamp, offset int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return noTimestamp, -1, ErrClosed
	}
	var (
		best    *segment
		bestTS  = int64(noTimestamp)
		bestRel uint32
	)
	for _, s := range l.segs {
		if err := s.ensureLoaded(&l.cfg); err != nil {
			return noTimestamp, -1, err
		}
		s.mu.RLock()
		if s.maxTS > bestTS {
			best, bestTS, bestRel = s, s.maxTS, s.maxTSRel
		}
		s.mu.RUnlock()
	}
	if best == nil {
		return noTimestamp, -1, nil
	}
	base := best.base + int64(bestRel)
	h, pos, err := best.locate(base)
	if err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%w: %s: time index points past the data", ErrCorrupt, best.name())
		}
		return bestTS, base, err
	}
	off, ts, ok, err := searchBatch(best, &h, pos, bestTS)
	if err != nil || !ok || ts != bestTS {
		// Decoding failed, or the header promised a timestamp no record
		// has: go by the header.
		return bestTS, base, err
	}
	return ts, off, nil
}
