// Package record reads and checks Kafka RecordBatch v2 (magic 2) bytes.
//
// The broker stores producer batches exactly as they arrive, so this
// package works on byte slices: it parses and validates the fixed batch
// header, stamps the two fields the broker owns, and, on rare paths only,
// decompresses and decodes the records inside a batch.
//
// # Batch layout
//
// All integers are big endian. The header is HeaderSize (61) bytes:
//
//	offset size field
//	     0    8 baseOffset            stamped by the leader, not covered by crc
//	     8    4 batchLength           bytes after this field (total size - 12)
//	    12    4 partitionLeaderEpoch  stamped by the leader, not covered by crc
//	    16    1 magic                 always 2
//	    17    4 crc                   CRC-32C (Castagnoli) of bytes [21, end)
//	    21    2 attributes            see below
//	    23    4 lastOffsetDelta       recordCount - 1 for batches as produced
//	    27    8 baseTimestamp
//	    35    8 maxTimestamp
//	    43    8 producerId            -1 when not idempotent
//	    51    2 producerEpoch
//	    53    4 baseSequence          -1 when not idempotent
//	    57    4 recordCount
//	    61    - records               possibly compressed as a whole
//
// Attribute bits:
//
//	bits 0-2  compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
//	bit  3    timestamp type: 1 means LogAppendTime (maxTimestamp applies to every record)
//	bit  4    transactional
//	bit  5    control batch (transaction markers)
//	bit  6    delete horizon set (log compaction); ignored here
//
// # Record layout
//
// After decompression the records section is recordCount records, each:
//
//	length          varint  bytes of the record after this field
//	attributes      int8    unused
//	timestampDelta  varlong relative to baseTimestamp
//	offsetDelta     varint  relative to baseOffset
//	keyLength       varint  -1 for a null key
//	key             bytes
//	valueLength     varint  -1 for a null value
//	value           bytes
//	headerCount     varint
//	headers         headerCount times: keyLength varint, key, valueLength varint (-1 null), value
//
// Varints use zigzag encoding, as in encoding/binary.Varint.
//
// Snappy payloads are either a raw snappy block or, as the Java client
// writes them, xerial framing: the 8-byte magic "\x82SNAPPY\x00", two
// int32 versions, then chunks of int32 length plus a snappy block. LZ4
// payloads use the LZ4 frame format.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// HeaderSize is the size of a RecordBatch v2 header, up to the records.
const HeaderSize = 61

// lengthFieldEnd is the size of the two fields that precede batchLength's
// coverage (baseOffset and batchLength): a batch is lengthFieldEnd +
// batchLength bytes long.
const lengthFieldEnd = 12

// minBatchLength is the smallest valid batchLength: a header with no records.
const minBatchLength = HeaderSize - lengthFieldEnd

// Magic is the only batch format version this package understands.
const Magic = 2

// Field offsets within the header.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57
)

// Attribute bits.
const (
	codecMask        = 0x07
	timestampTypeBit = 0x08
	transactionalBit = 0x10
	controlBit       = 0x20
)

// ErrCorrupt marks every error caused by malformed batch bytes; check it
// with errors.Is.
var ErrCorrupt = errors.New("record: corrupt batch")

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Codec is the compression codec of a batch (attribute bits 0-2).
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns the codec's name as Kafka's compression.type spells it.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("Codec(%d)", int8(c))
}

// known reports whether c is one of the codecs Kafka defines.
func (c Codec) known() bool { return c >= CodecNone && c <= CodecZstd }

// Header is the parsed fixed header of a batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // batchLength: bytes after this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the compression codec of the records section.
func (h Header) Codec() Codec { return Codec(h.Attributes & codecMask) }

// LogAppendTime reports whether the batch's timestamps were set by the
// broker; if so MaxTimestamp is the timestamp of every record.
func (h Header) LogAppendTime() bool { return h.Attributes&timestampTypeBit != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h Header) Transactional() bool { return h.Attributes&transactionalBit != 0 }

// Control reports whether the batch holds control records (transaction
// markers) rather than user data.
func (h Header) Control() bool { return h.Attributes&controlBit != 0 }

// LastOffset returns the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset returns the offset that follows the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Size returns the total size of the batch in bytes.
func (h Header) Size() int { return lengthFieldEnd + int(h.Length) }

// NoSequence is the BaseSequence of batches from non-idempotent producers.
const NoSequence = -1

// LastSequence returns the sequence number of the batch's last record, or
// NoSequence. Sequences wrap from MaxInt32 to 0, as in Kafka.
func (h Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncrementSequence returns seq advanced by n (n >= 0), wrapping past
// MaxInt32 to 0 the way Kafka producers do.
func IncrementSequence(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// ReadHeader parses the header at the start of b without checking the
// CRC. It fails if b is shorter than HeaderSize, if the magic is not 2, or
// if batchLength is too small to hold the header; it does not require b to
// hold the whole batch.
func ReadHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, corruptf("short header: %d bytes, need %d", len(b), HeaderSize)
	}
	be := binary.BigEndian
	h := Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offRecordCount:])),
	}
	if h.Magic != Magic {
		return Header{}, corruptf("magic %d, want %d", h.Magic, Magic)
	}
	// Checked here rather than only in Validate so that anyone walking a
	// run of batches by Size() always makes progress.
	if h.Length < minBatchLength {
		return Header{}, corruptf("batch length %d below minimum %d", h.Length, minBatchLength)
	}
	return h, nil
}

// SetBaseOffset stamps the batch's base offset in place. The field is not
// covered by the CRC. b must be at least 8 bytes long.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch stamps the batch's partition leader epoch in
// place. The field is not covered by the CRC. b must be at least 16 bytes
// long.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}
