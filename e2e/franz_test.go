package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceAll produces records synchronously and fails the test on any error.
func produceAll(t *testing.T, cl *kgo.Client, records []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeN reads n records with a fresh direct consumer from the start of
// topic's partitions.
func consumeN(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("consumed %d records, want %d", len(out), n)
	}
	return out
}

// TestFranzRoundTrip produces with the idempotent producer at acks=all in
// every compression codec and reads every record back, in order, with keys,
// values, headers and timestamps intact.
func TestFranzRoundTrip(t *testing.T) {
	b := startBroker(t)
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, b.Addr(), topic, 3, nil)
			producer := newClient(t, b.Addr(),
				kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.ProducerBatchCompression(c.codec),
				kgo.DefaultProduceTopic(topic),
				kgo.RecordPartitioner(kgo.ManualPartitioner()),
			)
			const n = 3000
			var records []*kgo.Record
			base := time.Now().Truncate(time.Millisecond)
			for i := range n {
				records = append(records, &kgo.Record{
					Partition: int32(i % 3),
					Key:       fmt.Appendf(nil, "key-%d", i),
					Value:     fmt.Appendf(nil, "value-%d-%s", i, c.name),
					Headers:   []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}},
					Timestamp: base.Add(time.Duration(i) * time.Millisecond),
				})
			}
			produceAll(t, producer, records)
			for i, r := range records {
				if want := int64(i / 3); r.Offset != want {
					t.Fatalf("record %d acknowledged at offset %d, want %d", i, r.Offset, want)
				}
			}

			got := consumeN(t, b.Addr(), topic, n)
			next := map[int32]int64{}
			for _, r := range got {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				i := int(r.Offset)*3 + int(r.Partition)
				want := records[i]
				if string(r.Key) != string(want.Key) || string(r.Value) != string(want.Value) ||
					len(r.Headers) != 1 || string(r.Headers[0].Value) != string(want.Headers[0].Value) ||
					!r.Timestamp.Equal(want.Timestamp) {
					t.Fatalf("record at %d/%d = %q/%q %v, want %q/%q %v", r.Partition, r.Offset,
						r.Key, r.Value, r.Timestamp, want.Key, want.Value, want.Timestamp)
				}
			}
		})
	}
}

// TestFranzAcks covers acks=0 and acks=1 next to the idempotent default.
func TestFranzAcks(t *testing.T) {
	b := startBroker(t)
	for _, acks := range []struct {
		name string
		acks kgo.Acks
	}{{"acks0", kgo.NoAck()}, {"acks1", kgo.LeaderAck()}} {
		t.Run(acks.name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, b.Addr(), topic, 1, nil)
			cl := newClient(t, b.Addr(), kgo.RequiredAcks(acks.acks), kgo.DisableIdempotentWrite(), kgo.DefaultProduceTopic(topic))
			var records []*kgo.Record
			for i := range 500 {
				records = append(records, kgo.StringRecord(fmt.Sprint(i)))
			}
			produceAll(t, cl, records)
			got := consumeN(t, b.Addr(), topic, len(records))
			for i, r := range got {
				if string(r.Value) != fmt.Sprint(i) {
					t.Fatalf("record %d = %q", i, r.Value)
				}
			}
		})
	}
}

// TestAdminTopics covers CreateTopics, CreatePartitions, DeleteTopics,
// DescribeConfigs and DescribeCluster through kadm.
func TestAdminTopics(t *testing.T) {
	b := startBroker(t)
	adm := kadm.NewClient(newClient(t, b.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	retention := "3600000"
	created, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": &retention}, "admin-topic")
	if err != nil || created.Err != nil {
		t.Fatalf("create: %v %v", err, created.Err)
	}
	if created.ID == (kadm.TopicID{}) {
		t.Fatal("created topic has no id")
	}
	again, _ := adm.CreateTopic(ctx, 2, 1, nil, "admin-topic")
	if again.Err == nil {
		t.Fatal("creating an existing topic succeeded")
	}
	bad, _ := adm.CreateTopic(ctx, 1, 1, nil, "bad/name")
	if bad.Err == nil {
		t.Fatal("creating a topic with an invalid name succeeded")
	}
	badCfg := "nope"
	invalid, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": &badCfg}, "bad-config")
	if invalid.Err == nil {
		t.Fatal("creating a topic with an invalid config succeeded")
	}
	rf3, _ := adm.CreateTopic(ctx, 1, 3, nil, "too-replicated")
	if rf3.Err == nil {
		t.Fatal("replication factor 3 on one broker succeeded")
	}

	if _, err := adm.CreatePartitions(ctx, 2, "admin-topic"); err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	details, err := adm.ListTopics(ctx, "admin-topic")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["admin-topic"].Partitions); n != 4 {
		t.Fatalf("partitions after CreatePartitions = %d, want 4", n)
	}

	cfgs, err := adm.DescribeTopicConfigs(ctx, "admin-topic")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("admin-topic", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs: %v %v", err, rc.Err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			found = c.MaybeValue() == retention
		}
	}
	if !found {
		t.Fatalf("retention.ms override not described: %+v", rc.Configs)
	}

	cluster, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cluster.Brokers) != 1 || cluster.Cluster == "" {
		t.Fatalf("cluster metadata: %+v", cluster)
	}

	if _, err := adm.DeleteTopics(ctx, "admin-topic"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("admin-topic") {
		t.Fatal("topic still listed after delete")
	}
}
