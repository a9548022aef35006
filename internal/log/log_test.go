package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/record"
)

func TestAppendAndRead(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	if l.StartOffset() != 0 || l.EndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("empty log: start %d end %d size %d", l.StartOffset(), l.EndOffset(), l.Size())
	}
	want := appendBatches(t, l, 50, 3, 40)
	if l.EndOffset() != 150 {
		t.Fatalf("EndOffset = %d, want 150", l.EndOffset())
	}
	if l.Size() != int64(len(want)) {
		t.Fatalf("Size = %d, want %d", l.Size(), len(want))
	}
	for _, maxBytes := range []int{1, 200, 1000, 1 << 20} {
		if got := readAll(t, l, maxBytes); !bytes.Equal(got, want) {
			t.Fatalf("maxBytes %d: read back %d bytes, want %d", maxBytes, len(got), len(want))
		}
	}
	// Every offset, including ones inside a batch, reads from its batch.
	for off := int64(0); off < 150; off++ {
		b, err := l.Read(off, 1, 150)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ReadHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.BaseOffset > off || h.LastOffset() < off || h.Size() != len(b) {
			t.Fatalf("Read(%d) returned batch %d-%d of %d bytes in %d", off, h.BaseOffset, h.LastOffset(), h.Size(), len(b))
		}
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := mustOpen(t, dir, cfg)
	defer l.Close()
	batch := makeBatch(t, 2, 100, 0) // 61 + 2 records
	per := int(cfg.SegmentBytes) / len(batch)
	want := appendBatches(t, l, 3*per+1, 2, 100)
	bases := segmentBases(t, dir)
	wantBases := []int64{0, int64(2 * per), int64(4 * per), int64(6 * per)}
	if !slices.Equal(bases, wantBases) {
		t.Fatalf("segments %v, want %v", bases, wantBases)
	}
	for _, b := range bases[:len(bases)-1] {
		fi, err := os.Stat(segmentPath(dir, b, logSuffix))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > cfg.SegmentBytes || fi.Size() != int64(per*len(batch)) {
			t.Fatalf("segment %d has %d bytes, want %d", b, fi.Size(), per*len(batch))
		}
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if _, err := os.Stat(segmentPath(dir, b, suffix)); err != nil {
				t.Fatalf("rolled segment lacks its index: %v", err)
			}
		}
	}
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("read back differs across segments")
	}
}

// TestLargeBatch checks that a batch larger than a segment gets one of its
// own and is still read whole.
func TestLargeBatch(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	appendBatches(t, l, 2, 1, 10)
	big := makeBatch(t, 3, 3000, 0)
	if _, err := l.Append(big); err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 1, 1, 10)
	if got := segmentBases(t, l.Dir()); !slices.Equal(got, []int64{0, 2, 5}) {
		t.Fatalf("segments %v, want [0 2 5]", got)
	}
	b, err := l.Read(3, 10, l.EndOffset())
	if err != nil || !bytes.Equal(b, big) {
		t.Fatalf("Read of big batch: %d bytes, %v", len(b), err)
	}
}

func TestRollByTime(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.SegmentAge = time.Hour
	cfg.Now = clock.Now
	l := mustOpen(t, dir, cfg)

	clock.Advance(2 * time.Hour) // an empty segment never rolls
	appendBatches(t, l, 1, 1, 10)
	clock.Advance(59 * time.Minute)
	appendBatches(t, l, 1, 1, 10)
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0}) {
		t.Fatalf("rolled before SegmentAge: %v", got)
	}
	clock.Advance(time.Minute)
	appendBatches(t, l, 1, 1, 10)
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("segments %v, want [0 2]", got)
	}
	// The clock starts at the new segment's first append.
	clock.Advance(30 * time.Minute)
	appendBatches(t, l, 1, 1, 10)
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("segments %v, want [0 2]", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// After a restart the first batch's timestamp stands in for its append
	// time. makeBatch timestamps are tiny, so the segment is overdue.
	l = mustOpen(t, dir, cfg)
	defer l.Close()
	appendBatches(t, l, 1, 1, 10)
	if got := segmentBases(t, dir); !slices.Equal(got, []int64{0, 2, 4}) {
		t.Fatalf("segments %v, want [0 2 4]", got)
	}
}

func TestReadBoundaries(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	var sizes []int // batch i holds offsets 2i, 2i+1
	for range 40 {
		b := makeBatch(t, 2, 30, 0)
		sizes = append(sizes, len(b))
		if _, err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	bs := sizes[0]
	end := l.EndOffset()
	segEnd := int64(2 * (int(testConfig().SegmentBytes) / bs)) // first segment's end offset
	tests := []struct {
		name      string
		offset    int64
		maxBytes  int
		limit     int64
		wantFirst int64 // base offset of the first batch, or -1 for none
		wantN     int   // number of batches
		wantErr   error
	}{
		{"first batch exactly", 0, bs, end, 0, 1, nil},
		{"max smaller than one batch", 0, 10, end, 0, 1, nil},
		{"zero max", 4, 0, end, 4, 1, nil},
		{"two and a half batches", 0, 2*bs + bs/2, end, 0, 2, nil},
		{"offset inside a batch", 5, 2 * bs, end, 4, 2, nil},
		{"limit at a batch start", 0, 1 << 20, 6, 0, 3, nil},
		{"limit inside a batch includes it", 0, 1 << 20, 5, 0, 3, nil},
		{"limit above end means end", 70, 1 << 20, end + 100, 70, 5, nil},
		{"stops at segment end", 0, 1 << 20, end, 0, int(segEnd / 2), nil},
		{"offset at limit", 6, 1 << 20, 6, -1, 0, nil},
		{"offset past limit within log", 8, 1 << 20, 6, -1, 0, nil},
		{"offset at end", end, 1 << 20, end, -1, 0, nil},
		{"offset past end", end + 1, 1 << 20, end, -1, 0, ErrOffsetOutOfRange},
		{"negative offset", -1, 1 << 20, end, -1, 0, ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := l.Read(tt.offset, tt.maxBytes, tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantFirst < 0 {
				if len(b) != 0 {
					t.Fatalf("Read returned %d bytes, want none", len(b))
				}
				return
			}
			h, err := record.ReadHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rest := b; len(rest) > 0; n++ {
				h, _ := record.ReadHeader(rest)
				rest = rest[h.Size():]
			}
			lastNext(t, b)
			if h.BaseOffset != tt.wantFirst || n != tt.wantN {
				t.Fatalf("Read returned %d batches from %d, want %d from %d", n, h.BaseOffset, tt.wantN, tt.wantFirst)
			}
		})
	}
}

func TestStartOffsetReadOutOfRange(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	if _, err := l.Read(1, 100, 10); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read past the end of an empty log: %v", err)
	}
	if b, err := l.Read(0, 100, 0); err != nil || len(b) != 0 {
		t.Fatalf("Read at the end of an empty log: %d bytes, %v", len(b), err)
	}
}

func TestAppendReplicated(t *testing.T) {
	leader := mustOpen(t, t.TempDir(), testConfig())
	defer leader.Close()
	want := appendBatches(t, leader, 60, 2, 50)

	follower := mustOpen(t, t.TempDir(), testConfig())
	defer follower.Close()
	if err := follower.AppendReplicated(nil); err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < leader.EndOffset(); {
		b, err := leader.Read(off, 3000, leader.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if err := follower.AppendReplicated(b); err != nil {
			t.Fatal(err)
		}
		off = follower.EndOffset()
	}
	if got := readAll(t, follower, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("follower log differs from leader's")
	}
	if !slices.Equal(segmentBases(t, leader.Dir()), segmentBases(t, follower.Dir())) {
		t.Fatalf("follower segments %v, leader %v", segmentBases(t, follower.Dir()), segmentBases(t, leader.Dir()))
	}

	stale, _ := leader.Read(0, 1, leader.EndOffset())
	if err := follower.AppendReplicated(stale); !errors.Is(err, ErrNonContiguous) {
		t.Fatalf("stale batch: %v, want ErrNonContiguous", err)
	}
	gap := makeBatch(t, 1, 1, 0)
	record.SetBaseOffset(gap, follower.EndOffset()+1)
	if err := follower.AppendReplicated(gap); !errors.Is(err, ErrNonContiguous) {
		t.Fatalf("gap: %v, want ErrNonContiguous", err)
	}
	bad := makeBatch(t, 1, 1, 0)
	record.SetBaseOffset(bad, follower.EndOffset())
	bad[len(bad)-1] ^= 1
	if err := follower.AppendReplicated(bad); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("corrupt batch: %v, want record.ErrCorrupt", err)
	}
	good := makeBatch(t, 1, 1, 0)
	record.SetBaseOffset(good, follower.EndOffset())
	if err := follower.AppendReplicated(append(good, bad[:30]...)); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("partial trailing batch: %v, want record.ErrCorrupt", err)
	}
	if follower.EndOffset() != leader.EndOffset() {
		t.Fatal("a failed AppendReplicated appended something")
	}
}

func TestAppendRejectsMismatchedLength(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	b := makeBatch(t, 1, 10, 0)
	if _, err := l.Append(b[:len(b)-1]); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("short batch: %v", err)
	}
	if _, err := l.Append(append(b, 0)); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("long batch: %v", err)
	}
	if l.EndOffset() != 0 {
		t.Fatal("rejected batch was appended")
	}
}

func TestCloseAndReopen(t *testing.T) {
	dir := t.TempDir()
	for _, prealloc := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "preallocated"}[prealloc], func(t *testing.T) {
			dir := filepath.Join(dir, map[bool]string{false: "plain", true: "prealloc"}[prealloc])
			cfg := testConfig()
			cfg.Preallocate = prealloc
			l := mustOpen(t, dir, cfg)
			want := appendBatches(t, l, 30, 2, 100)
			indexes := activeIndexes(l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); !errors.Is(err, ErrClosed) {
				t.Fatalf("second Close: %v", err)
			}
			if _, err := l.Append(makeBatch(t, 1, 1, 0)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Append after Close: %v", err)
			}
			if _, err := l.Read(0, 1, 1); !errors.Is(err, ErrClosed) {
				t.Fatalf("Read after Close: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, cleanShutdownName)); err != nil {
				t.Fatalf("no clean shutdown marker: %v", err)
			}
			// Preallocated space is given back: the files hold exactly the data.
			var total int64
			for _, base := range segmentBases(t, dir) {
				fi, err := os.Stat(segmentPath(dir, base, logSuffix))
				if err != nil {
					t.Fatal(err)
				}
				total += fi.Size()
			}
			if total != int64(len(want)) {
				t.Fatalf("segment files hold %d bytes, want %d", total, len(want))
			}

			l = mustOpen(t, dir, cfg)
			defer l.Close()
			if _, err := os.Stat(filepath.Join(dir, cleanShutdownName)); !os.IsNotExist(err) {
				t.Fatalf("clean shutdown marker survives Open: %v", err)
			}
			if got := activeIndexes(l); !slices.Equal(got, indexes) {
				t.Fatalf("index after reopen %v, want %v", got, indexes)
			}
			if l.EndOffset() != 60 || l.Size() != int64(len(want)) {
				t.Fatalf("reopened: end %d size %d, want 60 %d", l.EndOffset(), l.Size(), len(want))
			}
			want = append(want, appendBatches(t, l, 5, 2, 100)...)
			if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
				t.Fatal("data differs after reopen")
			}
		})
	}
}

// activeIndexes returns a copy of the active segment's offset index.
func activeIndexes(l *Log) []indexEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.active()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.index.entries)
}

func TestOpenRemovesStrayFiles(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	appendBatches(t, l, 3, 1, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	stray := []string{
		segmentFileName(0, indexSuffix) + tmpSuffix,
		epochCheckpointName + tmpSuffix,
		segmentFileName(99, indexSuffix), // index without a segment
	}
	keep := []string{"partition.metadata", "00000000000000000000.snapshot"}
	for _, name := range append(slices.Clone(stray), keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l = mustOpen(t, dir, testConfig())
	defer l.Close()
	for _, name := range stray {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s survives Open: %v", name, err)
		}
	}
	for _, name := range keep {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Open removed a file it does not own: %v", err)
		}
	}
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := mustOpen(t, dir, testConfig())
	appendBatches(t, l, 3, 1, 10)
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory survives Delete: %v", err)
	}
	if _, err := l.Append(makeBatch(t, 1, 1, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Delete: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{SegmentBytes: -1},
		{SegmentBytes: 1 << 31},
		{SegmentAge: -time.Second},
		{IndexIntervalBytes: -1},
	} {
		if _, err := Open(t.TempDir(), cfg); err == nil {
			t.Errorf("Open accepted %+v", cfg)
		}
	}
}

func TestFileNames(t *testing.T) {
	tests := []struct {
		name   string
		base   int64
		suffix string
		ok     bool
	}{
		{"00000000000000000000.log", 0, logSuffix, true},
		{"00000000000000001234.index", 1234, indexSuffix, true},
		{"09223372036854775807.timeindex", 1<<63 - 1, timeIndexSuffix, true},
		{"00000000000000000000.snapshot", 0, "", false},
		{"0000000000000000000.log", 0, "", false},
		{"0000000000000000000a.log", 0, "", false},
		{"99999999999999999999.log", 0, "", false},
		{"leader-epoch-checkpoint", 0, "", false},
	}
	for _, tt := range tests {
		base, suffix, ok := parseSegmentFileName(tt.name)
		if ok != tt.ok || (ok && (base != tt.base || suffix != tt.suffix)) {
			t.Errorf("parse(%q) = %d %q %v", tt.name, base, suffix, ok)
		}
		if ok && segmentFileName(base, suffix) != tt.name {
			t.Errorf("segmentFileName(%d, %q) = %q", base, suffix, segmentFileName(base, suffix))
		}
	}
}

// TestFailureIsSticky checks that after a failed write the log refuses
// writes and flushes rather than risk acknowledging lost data.
func TestFailureIsSticky(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	appendBatches(t, l, 2, 1, 10)
	l.active().f.Close() // every write now fails
	_, err := l.Append(makeBatch(t, 1, 10, 0))
	if err == nil {
		t.Fatal("Append to a closed file succeeded")
	}
	if _, err2 := l.Append(makeBatch(t, 1, 10, 0)); err2 == nil || !strings.Contains(err2.Error(), "earlier failure") {
		t.Fatalf("second Append: %v", err2)
	}
	if _, err := l.Flush(); err == nil {
		t.Fatal("Flush after a failure succeeded")
	}
	if l.EndOffset() != 2 {
		t.Fatalf("end offset moved to %d", l.EndOffset())
	}
	l.Close()
	if _, err := os.Stat(filepath.Join(l.Dir(), cleanShutdownName)); !os.IsNotExist(err) {
		t.Fatal("a failed log was marked clean")
	}
}
