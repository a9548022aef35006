package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batch encodes one RecordBatch v2 of n small records.
func batch(producerID int64, epoch int16, seq int32, n int, valueSize int) []byte {
	rb := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  time.Now().UnixMilli(),
		MaxTimestamp:    time.Now().UnixMilli(),
		ProducerID:      producerID,
		ProducerEpoch:   epoch,
		FirstSequence:   seq,
		NumRecords:      int32(n),
	}
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: make([]byte, valueSize)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the encoding includes the varint length, 0 so far
		rb.Records = r.AppendTo(rb.Records)
	}
	rb.Length = int32(49 + len(rb.Records)) // the header after the length field, plus the records
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// produceRaw sends one Produce request with records for partition 0 and
// returns the partition's response.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

// TestProduceValidation sends batches a well-behaved client never would and
// checks each gets Kafka's error and leaves the log untouched.
func TestProduceValidation(t *testing.T) {
	b := startBroker(t, "message.max.bytes=10000")
	const topic = "validation"
	createTopic(t, b.Addr(), topic, 1, nil)
	cl := newClient(t, b.Addr())

	badCRC := batch(-1, -1, -1, 3, 10)
	badCRC[len(badCRC)-1] ^= 0xff
	truncated := batch(-1, -1, -1, 3, 10)
	truncated = truncated[:len(truncated)-2]
	countMismatch := batch(-1, -1, -1, 3, 10)
	binary.BigEndian.PutUint32(countMismatch[57:], 4) // NumRecords 4, LastOffsetDelta 2
	binary.BigEndian.PutUint32(countMismatch[17:], crc32.Checksum(countMismatch[21:], crc32.MakeTable(crc32.Castagnoli)))

	tests := []struct {
		name    string
		records []byte
		want    *kerr.Error
	}{
		{"bad crc", badCRC, kerr.CorruptMessage},
		{"truncated", truncated, kerr.CorruptMessage},
		{"record count mismatch", countMismatch, kerr.CorruptMessage},
		{"too large", batch(-1, -1, -1, 1, 20000), kerr.MessageTooLarge},
		{"two batches", append(batch(-1, -1, -1, 1, 10), batch(-1, -1, -1, 1, 10)...), kerr.InvalidRecord},
		{"empty", []byte{}, kerr.CorruptMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := produceRaw(t, cl, topic, tt.records)
			if resp.ErrorCode != tt.want.Code {
				t.Fatalf("error %v, want %v", kerr.ErrorForCode(resp.ErrorCode), tt.want)
			}
		})
	}
	if resp := produceRaw(t, cl, topic, batch(-1, -1, -1, 2, 10)); resp.ErrorCode != 0 || resp.BaseOffset != 0 {
		t.Fatalf("valid batch after rejected ones: error %d at offset %d, want offset 0", resp.ErrorCode, resp.BaseOffset)
	}

	badName := produceRaw(t, cl, "no such topic!", batch(-1, -1, -1, 1, 10))
	if badName.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("produce to an unknown topic: %v", kerr.ErrorForCode(badName.ErrorCode))
	}
}

// TestIdempotentProducerRules checks sequence deduplication, gaps and epoch
// fencing through the wire.
func TestIdempotentProducerRules(t *testing.T) {
	b := startBroker(t)
	const topic = "idempotence"
	createTopic(t, b.Addr(), topic, 1, nil)
	cl := newClient(t, b.Addr())
	ctx := context.Background()

	init := kmsg.NewPtrInitProducerIDRequest()
	resp, err := init.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	pid := resp.ProducerID

	steps := []struct {
		name       string
		epoch      int16
		seq        int32
		n          int
		wantErr    *kerr.Error
		wantOffset int64
	}{
		{"first", 0, 0, 3, nil, 0},
		{"second", 0, 3, 2, nil, 3},
		{"retry of second is a duplicate", 0, 3, 2, nil, 3},
		{"retry of first is a duplicate", 0, 0, 3, nil, 0},
		{"gap", 0, 9, 1, kerr.OutOfOrderSequenceNumber, -1},
		{"new epoch", 1, 0, 1, nil, 5},
		{"fenced old epoch", 0, 5, 1, kerr.InvalidProducerEpoch, -1},
	}
	for _, s := range steps {
		got := produceRaw(t, cl, topic, batch(pid, s.epoch, s.seq, s.n, 8))
		switch {
		case s.wantErr != nil && got.ErrorCode != s.wantErr.Code:
			t.Fatalf("%s: error %v, want %v", s.name, kerr.ErrorForCode(got.ErrorCode), s.wantErr)
		case s.wantErr == nil && (got.ErrorCode != 0 || got.BaseOffset != s.wantOffset):
			t.Fatalf("%s: error %v offset %d, want offset %d", s.name, kerr.ErrorForCode(got.ErrorCode), got.BaseOffset, s.wantOffset)
		}
	}

	txn := kmsg.NewPtrInitProducerIDRequest()
	id := "txn"
	txn.TransactionalID = &id
	tresp, err := txn.RequestWith(ctx, cl)
	if err == nil && tresp.ErrorCode == 0 {
		t.Fatalf("InitProducerId with a transactional id: %v, error %d; transactions are not supported", err, tresp.ErrorCode)
	}
}

// TestListOffsetsAndEpochs covers ListOffsets' special timestamps and
// OffsetForLeaderEpoch.
func TestListOffsetsAndEpochs(t *testing.T) {
	b := startBroker(t)
	const topic = "offsets"
	createTopic(t, b.Addr(), topic, 1, nil)
	cl := newClient(t, b.Addr())
	for range 3 {
		if r := produceRaw(t, cl, topic, batch(-1, -1, -1, 4, 8)); r.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(r.ErrorCode))
		}
	}
	ctx := context.Background()
	list := func(ts int64) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	if p := list(-2); p.Offset != 0 {
		t.Fatalf("earliest = %d, want 0", p.Offset)
	}
	if p := list(-1); p.Offset != 12 {
		t.Fatalf("latest = %d, want 12", p.Offset)
	}
	if p := list(time.Now().Add(time.Hour).UnixMilli()); p.Offset != -1 || p.ErrorCode != 0 {
		t.Fatalf("future timestamp: offset %d error %d, want -1 and no error", p.Offset, p.ErrorCode)
	}
	if p := list(0); p.Offset != 0 {
		t.Fatalf("timestamp 0 = offset %d, want 0", p.Offset)
	}

	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.LeaderEpoch = 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 12 {
		t.Fatalf("OffsetForLeaderEpoch(0) = epoch %d end %d error %d, want 0, 12", p.LeaderEpoch, p.EndOffset, p.ErrorCode)
	}

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.EndpointType = 1
	dresp, err := dc.RequestWith(ctx, cl)
	if err != nil || dresp.ErrorCode != 0 || len(dresp.Brokers) != 1 || dresp.ClusterID == "" {
		t.Fatalf("DescribeCluster: %v %+v", err, dresp)
	}
}

// TestOversizedFrameClosesConnection sends a frame larger than
// socket.request.max.bytes: the broker closes that connection and keeps
// serving others.
func TestOversizedFrameClosesConnection(t *testing.T) {
	b := startBroker(t, "socket.request.max.bytes=1048576")
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(binary.BigEndian.AppendUint32(nil, 2<<20))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after oversized frame: %v, want EOF", err)
	}
	if err := pingBroker(b.Addr()); err != nil {
		t.Fatalf("broker stopped serving: %v", err)
	}
}
