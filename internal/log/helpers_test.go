package log

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// makeBatch returns an uncompressed batch of n records with values of
// valueSize bytes, record timestamps ts, ts+1, ..., and base offset 0.
func makeBatch(tb testing.TB, n, valueSize int, ts int64) []byte {
	tb.Helper()
	var raw []byte
	for i := range n {
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte{byte(i)},
			Value:            bytes.Repeat([]byte{byte('a' + i%26)}, valueSize),
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		raw = r.AppendTo(raw)
	}
	rb := kmsg.RecordBatch{
		Length:          int32(record.HeaderSize - 12 + len(raw)),
		Magic:           2,
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  ts,
		MaxTimestamp:    ts + int64(n-1),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(n),
		Records:         raw,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], record.Checksum(b))
	if _, err := record.Validate(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// fakeClock is a manually advanced clock for time-based rolling.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// quietLogger discards log output.
var quietLogger = slog.New(slog.DiscardHandler)

// testConfig returns a config with small segments and indexes for tests.
func testConfig() Config {
	return Config{SegmentBytes: 4096, IndexIntervalBytes: 256, Logger: quietLogger}
}

func mustOpen(tb testing.TB, dir string, cfg Config) *Log {
	tb.Helper()
	l, err := Open(dir, cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return l
}

// appendBatches appends count batches of n records and returns the bytes
// appended, which are what the log must hold afterwards.
func appendBatches(tb testing.TB, l *Log, count, n, valueSize int) []byte {
	tb.Helper()
	var all []byte
	for i := range count {
		b := makeBatch(tb, n, valueSize, 1000*int64(i))
		want := l.EndOffset()
		base, err := l.Append(b)
		if err != nil {
			tb.Fatalf("Append: %v", err)
		}
		if base != want {
			tb.Fatalf("Append base offset %d, want %d", base, want)
		}
		all = append(all, b...)
	}
	return all
}

// readAll returns every batch in the log, reading from the start in
// steps of maxBytes.
func readAll(tb testing.TB, l *Log, maxBytes int) []byte {
	tb.Helper()
	var all []byte
	for off := l.StartOffset(); off < l.EndOffset(); {
		b, err := l.Read(off, maxBytes, l.EndOffset())
		if err != nil {
			tb.Fatalf("Read(%d): %v", off, err)
		}
		if len(b) == 0 {
			tb.Fatalf("Read(%d) returned nothing before the end %d", off, l.EndOffset())
		}
		all = append(all, b...)
		off = lastNext(tb, b)
	}
	return all
}

// lastNext checks that b is whole, contiguous, valid batches and returns
// the offset after the last one.
func lastNext(tb testing.TB, b []byte) int64 {
	tb.Helper()
	next := int64(-1)
	for len(b) > 0 {
		h, err := record.ReadHeader(b)
		if err != nil || h.Size() > len(b) {
			tb.Fatalf("bad batch: %v (size %d, %d left)", err, h.Size(), len(b))
		}
		if _, err := record.Validate(b[:h.Size()]); err != nil {
			tb.Fatal(err)
		}
		if next >= 0 && h.BaseOffset != next {
			tb.Fatalf("batch at %d follows %d", h.BaseOffset, next)
		}
		next = h.NextOffset()
		b = b[h.Size():]
	}
	return next
}

// crash abandons l as a killed process would: no flush, no indexes, no
// marker. The page cache keeps what was written, as it does when only the
// process dies.
func crash(l *Log) {
	l.closed.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		s.f.Close()
	}
	l.segs = nil
}

// activePath returns the path of the active segment's .log file.
func activePath(l *Log) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.active()
	return segmentPath(l.dir, s.base, logSuffix)
}

// segmentBases lists the segments' base offsets as found on disk.
func segmentBases(tb testing.TB, dir string) []int64 {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var bases []int64
	for _, e := range ents {
		if base, suffix, ok := parseSegmentFileName(e.Name()); ok && suffix == logSuffix {
			bases = append(bases, base)
		}
	}
	return bases
}
