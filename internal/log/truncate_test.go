package log

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/spotstream/spotstream/internal/record"
)

func TestTruncateTo(t *testing.T) {
	// 60 batches of 2 records; segments of 4096 bytes hold 14 batches.
	batchSize := len(makeBatch(t, 2, 100, 0))
	perSeg := 4096 / batchSize
	tests := []struct {
		name    string
		offset  int64
		wantEnd int64
	}{
		{"at end is a no-op", 120, 120},
		{"past end is a no-op", 500, 120},
		{"last batch", 118, 118},
		{"inside last batch drops it whole", 119, 118},
		{"active segment start", int64(2 * perSeg * 4), int64(2 * perSeg * 4)},
		{"into a rolled segment", int64(2*perSeg + 6), int64(2*perSeg + 6)},
		{"inside a batch of a rolled segment", int64(2*perSeg + 7), int64(2*perSeg + 6)},
		{"first segment", 10, 10},
		{"everything", 0, 0},
	}
	for _, prealloc := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if prealloc {
				name += "/preallocated"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				cfg := testConfig()
				cfg.Preallocate = prealloc
				l := mustOpen(t, dir, cfg)
				data := appendBatches(t, l, 60, 2, 100)
				if err := l.Epochs().Assign(1, 0); err != nil {
					t.Fatal(err)
				}
				if err := l.Epochs().Assign(2, 60); err != nil {
					t.Fatal(err)
				}
				if _, err := l.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := l.TruncateTo(tt.offset); err != nil {
					t.Fatal(err)
				}
				want := data[:tt.wantEnd/2*int64(batchSize)]
				wantEpochs := []EpochEntry{{1, 0}, {2, 60}}
				switch {
				case tt.wantEnd == 0:
					wantEpochs = nil
				case tt.wantEnd <= 60:
					wantEpochs = wantEpochs[:1]
				}
				check := func(l *Log) {
					t.Helper()
					if l.EndOffset() != tt.wantEnd || l.Size() != int64(len(want)) {
						t.Fatalf("end %d size %d, want %d %d", l.EndOffset(), l.Size(), tt.wantEnd, len(want))
					}
					if got := readAll(t, l, 1000); !bytes.Equal(got, want) {
						t.Fatal("data after truncation differs")
					}
					lastBase := (tt.wantEnd / 2 / int64(perSeg)) * int64(perSeg) * 2
					if tt.wantEnd == 120 {
						lastBase = 112
					}
					if bases := segmentBases(t, dir); bases[len(bases)-1] > lastBase {
						t.Fatalf("segments %v after truncating to %d", bases, tt.wantEnd)
					}
					if got := l.Epochs().Entries(); !slices.Equal(got, wantEpochs) {
						t.Fatalf("epochs %v, want %v", got, wantEpochs)
					}
				}
				check(l)
				if durable, err := l.Flush(); err != nil || durable != tt.wantEnd {
					t.Fatalf("Flush after truncation = %d, %v", durable, err)
				}
				// Appends continue at the new end, also across a restart
				// with and without a clean shutdown.
				if err := l.Epochs().Assign(3, l.EndOffset()); err != nil {
					t.Fatal(err)
				}
				wantEpochs = append(slices.Clip(wantEpochs), EpochEntry{3, l.EndOffset()})
				var more []byte
				for range 20 {
					b := makeBatch(t, 2, 100, 0)
					record.SetPartitionLeaderEpoch(b, 3)
					if _, err := l.Append(b); err != nil {
						t.Fatal(err)
					}
					more = append(more, b...)
				}
				want = append(slices.Clip(want), more...)
				tt.wantEnd += 40
				crash(l)
				l = mustOpen(t, dir, cfg)
				check(l)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = mustOpen(t, dir, cfg)
				defer l.Close()
				check(l)
			})
		}
	}
}

func TestTruncateToBeforeStart(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	appendBatches(t, l, 3, 1, 10)
	if err := l.TruncateTo(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("TruncateTo(-1) = %v", err)
	}
}

// TestTruncateRecomputesMaxTimestamp checks that the time state of a
// truncated segment reflects only the batches left.
func TestTruncateRecomputesMaxTimestamp(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	for _, ts := range []int64{100, 500, 300, 900, 200} {
		if _, err := l.Append(makeBatch(t, 1, 10, ts)); err != nil {
			t.Fatal(err)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != 900 || off != 3 {
		t.Fatalf("MaxTimestamp = %d@%d, want 900@3", ts, off)
	}
	if err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if ts, off := l.MaxTimestamp(); ts != 500 || off != 1 {
		t.Fatalf("MaxTimestamp after truncation = %d@%d, want 500@1", ts, off)
	}
	if _, _, ok, err := l.OffsetForTimestamp(501); ok || err != nil {
		t.Fatalf("OffsetForTimestamp(501) found something after truncation: %v", err)
	}
	b := makeBatch(t, 1, 10, 700)
	if _, err := l.Append(b); err != nil {
		t.Fatal(err)
	}
	h, _ := record.ReadHeader(b)
	if off, ts, ok, err := l.OffsetForTimestamp(501); !ok || err != nil || off != 3 || ts != h.MaxTimestamp {
		t.Fatalf("OffsetForTimestamp(501) = %d %d %v %v", off, ts, ok, err)
	}
}

func TestDeleteSegmentsBefore(t *testing.T) {
	batchSize := len(makeBatch(t, 2, 100, 0))
	perSeg := int64(4096 / batchSize) // batches per segment
	tests := []struct {
		name      string
		offset    int64
		wantStart int64
	}{
		{"below the second segment keeps all", 2*perSeg - 1, 0},
		{"at the second segment drops the first", 2 * perSeg, 2 * perSeg},
		{"inside the third drops two", 4*perSeg + 3, 4 * perSeg},
		{"past the end keeps the active segment", 1000, 8 * perSeg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, testConfig())
			data := appendBatches(t, l, 60, 2, 100) // 120 records, 5 segments
			if err := l.Epochs().Assign(1, 0); err != nil {
				t.Fatal(err)
			}
			if err := l.Epochs().Assign(2, 4*perSeg+2); err != nil {
				t.Fatal(err)
			}
			start, err := l.DeleteSegmentsBefore(tt.offset)
			if err != nil {
				t.Fatal(err)
			}
			if start != tt.wantStart || l.StartOffset() != tt.wantStart {
				t.Fatalf("start %d (StartOffset %d), want %d", start, l.StartOffset(), tt.wantStart)
			}
			if bases := segmentBases(t, dir); bases[0] != tt.wantStart {
				t.Fatalf("segment files start at %d, want %d", bases[0], tt.wantStart)
			}
			wantData := data[tt.wantStart/2*int64(batchSize):]
			if got := readAll(t, l, 1<<20); !bytes.Equal(got, wantData) {
				t.Fatalf("read %d bytes after deletion, want %d", len(got), len(wantData))
			}
			if l.Size() != int64(len(wantData)) {
				t.Fatalf("size %d, want %d", l.Size(), len(wantData))
			}
			if _, err := l.Read(tt.wantStart-1, 1<<20, 0); tt.wantStart > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below the start: %v, want ErrOffsetOutOfRange", err)
			}
			wantEpochs := []EpochEntry{{1, tt.wantStart}, {2, 4*perSeg + 2}}
			if tt.wantStart > 4*perSeg+2 {
				wantEpochs = []EpochEntry{{2, tt.wantStart}}
			}
			if got := l.Epochs().Entries(); !slices.Equal(got, wantEpochs) {
				t.Fatalf("epoch entries %v, want %v", got, wantEpochs)
			}
			// The deletion survives a reopen.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, testConfig())
			if l.StartOffset() != tt.wantStart || l.EndOffset() != 120 {
				t.Fatalf("reopened: start %d end %d, want %d and 120", l.StartOffset(), l.EndOffset(), tt.wantStart)
			}
		})
	}
}

func TestResetTo(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	appendBatches(t, l, 60, 2, 100) // 120 records over several segments
	if err := l.Epochs().Assign(3, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.ResetTo(5000); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 5000 || l.EndOffset() != 5000 || l.Size() != 0 || len(l.Epochs().Entries()) != 0 {
		t.Fatalf("after reset: start %d end %d size %d epochs %v", l.StartOffset(), l.EndOffset(), l.Size(), l.Epochs().Entries())
	}
	if bases := segmentBases(t, dir); !slices.Equal(bases, []int64{5000}) {
		t.Fatalf("segment files %v, want [5000]", bases)
	}
	base, err := l.Append(makeBatch(t, 2, 100, 0))
	if err != nil || base != 5000 {
		t.Fatalf("append after reset: base %d, %v", base, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, testConfig())
	if l.StartOffset() != 5000 || l.EndOffset() != 5002 {
		t.Fatalf("reopened: start %d end %d, want 5000 and 5002", l.StartOffset(), l.EndOffset())
	}
}
