package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRecords(t *testing.T) {
	recs := []kmsg.Record{
		{Key: []byte("k0"), Value: []byte("v0")},
		{TimestampDelta64: 5, Key: nil, Value: []byte("null key")},
		{TimestampDelta64: -3, Key: []byte("null value"), Value: nil},
		{TimestampDelta64: 1 << 40, Key: []byte{}, Value: []byte{}, Headers: []kmsg.Header{
			{Key: "h1", Value: []byte("x")},
			{Key: "", Value: nil},
		}},
	}
	tests := []struct {
		name   string
		codec  Codec
		xerial bool
		attrs  int16
	}{
		{name: "none", codec: CodecNone},
		{name: "gzip", codec: CodecGzip},
		{name: "snappy", codec: CodecSnappy},
		{name: "snappy xerial", codec: CodecSnappy, xerial: true},
		{name: "lz4", codec: CodecLZ4},
		{name: "zstd", codec: CodecZstd},
		{name: "log append time", codec: CodecZstd, attrs: timestampTypeBit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := makeBatch(t, testBatch{
				codec: tt.codec, xerial: tt.xerial, attrs: tt.attrs,
				baseOffset: 1000, baseTS: 1_700_000_000_000, records: recs,
			})
			h, err := Validate(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Records(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("%d records, want %d", len(got), len(recs))
			}
			for i, r := range got {
				want := recs[i]
				wantTS := h.BaseTimestamp + want.TimestampDelta64
				if tt.attrs&timestampTypeBit != 0 {
					wantTS = h.MaxTimestamp
				}
				if r.Offset != 1000+int64(i) || r.Timestamp != wantTS {
					t.Errorf("record %d: offset %d ts %d, want %d %d", i, r.Offset, r.Timestamp, 1000+i, wantTS)
				}
				if !bytes.Equal(r.Key, want.Key) || (r.Key == nil) != (want.Key == nil) {
					t.Errorf("record %d: key %q, want %q", i, r.Key, want.Key)
				}
				if !bytes.Equal(r.Value, want.Value) || (r.Value == nil) != (want.Value == nil) {
					t.Errorf("record %d: value %q, want %q", i, r.Value, want.Value)
				}
				if len(r.Headers) != len(want.Headers) {
					t.Fatalf("record %d: %d headers, want %d", i, len(r.Headers), len(want.Headers))
				}
				for j, rh := range r.Headers {
					wh := want.Headers[j]
					if rh.Key != wh.Key || !bytes.Equal(rh.Value, wh.Value) || (rh.Value == nil) != (wh.Value == nil) {
						t.Errorf("record %d header %d: %q=%q, want %q=%q", i, j, rh.Key, rh.Value, wh.Key, wh.Value)
					}
				}
			}
		})
	}
}

func TestRecordsCorrupt(t *testing.T) {
	valid := makeBatch(t, testBatch{records: someRecords(3, 10)})
	tests := []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"count too high", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offRecordCount:], 4); return b }},
		{"count too low", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offRecordCount:], 2); return b }},
		{"huge count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offRecordCount:], 1<<30); return b }},
		{"negative count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offRecordCount:], 0xffffffff); return b }},
		{"record length too long", func(b []byte) []byte { b[HeaderSize] = 0x7e; return b }},
		{"negative record length", func(b []byte) []byte { b[HeaderSize] = 0x01; return b }},
		{"truncated", func(b []byte) []byte {
			b = b[:len(b)-3]
			binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
			return b
		}},
		{"gzip garbage", func(b []byte) []byte { b[offAttributes+1] |= byte(CodecGzip); return b }},
		{"zstd garbage", func(b []byte) []byte { b[offAttributes+1] |= byte(CodecZstd); return b }},
		{"lz4 garbage", func(b []byte) []byte { b[offAttributes+1] |= byte(CodecLZ4); return b }},
		{"snappy garbage", func(b []byte) []byte { b[offAttributes+1] |= byte(CodecSnappy); return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(append([]byte(nil), valid...))
			if recs, err := Records(b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Records = %d records, %v; want ErrCorrupt", len(recs), err)
			}
		})
	}
}

// TestRecordsBomb checks that a payload that inflates past the limit is
// refused, for every codec.
func TestRecordsBomb(t *testing.T) {
	const limit = 1 << 20
	recs := []kmsg.Record{{Value: make([]byte, 4<<20)}} // zeros compress ~1000x
	for _, c := range []Codec{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		for _, xerial := range []bool{false, true} {
			if xerial && c != CodecSnappy {
				continue
			}
			t.Run(fmt.Sprintf("%v xerial=%v", c, xerial), func(t *testing.T) {
				b := makeBatch(t, testBatch{codec: c, xerial: xerial, records: recs})
				if _, err := RecordsLimit(b, limit); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("RecordsLimit error = %v, want ErrTooLarge", err)
				}
				if _, err := RecordsLimit(b, 8<<20); err != nil {
					t.Fatalf("within the limit: %v", err)
				}
			})
		}
	}
}
