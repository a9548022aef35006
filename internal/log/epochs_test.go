package log

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spotstream/spotstream/internal/record"
)

func newTestEpochCache(t *testing.T, end int64, entries ...EpochEntry) *EpochCache {
	t.Helper()
	c, found, err := loadEpochCache(t.TempDir(), func() int64 { return end }, quietLogger)
	if err != nil || found {
		t.Fatalf("loadEpochCache: found %v, %v", found, err)
	}
	for _, e := range entries {
		if err := c.Assign(e.Epoch, e.StartOffset); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestEpochAssign(t *testing.T) {
	tests := []struct {
		name    string
		initial []EpochEntry
		epoch   int32
		start   int64
		want    []EpochEntry
	}{
		{"first", nil, 0, 0, []EpochEntry{{0, 0}}},
		{"new epoch", []EpochEntry{{0, 0}}, 2, 10, []EpochEntry{{0, 0}, {2, 10}}},
		{"same epoch later offset is a no-op", []EpochEntry{{0, 0}, {2, 10}}, 2, 20, []EpochEntry{{0, 0}, {2, 10}}},
		{"same epoch earlier offset moves it", []EpochEntry{{0, 0}, {2, 10}}, 2, 5, []EpochEntry{{0, 0}, {2, 5}}},
		{"older epoch replaces later ones", []EpochEntry{{0, 0}, {2, 10}, {3, 20}}, 1, 15, []EpochEntry{{0, 0}, {1, 15}}},
		{"newer epoch at an earlier offset", []EpochEntry{{0, 0}, {2, 10}, {3, 20}}, 4, 12, []EpochEntry{{0, 0}, {2, 10}, {4, 12}}},
		{"same start offset replaces", []EpochEntry{{0, 0}, {2, 10}}, 3, 10, []EpochEntry{{0, 0}, {3, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestEpochCache(t, 100, tt.initial...)
			if err := c.Assign(tt.epoch, tt.start); err != nil {
				t.Fatal(err)
			}
			if got := c.Entries(); !slices.Equal(got, tt.want) {
				t.Fatalf("entries %v, want %v", got, tt.want)
			}
			// What was persisted loads back the same.
			c2, found, err := loadEpochCache(c.dir, c.logEnd, quietLogger)
			if err != nil || !found || !slices.Equal(c2.Entries(), tt.want) {
				t.Fatalf("reloaded %v (found %v, %v), want %v", c2.Entries(), found, err, tt.want)
			}
		})
	}
	c := newTestEpochCache(t, 0)
	for _, bad := range []EpochEntry{{-1, 0}, {0, -1}} {
		if err := c.Assign(bad.Epoch, bad.StartOffset); err == nil {
			t.Errorf("Assign(%v) accepted", bad)
		}
	}
}

// TestEpochEndOffsetFor follows Kafka's LeaderEpochFileCache.endOffsetFor.
func TestEpochEndOffsetFor(t *testing.T) {
	const logEnd = 100
	history := []EpochEntry{{1, 0}, {3, 20}, {6, 50}}
	tests := []struct {
		name      string
		entries   []EpochEntry
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"empty history", nil, 1, UndefinedEpoch, UndefinedEpochOffset},
		{"undefined epoch", history, UndefinedEpoch, UndefinedEpoch, UndefinedEpochOffset},
		{"latest epoch ends at log end", history, 6, 6, logEnd},
		{"known epoch ends where the next starts", history, 3, 3, 50},
		{"first epoch", history, 1, 1, 20},
		{"unknown epoch between known ones", history, 4, 3, 50},
		{"unknown epoch just below latest", history, 5, 3, 50},
		{"below every epoch", history, 0, 0, 0},
		{"above latest", history, 7, UndefinedEpoch, UndefinedEpochOffset},
		{"single epoch", []EpochEntry{{2, 10}}, 2, 2, logEnd},
		{"below single epoch", []EpochEntry{{2, 10}}, 1, 1, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestEpochCache(t, logEnd, tt.entries...)
			e, off := c.EndOffsetFor(tt.epoch)
			if e != tt.wantEpoch || off != tt.wantEnd {
				t.Fatalf("EndOffsetFor(%d) = %d, %d; want %d, %d", tt.epoch, e, off, tt.wantEpoch, tt.wantEnd)
			}
		})
	}
}

func TestEpochTruncate(t *testing.T) {
	history := []EpochEntry{{1, 0}, {3, 20}, {6, 50}}
	tests := []struct {
		name      string
		fromEnd   bool
		offset    int64
		want      []EpochEntry
		wantLatst int32
	}{
		{"end past everything", true, 200, history, 6},
		{"end at last start", true, 50, history[:2], 3},
		{"end inside", true, 30, history[:2], 3},
		{"end at zero", true, 0, nil, UndefinedEpoch},
		{"start at zero", false, 0, history, 6},
		{"start inside first", false, 10, []EpochEntry{{1, 10}, {3, 20}, {6, 50}}, 6},
		{"start at a boundary", false, 20, []EpochEntry{{3, 20}, {6, 50}}, 6},
		{"start inside second", false, 30, []EpochEntry{{3, 30}, {6, 50}}, 6},
		{"start past everything", false, 70, []EpochEntry{{6, 70}}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestEpochCache(t, 100, history...)
			var err error
			if tt.fromEnd {
				err = c.TruncateFromEnd(tt.offset)
			} else {
				err = c.TruncateFromStart(tt.offset)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Entries(); !slices.Equal(got, tt.want) {
				t.Fatalf("entries %v, want %v", got, tt.want)
			}
			if e, _ := c.Latest(); e != tt.wantLatst {
				t.Fatalf("Latest = %d, want %d", e, tt.wantLatst)
			}
			c2, _, _ := loadEpochCache(c.dir, c.logEnd, quietLogger)
			if !slices.Equal(c2.Entries(), tt.want) {
				t.Fatalf("persisted %v, want %v", c2.Entries(), tt.want)
			}
		})
	}
}

func TestEpochCheckpointFormat(t *testing.T) {
	c := newTestEpochCache(t, 0, EpochEntry{0, 0}, EpochEntry{4, 1234})
	b, err := os.ReadFile(filepath.Join(c.dir, epochCheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0\n2\n0 0\n4 1234\n"; string(b) != want {
		t.Fatalf("checkpoint %q, want %q", b, want)
	}
	for _, bad := range []string{
		"", "1\n0\n", "0\n2\n0 0\n", "0\n1\n0\n", "0\n1\nx 1\n", "0\n2\n3 10\n2 20\n",
		"0\n2\n2 20\n3 10\n", "0\n1\n0 0\nextra\n", "0\n-1\n", "0\n1\n-1 0\n",
	} {
		if _, err := parseEpochCheckpoint([]byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("parse(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
	if e, err := parseEpochCheckpoint([]byte("0\n0\n")); err != nil || len(e) != 0 {
		t.Errorf("empty checkpoint: %v %v", e, err)
	}
}

// TestEpochRecovery checks the log's side: entries past the end are dropped
// on open, epochs in recovered batches are added, and a lost checkpoint is
// rebuilt from the batches.
func TestEpochRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := mustOpen(t, dir, cfg)
	appendWithEpoch := func(epoch int32, n int) {
		for range n {
			b := makeBatch(t, 2, 50, 0)
			record.SetPartitionLeaderEpoch(b, epoch)
			if _, err := l.Append(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Epochs().Assign(1, 0); err != nil {
		t.Fatal(err)
	}
	appendWithEpoch(1, 40)
	if err := l.Epochs().Assign(2, 80); err != nil {
		t.Fatal(err)
	}
	appendWithEpoch(2, 10)
	// Epoch 3 appended, then the process dies before recording it.
	appendWithEpoch(3, 5)
	crash(l)
	l = mustOpen(t, dir, cfg)
	want := []EpochEntry{{1, 0}, {2, 80}, {3, 100}}
	if got := l.Epochs().Entries(); !slices.Equal(got, want) {
		t.Fatalf("recovered epochs %v, want %v", got, want)
	}
	// An entry past the end, as left by a crash between Assign and the
	// first append, is dropped.
	if err := l.Epochs().Assign(4, l.EndOffset()+10); err != nil {
		t.Fatal(err)
	}
	crash(l)
	l = mustOpen(t, dir, cfg)
	if got := l.Epochs().Entries(); !slices.Equal(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, epochCheckpointName)); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, cfg)
	defer l.Close()
	if got := l.Epochs().Entries(); !slices.Equal(got, want) {
		t.Fatalf("rebuilt epochs %v, want %v", got, want)
	}
}
