package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spotstream/spotstream/internal/cloud/cloudtest"
)

// spotZones are the zones of a spot test cluster: broker i is in
// spotZones[i%3], and brokers 0 and 1 are on-demand, the others spot.
var spotZones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// spotPartitions is how many partitions the drain tests write to: the
// issue's 1,000, or SPOTSTREAM_SPOT_PARTITIONS.
func spotPartitions(t *testing.T) int32 {
	if v := os.Getenv("SPOTSTREAM_SPOT_PARTITIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SPOTSTREAM_SPOT_PARTITIONS=%q: want a positive number", v)
		}
		return int32(n)
	}
	return 1000
}

// startSpotCluster starts six brokers in three zones, two on-demand and
// four spot, each reading its zone, capacity and notices from a fake
// instance metadata service of its own (cloud.provider=aws). Segments are
// not preallocated, so that thousands of replicas fit on a test disk. The
// brokers run without the race detector: these tests time drains of
// thousands of replicas, which six instrumented brokers on two cores
// cannot show.
func startSpotCluster(t *testing.T, overrides ...string) (*testCluster, []*cloudtest.Server) {
	t.Helper()
	c := newCluster(t, append([]string{"cloud.provider=aws", "log.preallocate=false"}, overrides...)...)
	c.binary = plainBinary
	var imds []*cloudtest.Server
	for i := range 6 {
		capacity := "spot"
		if i < 2 {
			capacity = "on-demand"
		}
		s := cloudtest.NewServer(spotZones[i%3], capacity)
		t.Cleanup(s.Close)
		imds = append(imds, s)
		c.add(fmt.Sprintf("broker.id=%d", i), "cloud.metadata.endpoint="+s.URL())
	}
	c.waitBrokers(c.brokers[0].Addr(), 0, 1, 2, 3, 4, 5)
	return c, imds
}

// leadership returns how many partitions of topic each broker leads, and
// in how many of its replicas' ISRs it is, from addr's metadata.
func (c *testCluster) leadership(addr, topic string) (leads, inISR, replicas map[int32]int) {
	c.t.Helper()
	leads, inISR, replicas = map[int32]int{}, map[int32]int{}, map[int32]int{}
	for _, p := range c.metadata(addr).Topics[topic].Partitions {
		leads[p.Leader]++
		for _, id := range p.Replicas {
			replicas[id]++
			if slices.Contains(p.ISR, id) {
				inISR[id]++
			}
		}
	}
	return leads, inISR, replicas
}

// mostLeading returns the broker, among candidates, that leads the most
// partitions of topic.
func (c *testCluster) mostLeading(addr, topic string, candidates []int32) int32 {
	leads, _, _ := c.leadership(addr, topic)
	best := candidates[0]
	for _, id := range candidates {
		if leads[id] > leads[best] {
			best = id
		}
	}
	return best
}

// waitLeadsNothing waits until the metadata from addr shows broker id
// leading no partition of topic.
func (c *testCluster) waitLeadsNothing(addr, topic string, id int32, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("broker %d to lead nothing", id), func() bool {
		leads, _, _ := c.leadership(addr, topic)
		return leads[id] == 0
	})
}

// waitDrained waits until broker id's log says it is drained (its
// leaderships moved and, for a full drain, the temporary replicas its
// loss calls for in sync), and returns how long that took from since.
// The log is read rather than the metadata so that the test's own
// clients do not slow the cluster they time.
func (c *testCluster) waitDrained(id int32, since time.Time, timeout time.Duration) time.Duration {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("broker %d to log that it is drained", id), func() bool {
		return strings.Contains(c.brokers[id].Output(), "msg=drained")
	})
	return time.Since(since)
}

// countExcept returns how many of ids are not in except.
func countExcept(ids, except []int32) int {
	n := 0
	for _, id := range ids {
		if !slices.Contains(except, id) {
			n++
		}
	}
	return n
}

// mostShared returns the two spot brokers in different zones that share
// the most partitions of topic: the pair whose loss hurts most.
func (c *testCluster) mostShared(addr, topic string) []int32 {
	c.t.Helper()
	parts := c.metadata(addr).Topics[topic].Partitions
	var best []int32
	bestN := -1
	for a := int32(2); a < 6; a++ {
		for b := a + 1; b < 6; b++ {
			if a%3 == b%3 {
				continue // same zone
			}
			n := 0
			for _, p := range parts {
				if slices.Contains(p.Replicas, a) && slices.Contains(p.Replicas, b) {
					n++
				}
			}
			if n > bestN {
				best, bestN = []int32{a, b}, n
			}
		}
	}
	return best
}

// TestDrainOnInterruptionNotice gives the broker leading the most
// partitions an interruption notice under acks=all idempotent load: it
// must hand over every leadership within 10 s while staying in the ISRs,
// without one record failing; then it is SIGKILLed (the instance is
// reclaimed) and nothing acknowledged is lost.
func TestDrainOnInterruptionNotice(t *testing.T) {
	c, imds := startSpotCluster(t)
	topic := topicName(t)
	parts := spotPartitions(t)
	run := startFailoverRun(t, c, topic, parts, kgo.RecordDeliveryTimeout(30*time.Second))
	addr := c.brokers[0].Addr()
	waitFor(t, 60*time.Second, "acknowledgements before the notice", func() bool { return run.ackedCount() >= 2_000 })

	victim := c.mostLeading(addr, topic, []int32{0, 1, 2, 3, 4, 5})
	leads, _, replicas := c.leadership(addr, topic)
	noticeAt := time.Now()
	imds[victim].Interrupt("terminate", noticeAt.Add(2*time.Minute))
	took := c.waitDrained(victim, noticeAt, 30*time.Second)
	t.Logf("broker %d led %d of %d partitions; notice to drained: %v", victim, leads[victim], parts, took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("draining took %v, want under 10s", took)
	}
	c.waitLeadsNothing(c.brokers[(victim+1)%6].Addr(), topic, victim, 30*time.Second)

	// Drained, not gone: it is still a follower in every ISR it was in.
	_, inISR, _ := c.leadership(c.brokers[(victim+1)%6].Addr(), topic)
	if inISR[victim] != replicas[victim] {
		t.Errorf("drained broker %d is in %d ISRs of its %d replicas, want all", victim, inISR[victim], replicas[victim])
	}

	acked := run.ackedCount()
	killedAt := time.Now()
	c.brokers[victim].kill()
	other := c.brokers[(victim+1)%6].Addr()
	waitFor(t, 60*time.Second, "acknowledgements after the kill", func() bool { return run.ackedCount() >= acked+2_000 })
	if next, ok := run.firstAckAfter(killedAt); ok {
		t.Logf("first acknowledgement %v after the kill", next.Sub(killedAt).Round(time.Millisecond))
	}
	run.finish(other)
}

// TestTwoNoticesAtOnce gives interruption notices to two spot brokers in
// different zones at the same moment: partitions with replicas on both
// would keep one live replica, below min.insync.replicas=2, so the
// controller adds temporary replicas; once both brokers are drained they
// are SIGKILLed together and acks=all writes go on, with no record failed
// and nothing acknowledged lost.
func TestTwoNoticesAtOnce(t *testing.T) {
	c, imds := startSpotCluster(t)
	topic := topicName(t)
	parts := spotPartitions(t)
	run := startFailoverRun(t, c, topic, parts, kgo.RecordDeliveryTimeout(30*time.Second))
	addr := c.brokers[0].Addr()
	waitFor(t, 60*time.Second, "acknowledgements before the notices", func() bool { return run.ackedCount() >= 2_000 })

	victims := c.mostShared(addr, topic)
	t.Logf("notices to brokers %v", victims)
	noticeAt := time.Now()
	for _, id := range victims {
		imds[id].Interrupt("terminate", noticeAt.Add(2*time.Minute))
	}
	// Drained, both: no victim leads, and every partition keeps
	// min.insync.replicas in-sync replicas on brokers that stay.
	waitFor(t, 60*time.Second, "every partition safe without the noticed brokers", func() bool {
		for _, p := range c.metadata(addr).Topics[topic].Partitions {
			if slices.Contains(victims, p.Leader) || countExcept(p.ISR, victims) < 2 {
				return false
			}
		}
		return true
	})
	took := time.Since(noticeAt)
	t.Logf("notices to both brokers drained, temporary replicas in sync: %v", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("draining took %v, want under 10s", took)
	}
	for _, id := range victims {
		c.waitDrained(id, noticeAt, 30*time.Second) // the broker says so too
	}
	both := 0
	for _, p := range c.metadata(addr).Topics[topic].Partitions {
		staying := countExcept(p.ISR, victims)
		if slices.Contains(p.Replicas, victims[0]) && slices.Contains(p.Replicas, victims[1]) {
			both++
		}
		if staying < 2 {
			t.Errorf("partition %d: ISR %v keeps %d replicas through the drains, want 2", p.Partition, p.ISR, staying)
		}
	}
	t.Logf("%d partitions had replicas on both drained brokers", both)
	if both == 0 {
		t.Errorf("no partition has replicas on both drained brokers: the test exercises no temporary replica")
	}

	acked := run.ackedCount()
	for _, id := range victims {
		c.brokers[id].kill()
	}
	waitFor(t, 60*time.Second, "acknowledgements after the kills", func() bool { return run.ackedCount() >= acked+2_000 })
	run.finish(addr)
}
