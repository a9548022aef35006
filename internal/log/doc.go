// Package log stores one partition's log: record batches in segment files,
// laid out on disk the way Kafka lays them out.
//
// # Directory
//
// Each partition has its own directory (the caller picks it, usually
// <topic>-<partition>). The package owns these names in it:
//
//	00000000000000000000.log        batches, back to back
//	00000000000000000000.index      sparse offset index of that segment
//	00000000000000000000.timeindex  sparse time index of that segment
//	leader-epoch-checkpoint         leader epoch history
//	.clean-shutdown                 present only after a clean Close
//	*.tmp                           temporary files, deleted by Open
//
// The number in a segment's file names is the segment's base offset (the
// offset of its first batch) in decimal, zero padded to 20 digits so that
// names sort by offset. Other files in the directory are left alone.
//
// # Segment files (.log)
//
// A .log file is a sequence of RecordBatch v2 batches stored exactly as
// received, with their base offset and partition leader epoch stamped (see
// package record for the layout). Offsets are contiguous: each batch starts
// at the offset that follows the previous batch, and the first batch starts
// at the segment's base offset. When preallocation is on, the active
// segment's file is reserved ahead of its data in 32 MiB chunks and is
// longer than its data, the rest being zeros; rolled
// segments and cleanly closed active segments are trimmed to their data.
//
// # Offset index (.index)
//
// Entries of 8 bytes, big endian:
//
//	relativeOffset uint32  batch base offset - segment base offset
//	position       uint32  byte position of that batch in the .log file
//
// One entry is added for the first batch written after more than
// IndexIntervalBytes of log since the previous entry. Entries are strictly
// increasing in both fields. An entry names a batch start, so the largest
// entry at or below an offset gives a position at or before the batch that
// holds it; readers scan batch headers forward from there. (Kafka writes
// the batch's last offset rather than its base offset; both are lower
// bounds for a forward scan, which is all either reader assumes.)
//
// # Time index (.timeindex)
//
// Entries of 12 bytes, big endian:
//
//	timestamp      int64   largest batch MaxTimestamp seen so far in the segment
//	relativeOffset uint32  base offset of the first batch that reached it
//
// An entry is added at the same points as offset index entries, only when
// the largest timestamp has grown since the previous entry, and once more
// when the segment is rolled or closed, so the last entry holds the
// segment's largest timestamp. Every batch before the entry's batch has
// smaller timestamps, which is what makes the index usable for
// "first record with timestamp >= t" lookups.
//
// Index files are caches: they are written from memory when a segment is
// rolled and when the log is closed, and rebuilt from the .log file
// whenever they are missing or fail validation.
//
// # Leader epoch checkpoint
//
// Kafka's text format: a line "0" (the version), a line with the number of
// entries, then one "epoch startOffset" line per entry, in epoch order. It
// is replaced atomically (temporary file, fsync, rename, directory fsync)
// whenever the history changes.
//
// # Durability and recovery
//
// Append writes with pwrite and does not sync; Flush makes everything
// appended so far durable with fdatasync, and a Syncer batches Flush calls
// across partitions. Rolling a segment trims and syncs it, writes its
// indexes and syncs them, and only then creates the next segment, so after
// a crash only the last segment can have a torn tail. Close syncs
// everything and writes .clean-shutdown; Open removes it. When Open finds
// no marker it scans the last segment from the start, validating every
// batch (CRC and offset continuity), truncates the file at the first batch
// that fails, and rebuilds that segment's indexes.
//
// # Concurrency
//
// Append, AppendReplicated, TruncateTo and Close must not be called
// concurrently with one another: the owner of the partition serializes
// them. Read, Batches, OffsetForTimestamp, MaxTimestamp, Flush and the
// offset and size accessors may be called from any goroutine at any time,
// including during an append.
//
// Lock order: Log.flushMu, Log.mu, segment.loadMu, segment.mu, and
// EpochCache.mu last. Log.flushMu serializes flushes. Log.mu guards the
// segment list and is held shared for as long as any segment file is used,
// so that files are closed or truncated only under the exclusive lock,
// which rolls take only to add a segment. segment.mu guards a segment's
// size, next offset and in-memory indexes; it is held only in memory,
// except while indexes are first loaded. Appends write without holding
// Log.mu and publish the new end offset afterwards, so readers never wait
// for the disk on the appender's behalf and the appender waits for readers
// only when it rolls.
package log
