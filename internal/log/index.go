package log

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// indexEntrySize is the size of one .index entry.
const indexEntrySize = 8

// indexEntry maps a batch's offset, relative to the segment's base offset,
// to the batch's byte position in the segment.
type indexEntry struct {
	rel uint32
	pos uint32
}

// offsetIndex is a segment's sparse offset index, held in memory. Entries
// are strictly increasing in both fields.
type offsetIndex struct {
	entries []indexEntry
}

func (x *offsetIndex) add(rel, pos uint32) {
	x.entries = append(x.entries, indexEntry{rel: rel, pos: pos})
}

// lookup returns the position of the last indexed batch whose relative
// offset is at most rel, or 0 (the first batch) if there is none.
func (x *offsetIndex) lookup(rel uint32) uint32 {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].rel > rel })
	if i == 0 {
		return 0
	}
	return x.entries[i-1].pos
}

// lookupPosition returns the last indexed batch position at or below pos,
// or 0 if there is none.
func (x *offsetIndex) lookupPosition(pos uint32) uint32 {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].pos > pos })
	if i == 0 {
		return 0
	}
	return x.entries[i-1].pos
}

// lastPosition returns the position of the last indexed batch, or 0.
func (x *offsetIndex) lastPosition() uint32 {
	if len(x.entries) == 0 {
		return 0
	}
	return x.entries[len(x.entries)-1].pos
}

// truncate drops the entries of batches at or after position pos.
func (x *offsetIndex) truncate(pos uint32) {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].pos >= pos })
	x.entries = x.entries[:i]
}

// marshal returns the .index file contents.
func (x *offsetIndex) marshal() []byte {
	b := make([]byte, 0, len(x.entries)*indexEntrySize)
	for _, e := range x.entries {
		b = binary.BigEndian.AppendUint32(b, e.rel)
		b = binary.BigEndian.AppendUint32(b, e.pos)
	}
	return b
}

// parseOffsetIndex parses .index file contents for a segment of size bytes,
// rejecting anything a correct writer could not have produced.
func parseOffsetIndex(b []byte, size int64) (offsetIndex, error) {
	if len(b)%indexEntrySize != 0 {
		return offsetIndex{}, fmt.Errorf("%w: offset index of %d bytes is not a whole number of entries", ErrCorrupt, len(b))
	}
	x := offsetIndex{entries: make([]indexEntry, len(b)/indexEntrySize)}
	for i := range x.entries {
		e := indexEntry{
			rel: binary.BigEndian.Uint32(b[i*indexEntrySize:]),
			pos: binary.BigEndian.Uint32(b[i*indexEntrySize+4:]),
		}
		if i > 0 && (e.rel <= x.entries[i-1].rel || e.pos <= x.entries[i-1].pos) {
			return offsetIndex{}, fmt.Errorf("%w: offset index entry %d (%d@%d) does not follow %d@%d",
				ErrCorrupt, i, e.rel, e.pos, x.entries[i-1].rel, x.entries[i-1].pos)
		}
		if int64(e.pos) >= size {
			return offsetIndex{}, fmt.Errorf("%w: offset index entry %d points at %d, past the %d-byte segment",
				ErrCorrupt, i, e.pos, size)
		}
		x.entries[i] = e
	}
	return x, nil
}
