package record

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is the CRC-32C table Kafka uses for batch checksums; it is
// hardware accelerated on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C that the crc field of batch b must hold:
// the checksum of everything from the attributes to the end. b must be at
// least HeaderSize bytes long.
func Checksum(b []byte) uint32 {
	return crc32.Checksum(b[offAttributes:], castagnoli)
}

// Validate checks that b is exactly one well-formed batch and returns its
// header. It checks the magic, that batchLength matches len(b), the CRC,
// that the batch holds at least one record, that lastOffsetDelta is
// recordCount-1, and that the codec is known. It does not decompress or
// look at individual records: that is the client's business, and per-record
// work has no place on the append path. Every error wraps ErrCorrupt.
func Validate(b []byte) (Header, error) {
	h, err := ReadHeader(b)
	if err != nil {
		return Header{}, err
	}
	if h.Size() != len(b) {
		return Header{}, corruptf("batch length %d does not match %d bytes given", h.Size(), len(b))
	}
	if crc := Checksum(b); crc != h.CRC {
		return Header{}, corruptf("crc 0x%08x, computed 0x%08x", h.CRC, crc)
	}
	// The CRC passed, so any remaining problem was written by the producer,
	// not by the disk or the network.
	if h.NumRecords < 1 {
		return Header{}, corruptf("record count %d, want at least 1", h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return Header{}, corruptf("last offset delta %d with %d records", h.LastOffsetDelta, h.NumRecords)
	}
	if !h.Codec().known() {
		return Header{}, corruptf("unknown compression codec %d", int8(h.Codec()))
	}
	return h, nil
}

// SetLogAppendTime marks whole batch b as timestamped by the broker at ts
// (message.timestamp.type=LogAppendTime): it sets the timestamp type bit
// and maxTimestamp, which then applies to every record, and recomputes the
// CRC, since both fields are covered by it. Records inside are untouched,
// as in Kafka.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], attrs|timestampTypeBit)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], Checksum(b))
}
