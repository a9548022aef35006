package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// UndefinedEpoch and UndefinedEpochOffset are Kafka's answers to an
// OffsetsForLeaderEpoch query the history cannot answer.
const (
	UndefinedEpoch       = -1
	UndefinedEpochOffset = -1
)

// epochCheckpointVersion is the only checkpoint format version.
const epochCheckpointVersion = 0

// EpochEntry records that leader epoch Epoch began at StartOffset: the
// first batch that leader appended.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// EpochCache is a log's leader epoch history (Kafka's
// LeaderEpochFileCache), which followers use to find where their log
// diverges from the leader's (KIP-101, KIP-279). Entries are strictly
// increasing in epoch and in start offset. Every change is written to the
// checkpoint file before the method returns. It is safe for concurrent
// use.
type EpochCache struct {
	dir    string
	logEnd func() int64
	logger *slog.Logger

	mu      sync.RWMutex
	entries []EpochEntry
}

// loadEpochCache reads the checkpoint in dir. found is false when there is
// no usable checkpoint, in which case the cache starts empty and the
// caller should rebuild it from the log.
func loadEpochCache(dir string, logEnd func() int64, logger *slog.Logger) (c *EpochCache, found bool, err error) {
	c = &EpochCache{dir: dir, logEnd: logEnd, logger: logger}
	b, err := os.ReadFile(filepath.Join(dir, epochCheckpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("log: read leader epoch checkpoint: %w", err)
	}
	entries, err := parseEpochCheckpoint(b)
	if err != nil {
		logger.Warn("log: ignoring unreadable leader epoch checkpoint", "dir", dir, "err", err)
		return c, false, nil
	}
	c.entries = entries
	return c, true, nil
}

// parseEpochCheckpoint parses Kafka's leader-epoch-checkpoint format.
func parseEpochCheckpoint(b []byte) ([]EpochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	v, ok := line()
	if !ok || v != strconv.Itoa(epochCheckpointVersion) {
		return nil, fmt.Errorf("%w: leader epoch checkpoint version %q", ErrCorrupt, v)
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 || n > len(b) {
		return nil, fmt.Errorf("%w: leader epoch checkpoint entry count %q", ErrCorrupt, c)
	}
	entries := make([]EpochEntry, 0, n)
	for i := range n {
		l, ok := line()
		f := strings.Fields(l)
		if !ok || len(f) != 2 {
			return nil, fmt.Errorf("%w: leader epoch checkpoint entry %d: %q", ErrCorrupt, i, l)
		}
		epoch, err1 := strconv.ParseInt(f[0], 10, 32)
		start, err2 := strconv.ParseInt(f[1], 10, 64)
		e := EpochEntry{Epoch: int32(epoch), StartOffset: start}
		if err1 != nil || err2 != nil || e.Epoch < 0 || e.StartOffset < 0 ||
			(i > 0 && (e.Epoch <= entries[i-1].Epoch || e.StartOffset < entries[i-1].StartOffset)) {
			return nil, fmt.Errorf("%w: leader epoch checkpoint entry %d: %q", ErrCorrupt, i, l)
		}
		entries = append(entries, e)
	}
	if l, ok := line(); ok && strings.TrimSpace(l) != "" {
		return nil, fmt.Errorf("%w: leader epoch checkpoint has data after %d entries", ErrCorrupt, n)
	}
	return entries, sc.Err()
}

// marshalEpochCheckpoint formats entries in Kafka's checkpoint format.
func marshalEpochCheckpoint(entries []EpochEntry) []byte {
	var b []byte
	b = fmt.Appendf(b, "%d\n%d\n", epochCheckpointVersion, len(entries))
	for _, e := range entries {
		b = fmt.Appendf(b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b
}

// persist writes entries to the checkpoint and, once they are durable,
// makes them the cache's. The caller holds c.mu.
func (c *EpochCache) persist(entries []EpochEntry) error {
	if err := writeFileAtomic(c.dir, epochCheckpointName, marshalEpochCheckpoint(entries), true); err != nil {
		return fmt.Errorf("log: write leader epoch checkpoint: %w", err)
	}
	c.entries = entries
	return nil
}

// replace sets the whole history, as rebuilt from the log.
func (c *EpochCache) replace(entries []EpochEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.persist(slices.Clone(entries))
}

// Assign records that epoch began at startOffset, as a new leader does
// before its first append and a follower does when it sees a batch with a
// newer epoch. It does nothing if that is already the latest entry. Entries
// that the new one contradicts (a later or equal epoch, or a start offset
// at or past startOffset) are removed first, as in Kafka.
func (c *EpochCache) Assign(epoch int32, startOffset int64) error {
	if epoch < 0 || startOffset < 0 {
		return fmt.Errorf("log: invalid leader epoch entry %d@%d", epoch, startOffset)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 {
		if last := c.entries[n-1]; last.Epoch == epoch && last.StartOffset <= startOffset {
			return nil
		}
	}
	keep := len(c.entries)
	for keep > 0 && (c.entries[keep-1].Epoch >= epoch || c.entries[keep-1].StartOffset >= startOffset) {
		keep--
	}
	if removed := c.entries[keep:]; len(removed) > 1 || (len(removed) == 1 && removed[0].StartOffset != startOffset) {
		c.logger.Warn("log: new leader epoch entry replaces later entries",
			"dir", c.dir, "epoch", epoch, "start_offset", startOffset, "removed", removed)
	}
	next := append(slices.Clone(c.entries[:keep]), EpochEntry{Epoch: epoch, StartOffset: startOffset})
	return c.persist(next)
}

// Latest returns the latest epoch, if any.
func (c *EpochCache) Latest() (epoch int32, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return UndefinedEpoch, false
	}
	return c.entries[len(c.entries)-1].Epoch, true
}

// Entries returns a copy of the history, oldest first.
func (c *EpochCache) Entries() []EpochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.entries)
}

// EndOffsetFor answers OffsetsForLeaderEpoch for epoch: the largest known
// epoch at or below it, and the offset where that epoch ended, which is the
// start offset of the next known epoch, or the log end offset if the
// requested epoch is the latest. If epoch is below every known epoch, the
// answer is epoch itself and the first known start offset. If epoch is
// undefined, above the latest, or the history is empty, both are
// undefined (-1).
func (c *EpochCache) EndOffsetFor(epoch int32) (foundEpoch int32, endOffset int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	switch {
	case epoch == UndefinedEpoch || n == 0:
		return UndefinedEpoch, UndefinedEpochOffset
	case c.entries[n-1].Epoch == epoch:
		return epoch, c.logEnd()
	}
	// The first entry with an epoch above the requested one.
	i, _ := slices.BinarySearchFunc(c.entries, epoch+1, func(e EpochEntry, t int32) int {
		return int(e.Epoch) - int(t)
	})
	switch {
	case i == n:
		return UndefinedEpoch, UndefinedEpochOffset
	case i == 0:
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[i-1].Epoch, c.entries[i].StartOffset
}

// TruncateFromEnd removes the entries that start at or after endOffset,
// after the log was truncated there.
func (c *EpochCache) TruncateFromEnd(endOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := len(c.entries)
	for keep > 0 && c.entries[keep-1].StartOffset >= endOffset {
		keep--
	}
	if keep == len(c.entries) {
		return nil
	}
	return c.persist(slices.Clone(c.entries[:keep]))
}

// TruncateFromStart removes the entries that the log no longer holds after
// its start offset moved to startOffset: every entry starting at or before
// it except the last, which is moved to start at startOffset.
func (c *EpochCache) TruncateFromStart(startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset <= startOffset {
		i++
	}
	if i == 0 || (i == 1 && c.entries[0].StartOffset == startOffset) {
		return nil
	}
	next := slices.Clone(c.entries[i-1:])
	next[0].StartOffset = startOffset
	return c.persist(next)
}
