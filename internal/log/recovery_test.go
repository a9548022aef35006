package log

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spotstream/spotstream/internal/record"
)

// TestRecovery damages the tail of the active segment the ways a crash
// can and checks that Open keeps exactly the valid prefix and that appends
// continue from there.
func TestRecovery(t *testing.T) {
	const batches = 20
	tests := []struct {
		name string
		// damage edits the active segment's bytes (data only: the
		// preallocated zeros beyond are not included) and returns them
		// with the number of intact batches left.
		damage func(data []byte, starts []int) ([]byte, int)
	}{
		{"intact", func(d []byte, s []int) ([]byte, int) { return d, len(s) }},
		{"torn last batch", func(d []byte, s []int) ([]byte, int) { return d[:len(d)-7], len(s) - 1 }},
		{"torn header", func(d []byte, s []int) ([]byte, int) { return d[:s[len(s)-1]+20], len(s) - 1 }},
		{"only length field", func(d []byte, s []int) ([]byte, int) { return d[:s[len(s)-1]+12], len(s) - 1 }},
		{"garbage appended", func(d []byte, s []int) ([]byte, int) {
			return append(d, bytes.Repeat([]byte{0xa5}, 300)...), len(s)
		}},
		{"zeros appended", func(d []byte, s []int) ([]byte, int) { return append(d, make([]byte, 5000)...), len(s) }},
		{"bit flip in last batch body", func(d []byte, s []int) ([]byte, int) {
			d[len(d)-3] ^= 0x40
			return d, len(s) - 1
		}},
		{"bit flip in middle batch", func(d []byte, s []int) ([]byte, int) {
			d[s[5]+record.HeaderSize+2] ^= 1
			return d, 5
		}},
		{"wrong base offset", func(d []byte, s []int) ([]byte, int) {
			record.SetBaseOffset(d[s[7]:], 12345)
			return d, 7
		}},
		{"length grows past the file", func(d []byte, s []int) ([]byte, int) {
			d[s[9]+9] = 0x7f
			return d, 9
		}},
		{"first batch destroyed", func(d []byte, s []int) ([]byte, int) {
			copy(d, make([]byte, 30))
			return d, 0
		}},
		{"empty file", func(d []byte, s []int) ([]byte, int) { return d[:0], 0 }},
		{"valid batch with a gap after torn one", func(d []byte, s []int) ([]byte, int) {
			// A whole batch at the end following a torn one must not be
			// resurrected.
			last := bytes.Clone(d[s[len(s)-1]:])
			d = append(d[:s[len(s)-1]+30], last...)
			return d, len(s) - 1
		}},
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
				cfg.SegmentBytes = 1 << 20 // one segment: all batches in the active one
				cfg.Preallocate = prealloc
				l := mustOpen(t, dir, cfg)
				var starts []int
				var data []byte
				for i := range batches {
					starts = append(starts, len(data))
					data = append(data, appendBatches(t, l, 1, 1+i%3, 20+i)...)
				}
				path := activePath(l)
				crash(l)

				damaged, keep := tt.damage(bytes.Clone(data), starts)
				if prealloc {
					// What a crash leaves: data, then the rest of the
					// preallocated zeros.
					damaged = append(damaged, make([]byte, int(cfg.SegmentBytes)-len(damaged))...)
				}
				if err := os.WriteFile(path, damaged, 0o644); err != nil {
					t.Fatal(err)
				}

				l = mustOpen(t, dir, cfg)
				defer l.Close()
				wantEnd, wantSize := int64(0), 0
				for i := range keep {
					wantEnd += int64(1 + i%3)
				}
				if keep > 0 {
					wantSize = len(data)
					if keep < len(starts) {
						wantSize = starts[keep]
					}
				}
				if l.EndOffset() != wantEnd || l.Size() != int64(wantSize) {
					t.Fatalf("recovered end %d size %d, want %d %d", l.EndOffset(), l.Size(), wantEnd, wantSize)
				}
				if got := readAll(t, l, 1<<20); !bytes.Equal(got, data[:wantSize]) {
					t.Fatal("recovered data differs from the valid prefix")
				}
				more := appendBatches(t, l, 3, 2, 10)
				if got := readAll(t, l, 1<<20); !bytes.Equal(got, append(data[:wantSize:wantSize], more...)) {
					t.Fatal("appends after recovery differ")
				}
				// Recovery again after a clean close finds the same thing.
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = mustOpen(t, dir, cfg)
				if l.EndOffset() != wantEnd+6 {
					t.Fatalf("end after reopen %d, want %d", l.EndOffset(), wantEnd+6)
				}
			})
		}
	}
}

// TestRecoveryWarns checks that a truncated tail is reported, and that the
// zeros of preallocated space are not.
func TestRecoveryWarns(t *testing.T) {
	for _, tt := range []struct {
		name string
		tail []byte
		warn bool
	}{
		{"garbage", []byte("garbage that is not a batch header at all, long enough for one"), true},
		{"zeros", make([]byte, 100), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, testConfig())
			appendBatches(t, l, 3, 1, 10)
			path := activePath(l)
			crash(l)
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tt.tail)
			f.Close()

			var buf syncBuffer
			cfg := testConfig()
			cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
			l = mustOpen(t, dir, cfg)
			defer l.Close()
			out := buf.String()
			if got := strings.Contains(out, "level=WARN"); got != tt.warn {
				t.Fatalf("warned = %v, want %v; log:\n%s", got, tt.warn, out)
			}
			if tt.warn && !strings.Contains(out, "truncated_bytes="+strconv.Itoa(len(tt.tail))) {
				t.Fatalf("warning does not give the truncated byte count:\n%s", out)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestRecoveryAcrossSegments checks that rolled segments are trusted while
// the active one is recovered, across several segments.
func TestRecoveryAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := mustOpen(t, dir, cfg)
	data := appendBatches(t, l, 100, 2, 60)
	path := activePath(l)
	crash(l)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, cfg)
	defer l.Close()
	batch := len(makeBatch(t, 2, 60, 0))
	if l.EndOffset() != 198 || l.Size() != int64(len(data)-batch) {
		t.Fatalf("end %d size %d, want 198 %d", l.EndOffset(), l.Size(), len(data)-batch)
	}
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, data[:len(data)-batch]) {
		t.Fatal("data differs")
	}
}

// TestRebuildIndexes checks that rolled segments whose index files are
// missing or damaged get them rebuilt, and that lookups stay right.
func TestRebuildIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := mustOpen(t, dir, cfg)
	data := appendBatches(t, l, 100, 2, 60)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	bases := segmentBases(t, dir)
	if len(bases) < 4 {
		t.Fatalf("want several segments, have %v", bases)
	}
	orig, err := os.ReadFile(segmentPath(dir, bases[1], indexSuffix))
	if err != nil || len(orig) == 0 {
		t.Fatalf("index of rolled segment: %d bytes, %v", len(orig), err)
	}
	os.Remove(segmentPath(dir, bases[0], indexSuffix))
	os.Remove(segmentPath(dir, bases[1], timeIndexSuffix))
	garbage := bytes.Clone(orig)
	garbage[3] ^= 0xff
	os.WriteFile(segmentPath(dir, bases[2], indexSuffix), garbage, 0o644)
	os.WriteFile(segmentPath(dir, bases[3], indexSuffix), orig[:5], 0o644)

	l = mustOpen(t, dir, cfg)
	defer l.Close()
	if got := readAll(t, l, 700); !bytes.Equal(got, data) {
		t.Fatal("data differs after index rebuild")
	}
	for _, b := range bases[:2] {
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if _, err := os.Stat(segmentPath(dir, b, suffix)); err != nil {
				t.Fatalf("missing index not rebuilt: %v", err)
			}
		}
	}
	if got, _ := os.ReadFile(segmentPath(dir, bases[2], indexSuffix)); !bytes.Equal(got, orig) && len(got) != len(orig) {
		t.Fatalf("damaged index not rebuilt")
	}
	for off := int64(0); off < l.EndOffset(); off += 7 {
		b, err := l.Read(off, 1, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		h, _ := record.ReadHeader(b)
		if h.BaseOffset > off || h.LastOffset() < off {
			t.Fatalf("Read(%d) returned batch %d-%d", off, h.BaseOffset, h.LastOffset())
		}
	}
}

// TestCleanMarkerWithBadActive checks that a marker does not make Open
// trust a last segment whose data does not parse.
func TestCleanMarkerWithBadActive(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, testConfig())
	data := appendBatches(t, l, 5, 1, 10)
	path := activePath(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("not a batch"))
	f.Close()
	l = mustOpen(t, dir, testConfig())
	defer l.Close()
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, data) || l.EndOffset() != 5 {
		t.Fatalf("end %d, data equal %v", l.EndOffset(), bytes.Equal(got, data))
	}
}

// FuzzRecovery damages the active segment of a valid log as the fuzzer
// chooses and checks that Open recovers a valid prefix of it.
func FuzzRecovery(f *testing.F) {
	f.Add(uint16(0), uint16(0), []byte{})
	f.Add(uint16(100), uint16(0), []byte{})
	f.Add(uint16(0xffff), uint16(61), []byte{0xff, 0xff})
	f.Add(uint16(0xffff), uint16(500), []byte("garbage"))
	f.Add(uint16(300), uint16(300), make([]byte, 64))
	f.Add(uint16(0xffff), uint16(8), []byte{0, 0, 0, 0})
	// One valid log, copied for each input: building it costs syncs.
	template := f.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	l := mustOpen(f, template, cfg)
	var orig []byte
	for i := range 12 {
		orig = append(orig, appendBatches(f, l, 1, 1+i%4, 10+i*7)...)
	}
	origEnd := l.EndOffset()
	activeName := filepath.Base(activePath(l))
	crash(l)

	f.Fuzz(func(t *testing.T, cut, at uint16, patch []byte) {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(template)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, activeName)
		active, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		prefix := len(orig) - len(active) // bytes in rolled segments
		damaged := bytes.Clone(active)
		if int(cut) < len(damaged) {
			damaged = damaged[:cut]
		}
		if int(at) <= len(damaged) {
			damaged = append(damaged[:at], append(patch, damaged[min(int(at)+len(patch), len(damaged)):]...)...)
		}
		if err := os.WriteFile(path, damaged, 0o644); err != nil {
			t.Fatal(err)
		}

		l, err := Open(dir, cfg)
		if err != nil {
			t.Fatalf("Open after damage: %v", err)
		}
		defer l.Close()
		if l.EndOffset() > origEnd {
			t.Fatalf("end offset grew from %d to %d", origEnd, l.EndOffset())
		}
		got := readAll(t, l, 1<<20)
		if int(l.Size()) != len(got) {
			t.Fatalf("Size %d, read %d bytes", l.Size(), len(got))
		}
		if len(got) < prefix || len(got) > len(orig) {
			t.Fatalf("recovered %d bytes; rolled segments hold %d, log held %d", len(got), prefix, len(orig))
		}
		// The survivors are the original bytes, except that the leader
		// epoch field is outside the CRC, so damage there cannot be seen.
		for i := range got {
			if got[i] != orig[i] && !inEpochField(orig, i) {
				t.Fatalf("recovered byte %d is %#x, was %#x", i, got[i], orig[i])
			}
		}
		if lastNext(t, got) != l.EndOffset() && len(got) > 0 {
			t.Fatalf("end offset %d does not follow the data", l.EndOffset())
		}
		next := l.EndOffset()
		if _, err := l.Append(makeBatch(t, 2, 5, 0)); err != nil {
			t.Fatal(err)
		}
		if b, err := l.Read(next, 1<<20, l.EndOffset()); err != nil || lastNext(t, b) != next+2 {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}

// inEpochField reports whether byte i of a run of batches falls in a
// batch's partition leader epoch field.
func inEpochField(batches []byte, i int) bool {
	for pos := 0; pos < len(batches); {
		h, _ := record.ReadHeader(batches[pos:])
		if i < pos+h.Size() {
			return i >= pos+12 && i < pos+16
		}
		pos += h.Size()
	}
	return false
}
