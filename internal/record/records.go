package record

import (
	"encoding/binary"
	"fmt"
)

// DefaultMaxDecompressed bounds the decompressed size of one batch in
// Records. Kafka's default max.message.bytes is about 1 MiB, so a batch
// that inflates beyond this is almost certainly a decompression bomb.
const DefaultMaxDecompressed = 64 << 20

// Record is one decoded record. Key, Value and header values alias the
// decompressed payload (or the batch itself when uncompressed); copy them
// to keep them past the batch's lifetime.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
	Headers   []RecordHeader
}

// RecordHeader is one record header.
type RecordHeader struct {
	Key   string
	Value []byte // nil for a null value
}

// minRecordSize is the smallest encoding of a record: a one-byte length
// followed by six one-byte fields. It bounds how many records a payload
// can hold, so a lying recordCount cannot make us allocate.
const minRecordSize = 7

// Records decompresses batch b and decodes its records, bounding the
// decompressed size by DefaultMaxDecompressed. b must hold exactly one
// batch; the CRC is not checked (call Validate first when the bytes are
// untrusted). This is for rare paths such as timestamp lookups: the append
// and fetch paths never look inside batches.
func Records(b []byte) ([]Record, error) {
	return RecordsLimit(b, DefaultMaxDecompressed)
}

// RecordsLimit is Records with an explicit bound on the decompressed size
// of the records section.
func RecordsLimit(b []byte, limit int) ([]Record, error) {
	h, err := ReadHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Size() != len(b) {
		return nil, corruptf("batch length %d does not match %d bytes given", h.Size(), len(b))
	}
	if h.NumRecords < 0 {
		return nil, corruptf("record count %d", h.NumRecords)
	}
	payload, err := decompress(h.Codec(), b[HeaderSize:], limit)
	if err != nil {
		return nil, err
	}
	n := int(h.NumRecords)
	if max := len(payload) / minRecordSize; n > max {
		return nil, corruptf("record count %d does not fit in %d bytes", n, len(payload))
	}
	recs := make([]Record, n)
	d := decoder{b: payload}
	for i := range recs {
		if err := d.record(&h, &recs[i]); err != nil {
			return nil, fmt.Errorf("%w (record %d of %d)", err, i, n)
		}
	}
	if len(d.b) != 0 {
		return nil, corruptf("%d bytes after the last of %d records", len(d.b), n)
	}
	return recs, nil
}

// decoder consumes varint-encoded fields from b.
type decoder struct {
	b []byte
}

func (d *decoder) varlong() (int64, error) {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		return 0, corruptf("bad varint")
	}
	d.b = d.b[n:]
	return v, nil
}

func (d *decoder) varint() (int32, error) {
	v, err := d.varlong()
	if err != nil {
		return 0, err
	}
	if v != int64(int32(v)) {
		return 0, corruptf("varint %d overflows int32", v)
	}
	return int32(v), nil
}

// bytes reads a varint length followed by that many bytes; a length of -1
// yields nil.
func (d *decoder) bytes() ([]byte, error) {
	n, err := d.varint()
	if err != nil {
		return nil, err
	}
	switch {
	case n == -1:
		return nil, nil
	case n < -1 || int(n) > len(d.b):
		return nil, corruptf("field length %d with %d bytes left", n, len(d.b))
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v, nil
}

// record decodes one record into r, checking that its length prefix covers
// exactly the fields it holds.
func (d *decoder) record(h *Header, r *Record) error {
	length, err := d.varint()
	if err != nil {
		return err
	}
	if length < 0 || int(length) > len(d.b) {
		return corruptf("record length %d with %d bytes left", length, len(d.b))
	}
	rest := d.b[length:]
	d.b = d.b[:length]
	if len(d.b) < 1 {
		return corruptf("record too short")
	}
	d.b = d.b[1:] // attributes: unused
	tsDelta, err := d.varlong()
	if err != nil {
		return err
	}
	offDelta, err := d.varint()
	if err != nil {
		return err
	}
	if r.Key, err = d.bytes(); err != nil {
		return err
	}
	if r.Value, err = d.bytes(); err != nil {
		return err
	}
	nh, err := d.varint()
	if err != nil {
		return err
	}
	if nh < 0 || int(nh) > len(d.b)/2 {
		return corruptf("header count %d with %d bytes left", nh, len(d.b))
	}
	if nh > 0 {
		r.Headers = make([]RecordHeader, nh)
		for i := range r.Headers {
			k, err := d.bytes()
			if err != nil {
				return err
			}
			if k == nil {
				return corruptf("null header key")
			}
			r.Headers[i].Key = string(k)
			if r.Headers[i].Value, err = d.bytes(); err != nil {
				return err
			}
		}
	}
	if len(d.b) != 0 {
		return corruptf("record length %d leaves %d bytes unread", length, len(d.b))
	}
	d.b = rest

	r.Offset = h.BaseOffset + int64(offDelta)
	if h.LogAppendTime() {
		r.Timestamp = h.MaxTimestamp
	} else {
		r.Timestamp = h.BaseTimestamp + tsDelta
	}
	return nil
}
