package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupCoordinatorFailover: in a three-broker cluster
// __consumer_offsets has three replicas, so committed offsets survive the
// SIGKILL of the group coordinator's broker: the new leader of the group's
// offsets partition loads them and answers OffsetFetch with them.
func TestGroupCoordinatorFailover(t *testing.T) {
	c := startCluster(t, 3, nil, "broker.session.timeout.ms=2000", "broker.heartbeat.interval.ms=500",
		"replica.lag.time.max.ms=2000", "offsets.topic.num.partitions=6")
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2)
	topic := topicName(t)
	adm := kadm.NewClient(newClient(t, addr, kgoSeeds(c)...))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, 3, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	const group = "failover-group"
	commits := kadm.Offsets{}
	for p := range int32(3) {
		commits.AddOffset(topic, p, int64(100+p), -1)
	}
	if resp, err := adm.CommitOffsets(ctx, group, commits); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	if meta := c.metadata(addr).Topics["__consumer_offsets"]; len(meta.Partitions) != 6 || len(meta.Partitions[0].Replicas) != 3 {
		t.Fatalf("__consumer_offsets: %d partitions, replicas %v; want 6 with 3 replicas", len(meta.Partitions), meta.Partitions[0].Replicas)
	}

	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	found, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil || found.ErrorCode != 0 {
		t.Fatalf("find coordinator: %v %+v", err, found)
	}
	coordinator := found.NodeID
	slot := c.slotOf(coordinator)
	c.brokers[slot].kill()
	t.Logf("SIGKILLed the coordinator, broker %d", coordinator)

	// Wait until the survivors name a new coordinator: a client that asked
	// before the controller acted would keep the dead one (franz-go keeps a
	// coordinator it cannot dial), which says nothing about the offsets.
	survivor := c.brokers[(slot+1)%3].Addr()
	finder := newClient(t, survivor)
	waitFor(t, 30*time.Second, "a new coordinator", func() bool {
		f, err := req.RequestWith(ctx, finder)
		return err == nil && f.ErrorCode == 0 && f.NodeID != coordinator
	})
	fresh := kadm.NewClient(newClient(t, survivor))
	waitFor(t, 30*time.Second, "the committed offsets from the new coordinator", func() bool {
		got, err := fresh.FetchOffsets(ctx, group)
		if err != nil || got.Error() != nil {
			return false
		}
		for p := range int32(3) {
			if o, ok := got.Lookup(topic, p); !ok || o.At != int64(100+p) {
				return false
			}
		}
		return true
	})
}
