package record

import "encoding/binary"

// Build encodes records as one uncompressed RecordBatch v2 with base offset
// 0, no producer (id -1) and every record stamped ts: the batches the
// broker writes itself, such as group coordinator state. Offsets and
// headers of the given records are ignored; records get consecutive
// offsets from 0. At least one record is required.
func Build(records []Record, ts int64) []byte {
	b := make([]byte, HeaderSize, HeaderSize+32*len(records))
	for i, r := range records {
		b = appendRecord(b, int64(i), r)
	}
	binary.BigEndian.PutUint64(b[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-lengthFieldEnd))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = Magic
	binary.BigEndian.PutUint16(b[offAttributes:], 0)
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(len(records)-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(b[offProducerID:], 0xffffffffffffffff)
	binary.BigEndian.PutUint16(b[offProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(records)))
	binary.BigEndian.PutUint32(b[offCRC:], Checksum(b))
	return b
}

// appendRecord appends one record with the given offset delta and a
// timestamp delta of 0.
func appendRecord(b []byte, delta int64, r Record) []byte {
	var body []byte
	body = append(body, 0) // attributes
	body = binary.AppendVarint(body, 0)
	body = binary.AppendVarint(body, delta)
	body = appendVarBytes(body, r.Key)
	body = appendVarBytes(body, r.Value)
	body = binary.AppendVarint(body, 0) // no headers
	b = binary.AppendVarint(b, int64(len(body)))
	return append(b, body...)
}

// appendVarBytes appends a varint length (-1 for nil) and the bytes.
func appendVarBytes(b, p []byte) []byte {
	if p == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(p)))
	return append(b, p...)
}
