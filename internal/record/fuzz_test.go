package record

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxFuzzInput bounds FuzzRecords inputs. Small inputs reach every decoder
// path (and every decompression bomb), while large ones make the engine
// spend its time minimizing them.
const maxFuzzInput = 4 << 10

// seedBatches returns valid batches covering every codec and the header
// flags, as seed corpus for the fuzz targets.
func seedBatches(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		seeds = append(seeds, makeBatch(tb, testBatch{codec: c, records: someRecords(3, 8)}))
	}
	seeds = append(seeds,
		makeBatch(tb, testBatch{codec: CodecSnappy, xerial: true, records: someRecords(5, 40)}),
		makeBatch(tb, testBatch{attrs: controlBit | transactionalBit, producerID: 7, records: []kmsg.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}}}}),
		makeBatch(tb, testBatch{attrs: timestampTypeBit, baseTS: 1e12, records: []kmsg.Record{{Headers: []kmsg.Header{{Key: "k", Value: []byte("v")}}}}}),
	)
	return seeds
}

// FuzzValidate checks that Validate never panics and that what it accepts
// is consistent: the header describes exactly the bytes given, agrees with
// ReadHeader, and survives restamping of the fields outside the CRC.
func FuzzValidate(f *testing.F) {
	for _, s := range seedBatches(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Validate(b)
		if err != nil {
			return
		}
		if h.Size() != len(b) {
			t.Fatalf("Size %d for %d bytes", h.Size(), len(b))
		}
		if rh, err := ReadHeader(b); err != nil || rh != h {
			t.Fatalf("ReadHeader = %+v, %v; Validate = %+v", rh, err, h)
		}
		if h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 || !h.Codec().known() {
			t.Fatalf("accepted header %+v", h)
		}
		b = bytes.Clone(b) // the fuzzing engine owns its input
		SetBaseOffset(b, h.BaseOffset^0x5a5a)
		SetPartitionLeaderEpoch(b, h.PartitionLeaderEpoch+1)
		h2, err := Validate(b)
		if err != nil {
			t.Fatalf("restamped batch rejected: %v", err)
		}
		if h2.BaseOffset != h.BaseOffset^0x5a5a || h2.PartitionLeaderEpoch != h.PartitionLeaderEpoch+1 {
			t.Fatalf("restamped header %+v", h2)
		}
	})
}

// FuzzRecords checks that decoding never panics. The CRC is fixed up
// first so that the fuzzer's changes reach the decompressors and the
// record parser rather than dying at the checksum.
func FuzzRecords(f *testing.F) {
	for _, s := range seedBatches(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		b = bytes.Clone(b) // the fuzzing engine owns its input
		if len(b) >= HeaderSize {
			fixCRC(b)
		}
		orig := bytes.Clone(b)
		recs, err := RecordsLimit(b, 1<<20)
		if !bytes.Equal(b, orig) {
			t.Fatal("Records modified its input")
		}
		if err != nil {
			return
		}
		h, _ := ReadHeader(b)
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		for _, r := range recs {
			if h.LogAppendTime() && r.Timestamp != h.MaxTimestamp {
				t.Fatalf("log-append-time record with timestamp %d, batch max %d", r.Timestamp, h.MaxTimestamp)
			}
		}
	})
}
