package log

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Defaults applied by Open to zero Config fields; they match Kafka's.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultIndexIntervalBytes = 4096
)

// Config tunes a Log. The zero value is usable: zero fields take the
// defaults noted on each field.
type Config struct {
	// SegmentBytes is log.segment.bytes: a new segment is rolled when a
	// batch would take the active segment past this size. A batch larger
	// than SegmentBytes gets a segment of its own. At most math.MaxInt32,
	// because index positions are 32 bits. Default DefaultSegmentBytes.
	SegmentBytes int64

	// SegmentAge is log.roll.ms: a new segment is rolled when the active
	// segment's first batch was appended longer ago than this, by the
	// broker's clock. Zero means never.
	SegmentAge time.Duration

	// IndexIntervalBytes is index.interval.bytes: the number of log bytes
	// between offset index entries, trading index size for the length of
	// the header scan that follows a lookup. Default
	// DefaultIndexIntervalBytes.
	IndexIntervalBytes int

	// Preallocate reserves disk for the active segment ahead of its data,
	// in chunks of 32 MiB up to SegmentBytes, so that appends need no block
	// allocation and fdatasync is cheaper on most file systems. It is
	// silently skipped where the file system cannot do it.
	Preallocate bool

	// Now is the clock used for time-based rolling; nil means time.Now.
	Now func() time.Time

	// Logger receives recovery reports; nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults validates c and fills in its zero fields.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.SegmentBytes < 0 || c.SegmentBytes > math.MaxInt32:
		return c, fmt.Errorf("log: segment bytes %d outside [1, %d]", c.SegmentBytes, math.MaxInt32)
	case c.SegmentAge < 0:
		return c, fmt.Errorf("log: negative segment roll time %v", c.SegmentAge)
	case c.IndexIntervalBytes < 0:
		return c, fmt.Errorf("log: negative index interval %d", c.IndexIntervalBytes)
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
