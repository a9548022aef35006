package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceBytes writes n records of size bytes to topic with acks=all and
// waits for every acknowledgement.
func produceBytes(t *testing.T, c *testCluster, topic string, n, size int) {
	t.Helper()
	cl := newClient(t, c.brokers[0].Addr(), kgo.SeedBrokers(c.bootstrap()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	value := []byte(strings.Repeat("x", size))
	for range n {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// segmentInodes returns the inode of every log segment under dir, by path:
// a replica copied again from scratch gets new files.
func segmentInodes(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = info.Sys().(*syscall.Stat_t).Ino
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplacementGrace kills brokers without notice. One is restarted on
// the same volume within broker.replacement.grace.ms: it keeps its
// replicas and catches up from where its logs end, without copying them
// again. The other is not replaced: after the grace period the controller
// moves its replicas onto live brokers under the placement rules, and
// every partition is back at full replication, with the zone and capacity
// rules met and leaders balanced.
func TestReplacementGrace(t *testing.T) {
	// No leader imbalance tolerated (Kafka's 10% lets a broker of 12
	// preferred partitions have one led elsewhere), checked every second.
	c, _ := startSpotCluster(t, "broker.replacement.grace.ms=8000", "leader.imbalance.check.interval.seconds=1", "leader.imbalance.per.broker.percentage=0")
	topic := topicName(t)
	const parts = 60
	addr := c.brokers[0].Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if resp, err := kadm.NewClient(newClient(t, addr)).CreateTopic(ctx, parts, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("creating %s: %v %v", topic, err, resp.Err)
	}
	waitFor(t, 30*time.Second, "the topic", func() bool { return len(c.metadata(addr).Topics[topic].Partitions) == parts })
	produceBytes(t, c, topic, 3_000, 4_096) // 12 MB, 200 KB a partition

	// Broker 3 dies and comes back on its volume within the grace.
	before := segmentInodes(t, c.brokers[3].dataDir)
	_, _, replicas := c.leadership(addr, topic)
	c.brokers[3].kill()
	waitFor(t, 30*time.Second, "broker 3 to leave the ISRs", func() bool {
		_, inISR, _ := c.leadership(addr, topic)
		return inISR[3] == 0
	})
	c.brokers[3].restart()
	waitFor(t, 60*time.Second, "broker 3 back in every ISR", func() bool {
		_, inISR, _ := c.leadership(addr, topic)
		return inISR[3] == replicas[3]
	})
	after := segmentInodes(t, c.brokers[3].dataDir)
	kept := 0
	for path, ino := range before {
		if after[path] == ino {
			kept++
		}
	}
	t.Logf("broker 3 back within the grace: %d of %d segments kept, %d replicas", kept, len(before), replicas[3])
	if kept != len(before) {
		t.Errorf("broker 3 kept %d of its %d segments: its replicas were copied again", kept, len(before))
	}
	if _, _, r := c.leadership(addr, topic); r[3] != replicas[3] {
		t.Errorf("broker 3 holds %d replicas after the grace, want its %d", r[3], replicas[3])
	}

	// Broker 5 dies for good.
	killedAt := time.Now()
	c.brokers[5].kill()
	waitFor(t, 90*time.Second, "every partition back at three in-sync replicas, none on broker 5", func() bool {
		for _, p := range c.metadata(addr).Topics[topic].Partitions {
			if len(p.Replicas) != 3 || len(p.ISR) != 3 || slices.Contains(p.Replicas, 5) {
				return false
			}
		}
		return true
	})
	t.Logf("re-replicated %v after the kill (grace 8s)", time.Since(killedAt).Round(time.Millisecond))
	if took := time.Since(killedAt); took < 8*time.Second {
		t.Errorf("re-replicated after %v, before the grace period ended", took)
	}
	zoneOf := func(id int32) string { return spotZones[id%3] }
	for _, p := range c.metadata(addr).Topics[topic].Partitions {
		zones := map[string]bool{}
		onDemand := false
		for _, id := range p.Replicas {
			zones[zoneOf(id)] = true
			onDemand = onDemand || id < 2
		}
		if len(zones) != 3 || !onDemand {
			t.Errorf("partition %d on %v: %d zones, on-demand %v; want 3 zones and an on-demand replica", p.Partition, p.Replicas, len(zones), onDemand)
		}
	}
	// Leaders balanced: preferred leaders spread by placement, and given
	// back by the automatic rebalance.
	var leads map[int32]int
	waitFor(t, 30*time.Second, "leaders balanced over the five live brokers", func() bool {
		leads, _, _ = c.leadership(addr, topic)
		lo, hi := parts, 0
		for id := range int32(5) {
			lo, hi = min(lo, leads[id]), max(hi, leads[id])
		}
		return hi-lo <= 1
	})
	_, _, r := c.leadership(addr, topic)
	t.Logf("replicas per broker after the repair: %v; leaders: %v", fmt.Sprint(r), fmt.Sprint(leads))
}
