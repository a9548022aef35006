package record

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch describes a batch for makeBatch. Records get offset deltas
// 0..n-1 and the timestamp deltas given.
type testBatch struct {
	codec      Codec
	xerial     bool // frame snappy the way the Java client does
	attrs      int16
	baseOffset int64
	epoch      int32
	baseTS     int64
	producerID int64
	baseSeq    int32
	records    []kmsg.Record
}

// makeBatch encodes tb with kmsg.RecordBatch and fills in the CRC.
func makeBatch(tb testing.TB, b testBatch) []byte {
	tb.Helper()
	var raw []byte
	maxTS := b.baseTS
	for i := range b.records {
		r := b.records[i]
		r.OffsetDelta = int32(i)
		r.Length = 0
		r.Length = int32(len(r.AppendTo(nil)) - 1) // minus the one-byte zero length
		raw = r.AppendTo(raw)
		maxTS = max(maxTS, b.baseTS+r.TimestampDelta64)
	}
	payload := compress(tb, b.codec, b.xerial, raw)
	n := int32(len(b.records))
	rb := kmsg.RecordBatch{
		FirstOffset:          b.baseOffset,
		Length:               int32(minBatchLength + len(payload)),
		PartitionLeaderEpoch: b.epoch,
		Magic:                2,
		Attributes:           b.attrs | int16(b.codec),
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       b.baseTS,
		MaxTimestamp:         maxTS,
		ProducerID:           b.producerID,
		FirstSequence:        b.baseSeq,
		NumRecords:           n,
		Records:              payload,
	}
	out := rb.AppendTo(nil)
	fixCRC(out)
	return out
}

// fixCRC recomputes the checksum of a batch after a test edited it.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], Checksum(b))
}

func compress(tb testing.TB, c Codec, xerial bool, raw []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	switch c {
	case CodecNone:
		return raw
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	case CodecSnappy:
		if !xerial {
			return snappy.Encode(nil, raw)
		}
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		// Small chunks so that tests cover more than one.
		for len(raw) > 0 {
			n := min(len(raw), 100)
			block := snappy.Encode(nil, raw[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			buf.Write(block)
			raw = raw[n:]
		}
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(raw)
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	case CodecZstd:
		w, err := zstd.NewWriter(nil)
		if err != nil {
			tb.Fatal(err)
		}
		defer w.Close()
		return w.EncodeAll(raw, nil)
	default:
		tb.Fatalf("codec %v", c)
	}
	return buf.Bytes()
}

// someRecords returns n records with distinct keys, values and timestamps.
func someRecords(n, valueSize int) []kmsg.Record {
	recs := make([]kmsg.Record, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)
		recs[i] = kmsg.Record{
			TimestampDelta64: int64(i * 10),
			Key:              []byte{byte(i)},
			Value:            v,
		}
	}
	return recs
}
