package log

import "fmt"

// DeleteSegmentsBefore deletes the segments that hold only offsets below
// offset, oldest first, and returns the new start offset. The active
// segment is never deleted, so the log may keep offsets below offset; it
// is how retention, and the compaction of a partition whose owner has
// rewritten its live state further on, give space back. A crash part way
// leaves the later segments, which is a log that starts later: recovery
// takes the first segment's base as the start offset.
//
// It may run concurrently with appends and reads: readers of a deleted
// segment get ErrOffsetOutOfRange, as for any offset below the start.
func (l *Log) DeleteSegmentsBefore(offset int64) (start int64, err error) {
	if err := l.usable(); err != nil {
		return l.start.Load(), err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.segs)-1 && l.segs[n+1].base <= offset {
		n++
	}
	if n == 0 {
		return l.start.Load(), nil
	}
	var freed int64
	for i := range n {
		s := l.segs[i]
		if err := s.remove(); err != nil {
			l.dropFirst(i, freed)
			return l.start.Load(), l.fail(fmt.Errorf("log: delete segments before %d: %w", offset, err))
		}
		freed += s.size
	}
	l.dropFirst(n, freed)
	if err := l.epochs.TruncateFromStart(l.start.Load()); err != nil {
		return l.start.Load(), err
	}
	return l.start.Load(), nil
}

// dropFirst forgets the first n segments, which held freed bytes of
// batches. The caller holds l.mu exclusively.
func (l *Log) dropFirst(n int, freed int64) {
	if n == 0 {
		return
	}
	clear(l.segs[:n])
	l.segs = l.segs[n:]
	l.start.Store(l.segs[0].base)
	l.size.Add(-freed)
}

// ResetTo empties the log and starts it again at offset: every segment is
// deleted and the epoch history cleared, and the next append gets offset.
// A follower does this when its leader no longer has the records after the
// follower's end (Kafka's truncateFullyAndStartAt). It must be serialized
// with appends, like TruncateTo.
//
// Segments go newest first and the new one is created last, so that a crash
// part way leaves a prefix of the old log or an empty one, never a gap; the
// follower then finds itself below the leader's start again and resets again.
func (l *Log) ResetTo(offset int64) error {
	if err := l.usable(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("%w: cannot reset to %d", ErrOffsetOutOfRange, offset)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.segs) - 1; i >= 0; i-- {
		if err := l.segs[i].remove(); err != nil {
			l.segs = l.segs[:i+1]
			return l.fail(fmt.Errorf("log: reset to %d: %w", offset, err))
		}
		l.segs = l.segs[:i]
	}
	if err := l.epochs.replace(nil); err != nil {
		return l.fail(fmt.Errorf("log: reset to %d: %w", offset, err))
	}
	s, err := createSegment(l.dir, offset, &l.cfg)
	if err != nil {
		return l.fail(fmt.Errorf("log: reset to %d: %w", offset, err))
	}
	if err := syncDir(l.dir); err != nil {
		return l.fail(fmt.Errorf("log: reset to %d: %w", offset, err))
	}
	l.segs = []*segment{s}
	l.start.Store(offset)
	l.end.Store(offset)
	l.size.Store(0)
	l.flushed.Store(offset)
	return nil
}
