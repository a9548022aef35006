package log

import (
	"fmt"
	"io"
)

// TruncateTo removes every batch at and after offset, as a follower does
// when its log diverges from the new leader's, deleting whole segments as
// needed, and truncates the leader epoch cache to match. A batch that
// holds offset is removed whole, so the end offset becomes the start of
// that batch, which may be below offset. Offsets at or past the end are a
// no-op; offsets below the start offset fail with ErrOffsetOutOfRange.
// The truncation is durable when TruncateTo returns.
//
// It must not run concurrently with appends or Close; it waits for
// in-flight reads and flushes.
func (l *Log) TruncateTo(offset int64) error {
	if err := l.usable(); err != nil {
		return err
	}
	if offset >= l.end.Load() {
		return nil
	}
	if offset < l.start.Load() {
		return fmt.Errorf("%w: cannot truncate to %d, before the start offset %d", ErrOffsetOutOfRange, offset, l.start.Load())
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	i := l.segmentFor(offset)
	// Last first, so that a crash part way leaves a log that is a prefix
	// of the original.
	for j := len(l.segs) - 1; j > i; j-- {
		if err := l.segs[j].remove(); err != nil {
			return l.fail(err)
		}
		l.segs = l.segs[:j]
		if j == i+1 {
			if err := syncDir(l.dir); err != nil {
				return l.fail(fmt.Errorf("log: truncate: %w", err))
			}
		}
	}

	s := l.segs[i]
	if err := s.ensureLoaded(&l.cfg); err != nil {
		return l.fail(err)
	}
	h, pos, err := s.locate(offset)
	if err == io.EOF {
		return l.fail(fmt.Errorf("%w: %s ends before offset %d", ErrCorrupt, s.name(), offset))
	}
	if err != nil {
		return l.fail(err)
	}
	if err := s.truncate(pos, h.BaseOffset, &l.cfg); err != nil {
		return l.fail(err)
	}

	var size int64
	for _, s := range l.segs {
		size += s.size
	}
	l.size.Store(size)
	l.end.Store(h.BaseOffset)
	if l.flushed.Load() > h.BaseOffset {
		l.flushed.Store(h.BaseOffset)
	}
	return l.epochs.TruncateFromEnd(h.BaseOffset)
}
