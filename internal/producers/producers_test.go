package producers

import (
	"errors"
	"math"
	"testing"
)

// appendAll runs batches through Check and Update as a leader would, giving
// each appended batch the next offsets, and returns what each one got.
func appendAll(s *State, next *int64, batches ...Batch) []result {
	var out []result
	for _, b := range batches {
		orig, dup, err := s.Check(b)
		switch {
		case err != nil:
			out = append(out, result{err: err})
		case dup:
			out = append(out, result{offset: orig.BaseOffset, dup: true})
		default:
			b.BaseOffset = *next
			*next += int64(b.NumRecords)
			s.Update(b)
			out = append(out, result{offset: b.BaseOffset})
		}
	}
	return out
}

type result struct {
	offset int64
	dup    bool
	err    error
}

func TestCheck(t *testing.T) {
	b := func(pid int64, epoch int16, seq, n int32) Batch {
		return Batch{ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: n}
	}
	tests := []struct {
		name    string
		batches []Batch
		want    []result
	}{
		{
			name:    "in order",
			batches: []Batch{b(1, 0, 0, 3), b(1, 0, 3, 2)},
			want:    []result{{offset: 0}, {offset: 3}},
		},
		{
			name:    "retry of the last batch is a duplicate",
			batches: []Batch{b(1, 0, 0, 3), b(1, 0, 3, 2), b(1, 0, 3, 2)},
			want:    []result{{offset: 0}, {offset: 3}, {offset: 3, dup: true}},
		},
		{
			name:    "retry of an older cached batch is a duplicate",
			batches: []Batch{b(1, 0, 0, 1), b(1, 0, 1, 1), b(1, 0, 2, 1), b(1, 0, 0, 1)},
			want:    []result{{offset: 0}, {offset: 1}, {offset: 2}, {offset: 0, dup: true}},
		},
		{
			name: "a batch older than the cache is out of order",
			batches: []Batch{b(1, 0, 0, 1), b(1, 0, 1, 1), b(1, 0, 2, 1), b(1, 0, 3, 1),
				b(1, 0, 4, 1), b(1, 0, 5, 1), b(1, 0, 0, 1)},
			want: []result{{offset: 0}, {offset: 1}, {offset: 2}, {offset: 3}, {offset: 4}, {offset: 5},
				{err: ErrOutOfOrderSequence}},
		},
		{
			name:    "gap",
			batches: []Batch{b(1, 0, 0, 3), b(1, 0, 4, 1)},
			want:    []result{{offset: 0}, {err: ErrOutOfOrderSequence}},
		},
		{
			name:    "unknown producer must start at zero",
			batches: []Batch{b(1, 0, 7, 1)},
			want:    []result{{err: ErrOutOfOrderSequence}},
		},
		{
			name:    "new epoch restarts sequences",
			batches: []Batch{b(1, 0, 0, 3), b(1, 1, 0, 1), b(1, 0, 3, 1)},
			want:    []result{{offset: 0}, {offset: 3}, {err: ErrInvalidProducerEpoch}},
		},
		{
			name:    "new epoch must start at zero",
			batches: []Batch{b(1, 0, 0, 3), b(1, 1, 3, 1)},
			want:    []result{{offset: 0}, {err: ErrOutOfOrderSequence}},
		},
		{
			name:    "producers are independent",
			batches: []Batch{b(1, 0, 0, 2), b(2, 0, 0, 2), b(1, 0, 2, 1), b(2, 0, 2, 1)},
			want:    []result{{offset: 0}, {offset: 2}, {offset: 4}, {offset: 5}},
		},
		{
			name:    "non-idempotent batches always pass",
			batches: []Batch{b(NoProducerID, -1, -1, 2), b(NoProducerID, -1, -1, 2)},
			want:    []result{{offset: 0}, {offset: 2}},
		},
		{
			name:    "sequence wraps",
			batches: []Batch{b(1, 0, 0, 5), b(1, 0, 5, math.MaxInt32-5), b(1, 0, math.MaxInt32, 2), b(1, 0, 1, 1), b(1, 0, 0, 1)},
			want:    []result{{offset: 0}, {offset: 5}, {offset: math.MaxInt32}, {offset: math.MaxInt32 + 2}, {err: ErrOutOfOrderSequence}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var next int64
			got := appendAll(NewState(), &next, tt.batches...)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d results, want %d", len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if !errors.Is(g.err, w.err) || (w.err == nil && (g.offset != w.offset || g.dup != w.dup)) {
					t.Errorf("batch %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestTruncateTo(t *testing.T) {
	s := NewState()
	var next int64
	appendAll(s, &next,
		Batch{ProducerID: 1, FirstSequence: 0, NumRecords: 2},
		Batch{ProducerID: 2, FirstSequence: 0, NumRecords: 2},
		Batch{ProducerID: 1, FirstSequence: 2, NumRecords: 2},
	)
	s.TruncateTo(2)
	if s.Len() != 1 {
		t.Fatalf("producers after truncation = %d, want 1", s.Len())
	}
	// Producer 1 lost its batch at offset 4; its retry is appended again.
	got := appendAll(s, &next, Batch{ProducerID: 1, FirstSequence: 2, NumRecords: 2})
	if got[0].err != nil || got[0].dup {
		t.Fatalf("retry after truncation: %+v, want a fresh append", got[0])
	}
}
