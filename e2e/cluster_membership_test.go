package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// TestClusterRackAwarePlacement runs 6 brokers in 3 racks and creates a
// topic with replication factor 3: every partition's replicas span the 3
// racks, leaders are spread evenly, and Metadata reports each broker's rack.
func TestClusterRackAwarePlacement(t *testing.T) {
	racks := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	c := startCluster(t, 6, racks)
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2, 3, 4, 5)

	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := topicName(t)
	resp, err := adm.CreateTopic(ctx, 12, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	m := c.metadata(addr)
	rackOf := map[int32]string{}
	for _, b := range m.Brokers {
		if b.Rack == nil {
			t.Fatalf("broker %d has no rack in Metadata", b.NodeID)
		}
		rackOf[b.NodeID] = *b.Rack
	}
	if rackOf[0] != racks[0] || rackOf[1] != racks[1] || rackOf[5] != racks[2] {
		t.Fatalf("racks in Metadata %v, want broker i in racks[i%%3]", rackOf)
	}
	leaders := map[int32]int{}
	for _, p := range m.Topics[topic].Partitions {
		seen := map[string]bool{}
		for _, r := range p.Replicas {
			seen[rackOf[r]] = true
		}
		if len(p.Replicas) != 3 || len(seen) != 3 {
			t.Errorf("partition %d: replicas %v span racks %v, want 3 racks", p.Partition, p.Replicas, seen)
		}
		leaders[p.Leader]++
	}
	for id := range int32(6) {
		if leaders[id] != 2 {
			t.Errorf("broker %d leads %d of 12 partitions, want 2 (leaders %v)", id, leaders[id], leaders)
		}
	}

	// The operator's view agrees.
	out, err := exec.Command(spotstreamBinary(t), "cluster", "status", "--json", "--brokers", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("spotstream cluster status: %v\n%s", err, out)
	}
	var status struct {
		Brokers []struct {
			ID    int32  `json:"id"`
			Rack  string `json:"rack"`
			State string `json:"state"`
		} `json:"brokers"`
		Partitions int `json:"partitions"`
		Offline    int `json:"offline"`
	}
	if err := json.Unmarshal(out, &status); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(status.Brokers) != 6 || status.Brokers[4].Rack != racks[1] || status.Brokers[4].State != "running" || status.Offline != 0 || status.Partitions < 12 {
		t.Errorf("cluster status: %s", out)
	}
}

// TestClusterBrokerIDs checks how brokers claim ids: a broker restarted on
// its data directory comes back with its id (from meta.properties), and a
// broker started on an empty directory claims the lowest free id.
func TestClusterBrokerIDs(t *testing.T) {
	c := startCluster(t, 3, nil, "broker.session.timeout.ms=3000")
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2)

	// SIGKILL broker 1 and restart it on the same directory at once: it
	// reclaims id 1 without waiting for its old registration to expire.
	c.brokers[1].kill()
	c.brokers[1].restart()
	c.waitBrokers(addr, 0, 1, 2)
	if id := brokerIDAt(t, c.brokers[1].Addr()); id != 1 {
		t.Fatalf("restarted broker has id %d, want 1", id)
	}

	// SIGKILL broker 1 for good; once its lease expires a new broker on an
	// empty directory takes the lowest free id, 1, not 3.
	c.brokers[1].kill()
	c.waitBrokers(addr, 0, 2)
	p := c.add()
	c.waitBrokers(addr, 0, 1, 2)
	if id := brokerIDAt(t, p.Addr()); id != 1 {
		t.Fatalf("new broker claimed id %d, want the lowest free id 1", id)
	}
}

// brokerIDAt returns the id of the broker listening at addr, from the
// broker list of its own Metadata answer.
func brokerIDAt(t *testing.T, addr string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := kadm.NewClient(newClient(t, addr)).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range m.Brokers {
		if b.Host+":"+itoa(b.Port) == addr {
			return b.NodeID
		}
	}
	t.Fatalf("no broker in the metadata listens at %s: %v", addr, m.Brokers)
	return -1
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestQuorumClusterSurvivesMemberLoss runs the embedded-quorum layout:
// brokers 0-2 each host an etcd member, broker 3 is a client. SIGKILL of a
// member's broker leaves a quorum of two: the cluster still registers
// brokers and creates topics, and the killed broker rejoins on restart.
func TestQuorumClusterSurvivesMemberLoss(t *testing.T) {
	// Losing the etcd leader stalls lease renewals for an etcd election
	// (about a second here); a session shorter than a few seconds would
	// fence the surviving brokers too.
	c := startQuorumCluster(t, 4, "broker.session.timeout.ms=6000", "broker.heartbeat.interval.ms=1000")
	addr := c.brokers[3].Addr()
	c.waitBrokers(addr, 0, 1, 2, 3)

	c.brokers[2].kill()
	c.waitBrokers(addr, 0, 1, 3)
	createTopic(t, c.brokers[0].Addr(), topicName(t), 3, nil)

	c.brokers[2].restart()
	c.waitBrokers(addr, 0, 1, 2, 3)
	if id := brokerIDAt(t, c.brokers[2].Addr()); id != 2 {
		t.Fatalf("restarted member broker has id %d, want 2", id)
	}
}

// TestBrokerRejoinsAfterLosingSession revokes a live broker's lease, as an
// etcd outage longer than its session would end it: the broker stops
// leading (the others take its partitions) but the process stays up and
// rejoins the cluster under the same id.
func TestBrokerRejoinsAfterLosingSession(t *testing.T) {
	c := startCluster(t, 3, nil, "broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500")
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2)
	slot := c.slotOf(2)

	store, err := cluster.Connect(context.Background(), clustertest.Etcd(t), c.namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	key := "/" + c.namespace + "/brokers/2"
	resp, err := store.Client().Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("registration %s: %v %v", key, resp, err)
	}
	if _, err := store.Client().Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "broker 2 to rejoin with a new lease", func() bool {
		r, err := store.Client().Get(ctx, key)
		return err == nil && len(r.Kvs) == 1 && r.Kvs[0].Lease != resp.Kvs[0].Lease
	})
	c.waitBrokers(addr, 0, 1, 2)
	if id := brokerIDAt(t, c.brokers[slot].Addr()); id != 2 {
		t.Fatalf("rejoined broker has id %d, want 2", id)
	}
	if !strings.Contains(c.brokers[slot].Output(), "rejoining the cluster") {
		t.Errorf("no rejoin in the broker's log:\n%s", c.brokers[slot].Output())
	}
}
