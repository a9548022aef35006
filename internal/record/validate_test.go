package record

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidate(t *testing.T) {
	valid := makeBatch(t, testBatch{baseOffset: 5, records: someRecords(4, 20)})
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr bool
	}{
		{name: "valid", mutate: func(b []byte) []byte { return b }},
		{name: "restamped", mutate: func(b []byte) []byte {
			SetBaseOffset(b, 999)
			SetPartitionLeaderEpoch(b, 3)
			return b
		}},
		{name: "trailing byte", wantErr: true, mutate: func(b []byte) []byte { return append(b, 0) }},
		{name: "missing byte", wantErr: true, mutate: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "short", wantErr: true, mutate: func(b []byte) []byte { return b[:20] }},
		{name: "magic", wantErr: true, mutate: func(b []byte) []byte { b[offMagic] = 1; return b }},
		{name: "crc field", wantErr: true, mutate: func(b []byte) []byte { b[offCRC] ^= 1; return b }},
		{name: "payload bit flip", wantErr: true, mutate: func(b []byte) []byte { b[len(b)-1] ^= 0x10; return b }},
		{name: "attributes flip", wantErr: true, mutate: func(b []byte) []byte { b[offAttributes+1] ^= 0x08; return b }},
		{name: "zero records", wantErr: true, mutate: func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offRecordCount:], 0)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0xffffffff)
			fixCRC(b)
			return b
		}},
		{name: "delta mismatch", wantErr: true, mutate: func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 2)
			fixCRC(b)
			return b
		}},
		{name: "unknown codec", wantErr: true, mutate: func(b []byte) []byte {
			b[offAttributes+1] |= 5
			fixCRC(b)
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(append([]byte(nil), valid...))
			h, err := Validate(b)
			if tt.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Validate error = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Size() != len(b) || h.NumRecords != 4 {
				t.Fatalf("header %+v for %d bytes", h, len(b))
			}
		})
	}
}

func TestValidateAllCodecs(t *testing.T) {
	for _, c := range []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		b := makeBatch(t, testBatch{codec: c, records: someRecords(10, 100)})
		h, err := Validate(b)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if h.Codec() != c {
			t.Fatalf("codec %v, want %v", h.Codec(), c)
		}
	}
}

// BenchmarkValidate measures the cost of checking a 16 KiB batch on the
// append path, which is dominated by CRC-32C.
func BenchmarkValidate(b *testing.B) {
	batch := makeBatch(b, testBatch{records: []kmsg.Record{{Value: make([]byte, 16<<10-HeaderSize-10)}}})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}
