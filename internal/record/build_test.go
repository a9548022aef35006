package record

import (
	"bytes"
	"testing"
)

func TestBuildRoundTrip(t *testing.T) {
	in := []Record{
		{Key: []byte("k1"), Value: []byte("v1")},
		{Key: []byte("k2"), Value: nil}, // a tombstone
		{Key: nil, Value: bytes.Repeat([]byte("x"), 300)},
	}
	b := Build(in, 1_700_000_000_123)
	h, err := Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.NumRecords != 3 || h.ProducerID != -1 || h.MaxTimestamp != 1_700_000_000_123 || h.Codec() != CodecNone {
		t.Fatalf("header %+v", h)
	}
	out, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d records, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Offset != int64(i) || !bytes.Equal(out[i].Key, in[i].Key) || !bytes.Equal(out[i].Value, in[i].Value) ||
			(out[i].Value == nil) != (in[i].Value == nil) || (out[i].Key == nil) != (in[i].Key == nil) ||
			out[i].Timestamp != 1_700_000_000_123 {
			t.Errorf("record %d: %+v, want %+v", i, out[i], in[i])
		}
	}
}
