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
