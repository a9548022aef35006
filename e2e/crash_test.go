package e2e

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSIGKILLDuringIdempotentProduction kills the broker process with
// SIGKILL while an idempotent acks=all producer is writing, restarts it on
// the same data directory, lets the producer finish (its in-flight batches
// are retried against the restarted broker), and checks that every
// acknowledged record is present exactly once, in order, at the offset it
// was acknowledged with.
func TestSIGKILLDuringIdempotentProduction(t *testing.T) {
	b := startProcess(t)
	const topic, partitions = "crash", 3
	createTopic(t, b.Addr(), topic, partitions, nil)

	producer := newClient(t, b.Addr(),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(1_000_000),
		kgo.RecordDeliveryTimeout(60*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	)

	type ack struct {
		partition int32
		offset    int64
	}
	var (
		mu    sync.Mutex
		acked = map[string]ack{} // value -> where it was acknowledged
		fails []error
	)
	var wg sync.WaitGroup
	sent := 0
	produce := func(n int) {
		for range n {
			value := strconv.Itoa(sent)
			sent++
			wg.Add(1)
			producer.Produce(context.Background(), &kgo.Record{Value: []byte(value)}, func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					fails = append(fails, err)
					return
				}
				acked[string(r.Value)] = ack{r.Partition, r.Offset}
			})
		}
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}

	// Produce until a good number of records is acknowledged, then kill
	// the broker while more are in flight.
	produce(20_000)
	waitFor(t, 30*time.Second, "first acknowledgements", func() bool { return ackedCount() >= 5_000 })
	produce(5_000)
	b.kill()
	killedAt := ackedCount()
	t.Logf("SIGKILL after %d of %d records were acknowledged", killedAt, sent)

	b.restart()
	produce(5_000)
	wg.Wait()
	if len(fails) > 0 {
		t.Fatalf("%d records failed; first: %v", len(fails), fails[0])
	}
	if len(acked) != sent {
		t.Fatalf("%d of %d records acknowledged", len(acked), sent)
	}

	// Read everything back and compare.
	got := consumeN(t, b.Addr(), topic, sent)
	seen := map[string]ack{}
	last := map[int32]int{}
	for _, r := range got {
		v := string(r.Value)
		if prev, dup := seen[v]; dup {
			t.Fatalf("value %s stored twice: %d/%d and %d/%d", v, prev.partition, prev.offset, r.Partition, r.Offset)
		}
		seen[v] = ack{r.Partition, r.Offset}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("unexpected value %q", v)
		}
		if l, ok := last[r.Partition]; ok && n <= l {
			t.Fatalf("partition %d out of order: %d after %d", r.Partition, n, l)
		}
		last[r.Partition] = n
	}
	for v, a := range acked {
		if s, ok := seen[v]; !ok || s != a {
			t.Fatalf("value %s acknowledged at %d/%d but stored at %+v (present %v)", v, a.partition, a.offset, s, ok)
		}
	}
	t.Logf("%d records acknowledged, all present exactly once at their offsets", len(acked))
	if strings.Contains(b.Output(), "panic") {
		t.Fatalf("broker panicked:\n%s", b.Output())
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
