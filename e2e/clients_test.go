package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
)

// TestSaramaRoundTrip produces with sarama's SyncProducer (idempotent,
// acks=all) and reads back with its partition consumer.
func TestSaramaRoundTrip(t *testing.T) {
	b := startBroker(t)
	topic := "sarama"
	createTopic(t, b.Addr(), topic, 2, nil)

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest

	producer, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	const n = 200
	for i := range n {
		p, off, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic:     topic,
			Partition: int32(i % 2),
			Key:       sarama.StringEncoder(fmt.Sprint("k", i)),
			Value:     sarama.StringEncoder(fmt.Sprint("v", i)),
		})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if p != int32(i%2) || off != int64(i/2) {
			t.Fatalf("record %d stored at %d/%d", i, p, off)
		}
	}

	consumer, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for p := range int32(2) {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < n/2; off++ {
			select {
			case m := <-pc.Messages():
				i := int(off)*2 + int(p)
				if m.Offset != off || string(m.Value) != fmt.Sprint("v", i) || string(m.Key) != fmt.Sprint("k", i) {
					t.Fatalf("partition %d offset %d: got %d %q/%q", p, off, m.Offset, m.Key, m.Value)
				}
			case err := <-pc.Errors():
				t.Fatal(err)
			case <-time.After(20 * time.Second):
				t.Fatalf("partition %d: timed out at offset %d", p, off)
			}
		}
		pc.Close()
	}
}

// TestKafkaGoRoundTrip produces with segmentio/kafka-go's Writer and reads
// back with its Reader.
func TestKafkaGoRoundTrip(t *testing.T) {
	b := startBroker(t)
	topic := "kafka-go"
	createTopic(t, b.Addr(), topic, 1, nil)

	w := &kafkago.Writer{
		Addr:         kafkago.TCP(b.Addr()),
		Topic:        topic,
		RequiredAcks: kafkago.RequireAll,
		BatchSize:    50,
		BatchTimeout: time.Millisecond,
		Compression:  kafkago.Lz4,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 300
	var msgs []kafkago.Message
	for i := range n {
		msgs = append(msgs, kafkago.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}

	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.Addr()}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := range n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if m.Offset != int64(i) || string(m.Value) != fmt.Sprint("v", i) || string(m.Key) != fmt.Sprint("k", i) {
			t.Fatalf("record %d: offset %d %q/%q", i, m.Offset, m.Key, m.Value)
		}
	}
}

// kcat runs kcat against addr and returns its output.
func kcat(t *testing.T, addr, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat); .ci/run installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-b", addr}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return string(out)
}

// TestKcat drives the broker with librdkafka through kcat: metadata,
// produce, and consume from the beginning, from an offset and from a
// timestamp.
func TestKcat(t *testing.T) {
	b := startBroker(t)
	topic := "kcat"

	// Produce (auto-creating the topic) in two rounds with a timestamp gap
	// between them, so that a timestamp lookup has a boundary to find.
	var first, second strings.Builder
	for i := range 10 {
		fmt.Fprintf(&first, "k%d:first-%d\n", i, i)
		fmt.Fprintf(&second, "k%d:second-%d\n", i, i)
	}
	kcat(t, b.Addr(), first.String(), "-P", "-t", topic, "-p", "0", "-K", ":", "-X", "acks=all")
	time.Sleep(20 * time.Millisecond) // a timestamp boundary, not a wait for state
	boundary := time.Now().UnixMilli()
	time.Sleep(20 * time.Millisecond)
	kcat(t, b.Addr(), second.String(), "-P", "-t", topic, "-p", "0", "-K", ":", "-z", "gzip")

	meta := kcat(t, b.Addr(), "", "-L", "-t", topic)
	if !strings.Contains(meta, fmt.Sprintf("topic \"%s\" with 1 partitions", topic)) || !strings.Contains(meta, fmt.Sprintf("leader %d", b.b.ID())) {
		t.Fatalf("kcat -L output:\n%s", meta)
	}

	lines := func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
	all := lines(kcat(t, b.Addr(), "", "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %k %s\n"))
	if len(all) != 20 || all[0] != "0 k0 first-0" || all[19] != "19 k9 second-9" {
		t.Fatalf("consume from beginning:\n%s", strings.Join(all, "\n"))
	}
	fromOffset := lines(kcat(t, b.Addr(), "", "-C", "-t", topic, "-o", "15", "-e", "-f", "%o %s\n"))
	if len(fromOffset) != 5 || fromOffset[0] != "15 second-5" {
		t.Fatalf("consume from offset 15:\n%s", strings.Join(fromOffset, "\n"))
	}
	fromTime := lines(kcat(t, b.Addr(), "", "-C", "-t", topic, "-o", fmt.Sprintf("s@%d", boundary), "-e", "-f", "%o %s\n"))
	if len(fromTime) != 10 || fromTime[0] != "10 second-0" {
		t.Fatalf("consume from timestamp %d:\n%s", boundary, strings.Join(fromTime, "\n"))
	}
}
