package record

import (
	"errors"
	"math"
	"testing"
)

func TestReadHeader(t *testing.T) {
	valid := makeBatch(t, testBatch{
		baseOffset: 42, epoch: 7, baseTS: 1000, producerID: 9, baseSeq: 5,
		attrs:   transactionalBit,
		records: someRecords(3, 4),
	})
	h, err := ReadHeader(valid)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset: 42, Length: int32(len(valid) - 12), PartitionLeaderEpoch: 7, Magic: 2,
		CRC: Checksum(valid), Attributes: transactionalBit, LastOffsetDelta: 2,
		BaseTimestamp: 1000, MaxTimestamp: 1020, ProducerID: 9, BaseSequence: 5, NumRecords: 3,
	}
	if h != want {
		t.Fatalf("ReadHeader = %+v\nwant %+v", h, want)
	}

	tests := []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:HeaderSize-1] }},
		{"empty", func([]byte) []byte { return nil }},
		{"magic 1", func(b []byte) []byte { b[offMagic] = 1; return b }},
		{"length below header", func(b []byte) []byte { b[offLength+3] = minBatchLength - 1; b[offLength+2] = 0; return b }},
		{"negative length", func(b []byte) []byte { b[offLength] = 0x80; return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(append([]byte(nil), valid...))
			if _, err := ReadHeader(b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadHeader error = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("header only is enough", func(t *testing.T) {
		if _, err := ReadHeader(valid[:HeaderSize]); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHeaderAccessors(t *testing.T) {
	tests := []struct {
		name                                  string
		h                                     Header
		codec                                 Codec
		logAppend, transactional, control     bool
		lastOffset, nextOffset, size, lastSeq int64
	}{
		{
			name:  "plain",
			h:     Header{BaseOffset: 100, Length: 49, LastOffsetDelta: 9, BaseSequence: -1},
			codec: CodecNone, lastOffset: 109, nextOffset: 110, size: 61, lastSeq: -1,
		},
		{
			name:  "zstd transactional log-append-time",
			h:     Header{BaseOffset: 0, Length: 1000, Attributes: 4 | timestampTypeBit | transactionalBit, BaseSequence: 10, LastOffsetDelta: 4},
			codec: CodecZstd, logAppend: true, transactional: true,
			lastOffset: 4, nextOffset: 5, size: 1012, lastSeq: 14,
		},
		{
			name:    "control",
			h:       Header{Attributes: controlBit | transactionalBit, Length: 100, BaseSequence: -1},
			control: true, transactional: true, nextOffset: 1, size: 112, lastSeq: -1,
		},
		{
			name:       "sequence wraps",
			h:          Header{BaseSequence: math.MaxInt32 - 1, LastOffsetDelta: 3, Length: 49},
			lastOffset: 3, nextOffset: 4, size: 61, lastSeq: 1,
		},
		{
			name:       "sequence reaches max",
			h:          Header{BaseSequence: math.MaxInt32 - 3, LastOffsetDelta: 3, Length: 49},
			lastOffset: 3, nextOffset: 4, size: 61, lastSeq: math.MaxInt32,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if got := h.Codec(); got != tt.codec {
				t.Errorf("Codec = %v, want %v", got, tt.codec)
			}
			if got := h.LogAppendTime(); got != tt.logAppend {
				t.Errorf("LogAppendTime = %v", got)
			}
			if got := h.Transactional(); got != tt.transactional {
				t.Errorf("Transactional = %v", got)
			}
			if got := h.Control(); got != tt.control {
				t.Errorf("Control = %v", got)
			}
			if got := h.LastOffset(); got != tt.lastOffset {
				t.Errorf("LastOffset = %d, want %d", got, tt.lastOffset)
			}
			if got := h.NextOffset(); got != tt.nextOffset {
				t.Errorf("NextOffset = %d, want %d", got, tt.nextOffset)
			}
			if got := h.Size(); int64(got) != tt.size {
				t.Errorf("Size = %d, want %d", got, tt.size)
			}
			if got := h.LastSequence(); int64(got) != tt.lastSeq {
				t.Errorf("LastSequence = %d, want %d", got, tt.lastSeq)
			}
		})
	}
}

func TestCodecString(t *testing.T) {
	for c, want := range map[Codec]string{
		CodecNone: "none", CodecGzip: "gzip", CodecSnappy: "snappy",
		CodecLZ4: "lz4", CodecZstd: "zstd", 5: "Codec(5)", -1: "Codec(-1)",
	} {
		if got := c.String(); got != want {
			t.Errorf("Codec(%d).String() = %q, want %q", int8(c), got, want)
		}
	}
}

func TestStamp(t *testing.T) {
	b := makeBatch(t, testBatch{records: someRecords(2, 10)})
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 12)
	h, err := Validate(b)
	if err != nil {
		t.Fatalf("stamping broke the batch: %v", err)
	}
	if h.BaseOffset != 1<<40 || h.PartitionLeaderEpoch != 12 {
		t.Fatalf("header after stamping = %+v", h)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	for _, c := range []Codec{CodecNone, CodecZstd} {
		b := makeBatch(t, testBatch{codec: c, baseTS: 100, records: someRecords(3, 5)})
		SetLogAppendTime(b, 1_700_000_000_000)
		h, err := Validate(b)
		if err != nil {
			t.Fatalf("%v: batch invalid after SetLogAppendTime: %v", c, err)
		}
		if !h.LogAppendTime() || h.MaxTimestamp != 1_700_000_000_000 || h.Codec() != c {
			t.Fatalf("%v: header %+v", c, h)
		}
		recs, err := Records(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Timestamp != 1_700_000_000_000 {
				t.Fatalf("%v: record timestamp %d", c, r.Timestamp)
			}
		}
	}
}
