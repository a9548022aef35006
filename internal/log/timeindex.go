package log

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// timeIndexEntrySize is the size of one .timeindex entry.
const timeIndexEntrySize = 12

// noTimestamp is Kafka's "no timestamp" value, below every real one.
const noTimestamp = -1

// timeEntry records that the largest timestamp in a segment so far, ts,
// was first reached by the batch at relative offset rel; every batch
// before that one has only smaller timestamps.
type timeEntry struct {
	ts  int64
	rel uint32
}

// timeIndex is a segment's sparse time index, held in memory. Entries are
// strictly increasing in both fields.
type timeIndex struct {
	entries []timeEntry
}

// maybeAdd appends an entry if ts is larger than the last one.
func (x *timeIndex) maybeAdd(ts int64, rel uint32) {
	if ts <= x.lastTimestamp() {
		return
	}
	if n := len(x.entries); n > 0 && rel <= x.entries[n-1].rel {
		// A larger timestamp always comes from a later batch; refuse to
		// break the ordering rather than trust a confused caller.
		return
	}
	x.entries = append(x.entries, timeEntry{ts: ts, rel: rel})
}

// lastTimestamp returns the largest indexed timestamp, or noTimestamp.
func (x *timeIndex) lastTimestamp() int64 {
	if len(x.entries) == 0 {
		return noTimestamp
	}
	return x.entries[len(x.entries)-1].ts
}

// lookup returns the relative offset of a batch at or before the first
// record whose timestamp is at least ts: the batch of the last entry with a
// timestamp at most ts, or 0 (the segment start) if there is none.
func (x *timeIndex) lookup(ts int64) uint32 {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].ts > ts })
	if i == 0 {
		return 0
	}
	return x.entries[i-1].rel
}

// truncate drops the entries whose batch is at relative offset rel or
// later.
func (x *timeIndex) truncate(rel uint32) {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].rel >= rel })
	x.entries = x.entries[:i]
}

// marshal returns the .timeindex file contents.
func (x *timeIndex) marshal() []byte {
	b := make([]byte, 0, len(x.entries)*timeIndexEntrySize)
	for _, e := range x.entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, e.rel)
	}
	return b
}

// parseTimeIndex parses .timeindex file contents, rejecting anything a
// correct writer could not have produced.
func parseTimeIndex(b []byte) (timeIndex, error) {
	if len(b)%timeIndexEntrySize != 0 {
		return timeIndex{}, fmt.Errorf("%w: time index of %d bytes is not a whole number of entries", ErrCorrupt, len(b))
	}
	x := timeIndex{entries: make([]timeEntry, len(b)/timeIndexEntrySize)}
	for i := range x.entries {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(b[i*timeIndexEntrySize:])),
			rel: binary.BigEndian.Uint32(b[i*timeIndexEntrySize+8:]),
		}
		prevTS, prevRel := int64(noTimestamp), int64(-1)
		if i > 0 {
			prevTS, prevRel = x.entries[i-1].ts, int64(x.entries[i-1].rel)
		}
		if e.ts <= prevTS || int64(e.rel) <= prevRel {
			return timeIndex{}, fmt.Errorf("%w: time index entry %d (%d@%d) does not follow %d@%d",
				ErrCorrupt, i, e.ts, e.rel, prevTS, prevRel)
		}
		x.entries[i] = e
	}
	return x, nil
}
