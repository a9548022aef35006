package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestPreferredLeaderElection: after a broker fails and returns, its
// partitions are led elsewhere; ElectLeaders (preferred), as
// kafka-leader-election.sh sends it, gives the leadership back to each
// partition's first replica.
func TestPreferredLeaderElection(t *testing.T) {
	c := startCluster(t, 3, nil, "broker.session.timeout.ms=2000", "broker.heartbeat.interval.ms=500", "replica.lag.time.max.ms=2000")
	addr := c.brokers[1].Addr()
	c.waitBrokers(addr, 0, 1, 2)
	topic := topicName(t)
	adm := kadm.NewClient(newClient(t, addr, kgoSeeds(c)...))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 6, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	preferredBy := func(id int32) (n int) {
		for _, p := range c.metadata(addr).Topics[topic].Partitions {
			if p.Replicas[0] == id && p.Leader == id {
				n++
			}
		}
		return n
	}
	slot := c.slotOf(0)
	if preferredBy(0) != 2 {
		t.Fatalf("broker 0 prefers and leads %d partitions before the failure, want 2", preferredBy(0))
	}
	c.brokers[slot].kill()
	waitFor(t, 30*time.Second, "failover away from broker 0", func() bool { return preferredBy(0) == 0 })
	c.brokers[slot].restart()
	waitFor(t, 30*time.Second, "broker 0 back in every ISR", func() bool {
		for _, p := range c.metadata(addr).Topics[topic].Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})

	// A client that knows the current controller: ElectLeaders goes to the
	// controller, and the one before the failure may have been broker 0.
	adm = kadm.NewClient(newClient(t, addr, kgoSeeds(c)...))
	results, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}, 3: {}, 4: {}, 5: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results[topic]) != 6 {
		t.Fatalf("ElectLeaders answered for %d partitions, want 6: %+v", len(results[topic]), results)
	}
	for _, ps := range results {
		for p, r := range ps {
			if r.Err != nil && !errors.Is(r.Err, kerr.ElectionNotNeeded) {
				t.Errorf("partition %d: %v", p, r.Err)
			}
		}
	}
	// Metadata follows the election through each broker's etcd watch.
	waitFor(t, 10*time.Second, "broker 0 leading its 2 preferred partitions", func() bool { return preferredBy(0) == 2 })
}
