package log

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/spotstream/spotstream/internal/record"
)

func TestIndexLookups(t *testing.T) {
	x := offsetIndex{}
	for i := range uint32(5) {
		x.add(10*i+5, 100*i+50) // 5@50, 15@150, ...
	}
	tests := []struct {
		rel, wantPos uint32
	}{
		{0, 0}, {4, 0}, {5, 50}, {14, 50}, {15, 150}, {45, 450}, {1000, 450},
	}
	for _, tt := range tests {
		if got := x.lookup(tt.rel); got != tt.wantPos {
			t.Errorf("lookup(%d) = %d, want %d", tt.rel, got, tt.wantPos)
		}
	}
	for _, tt := range []struct{ pos, want uint32 }{{0, 0}, {49, 0}, {50, 50}, {449, 350}, {9999, 450}} {
		if got := x.lookupPosition(tt.pos); got != tt.want {
			t.Errorf("lookupPosition(%d) = %d, want %d", tt.pos, got, tt.want)
		}
	}
	parsed, err := parseOffsetIndex(x.marshal(), 451)
	if err != nil || !slices.Equal(parsed.entries, x.entries) {
		t.Fatalf("round trip: %v %v", parsed.entries, err)
	}
	if _, err := parseOffsetIndex(x.marshal(), 450); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("entry past the segment accepted: %v", err)
	}
	x.truncate(250)
	if len(x.entries) != 2 {
		t.Fatalf("truncate(250) left %v", x.entries)
	}

	ti := timeIndex{}
	ti.maybeAdd(100, 0)
	ti.maybeAdd(100, 3) // no growth: ignored
	ti.maybeAdd(300, 4)
	ti.maybeAdd(200, 6) // smaller: ignored
	ti.maybeAdd(500, 9)
	if want := []timeEntry{{100, 0}, {300, 4}, {500, 9}}; !slices.Equal(ti.entries, want) {
		t.Fatalf("time index %v, want %v", ti.entries, want)
	}
	for _, tt := range []struct {
		ts   int64
		want uint32
	}{{50, 0}, {100, 0}, {299, 0}, {300, 4}, {499, 4}, {600, 9}} {
		if got := ti.lookup(tt.ts); got != tt.want {
			t.Errorf("time lookup(%d) = %d, want %d", tt.ts, got, tt.want)
		}
	}
	tparsed, err := parseTimeIndex(ti.marshal())
	if err != nil || !slices.Equal(tparsed.entries, ti.entries) {
		t.Fatalf("time round trip: %v %v", tparsed.entries, err)
	}
	if _, err := parseTimeIndex(ti.marshal()[:13]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("partial entry accepted: %v", err)
	}
}

// TestIndexIsSparse checks that the log writes one index entry per
// IndexIntervalBytes and that they point at batch starts.
func TestIndexIsSparse(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	l := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	data := appendBatches(t, l, 100, 1, 40)
	bsize := len(data) / 100
	idx := activeIndexes(l)
	// An entry for the first batch after more than 256 bytes since the last.
	every := cfg.IndexIntervalBytes/bsize + 1
	if want := (100 - 1) / every; len(idx) != want {
		t.Fatalf("%d index entries, want %d", len(idx), want)
	}
	for i, e := range idx {
		if int(e.pos) != (i+1)*every*bsize || int64(e.rel) != int64((i+1)*every) {
			t.Fatalf("entry %d = %d@%d", i, e.rel, e.pos)
		}
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	if _, _, ok, err := l.OffsetForTimestamp(0); ok || err != nil {
		t.Fatalf("empty log: %v %v", ok, err)
	}
	if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("MaxTimestamp of empty log = %d@%d", ts, off)
	}
	// 60 batches of 3 records (timestamps ts, ts+1, ts+2) spread over
	// several segments, with timestamps that go back once.
	for i := range 60 {
		ts := int64(1000 + 10*i)
		if i == 30 {
			ts = 1005 // a late record
		}
		if _, err := l.Append(makeBatch(t, 3, 30, ts)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segmentBases(t, l.Dir())); n < 3 {
		t.Fatalf("want several segments, have %d", n)
	}
	tests := []struct {
		ts       int64
		wantOff  int64
		wantTS   int64
		wantNone bool
	}{
		{0, 0, 1000, false},
		{1000, 0, 1000, false},
		{1001, 1, 1001, false},
		{1003, 3, 1010, false},
		{1005, 3, 1010, false},   // the late batch at 90 does not count
		{1292, 89, 1292, false},  // batch 29: 1290..1292 at 87..89
		{1300, 93, 1310, false},  // skips the late batch 30
		{1592, 179, 1592, false}, // last record
		{1593, 0, 0, true},       // after everything
	}
	for _, tt := range tests {
		off, ts, ok, err := l.OffsetForTimestamp(tt.ts)
		if err != nil {
			t.Fatal(err)
		}
		if ok == tt.wantNone || (ok && (off != tt.wantOff || ts != tt.wantTS)) {
			t.Errorf("OffsetForTimestamp(%d) = %d@%d %v, want %d@%d", tt.ts, ts, off, ok, tt.wantTS, tt.wantOff)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != 1592 || off != 179 {
		t.Fatalf("MaxTimestamp = %d@%d, want 1592@179", ts, off)
	}
	// The same answers after a restart, with the indexes read from disk.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, l.Dir(), testConfig())
	defer l.Close()
	for _, tt := range tests {
		off, ts, ok, _ := l.OffsetForTimestamp(tt.ts)
		if ok == tt.wantNone || (ok && (off != tt.wantOff || ts != tt.wantTS)) {
			t.Errorf("after reopen: OffsetForTimestamp(%d) = %d@%d %v", tt.ts, ts, off, ok)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != 1592 || off != 179 {
		t.Fatalf("after reopen: MaxTimestamp = %d@%d", ts, off)
	}
}

func TestBatches(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	appendBatches(t, l, 50, 2, 100)
	for _, from := range []int64{0, 1, 37, 98, 99, 100} {
		var got []int64
		err := l.Batches(from, func(h record.Header) error {
			got = append(got, h.BaseOffset)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for b := from / 2 * 2; b < 100; b += 2 {
			want = append(want, b)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Batches(%d) = %v, want %v", from, got, want)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := l.Batches(0, func(record.Header) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Batches error = %v after %d calls", err, n)
	}
	if err := l.Batches(101, func(record.Header) error { return nil }); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Batches past end: %v", err)
	}
}

func TestFlush(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	if d, err := l.Flush(); err != nil || d != 0 {
		t.Fatalf("Flush of empty log = %d, %v", d, err)
	}
	appendBatches(t, l, 30, 2, 100) // rolls segments
	if d, err := l.Flush(); err != nil || d != 60 {
		t.Fatalf("Flush = %d, %v; want 60", d, err)
	}
	if d, err := l.Flush(); err != nil || d != 60 {
		t.Fatalf("second Flush = %d, %v; want 60", d, err)
	}
}

// TestConcurrentReadFlushAppend runs readers and flushers against an
// appender that sometimes truncates, for the race detector and for the
// invariant that what readers see is whole, contiguous batches below the
// end offset they asked for.
func TestConcurrentReadFlushAppend(t *testing.T) {
	cfg := testConfig()
	cfg.Preallocate = true
	l := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	const batches = 400
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				end := l.EndOffset()
				for off := l.StartOffset(); off < end; {
					b, err := l.Read(off, 2000, end)
					if errors.Is(err, ErrOffsetOutOfRange) {
						break // truncated under us; start over
					}
					if err != nil {
						t.Error(err)
						return
					}
					next := lastNext(t, b)
					if next > end {
						t.Errorf("read past the end %d: %d", end, next)
						return
					}
					off = next
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			// The durable offset may go back: truncation lowers it.
			if _, err := l.Flush(); err != nil {
				t.Error(err)
				return
			}
			l.MaxTimestamp()
			if _, _, _, err := l.OffsetForTimestamp(1 << 40); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var want []byte
	for i := range batches {
		want = append(want, appendBatches(t, l, 1, 2, 80)...)
		if i%50 == 49 {
			// A follower's divergence truncation, 5 batches back.
			if err := l.TruncateTo(l.EndOffset() - 10); err != nil {
				t.Error(err)
				break
			}
			want = want[:len(want)-5*len(makeBatch(t, 2, 80, 0))]
		}
	}
	close(done)
	wg.Wait()
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("data differs")
	}
}
