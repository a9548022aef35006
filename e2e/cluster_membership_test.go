package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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

// TestClusterBrokerIDs checks how brokers without broker.id claim ids,
// above reserved.broker.max.id (1000): a broker restarted on its directory
// gets its id back (meta.properties); a replacement in the rack of a dead
// broker takes over the dead broker's id, and with it its replicas, which
// it copies from the others; the dead broker, back on its old directory,
// then refuses to start; a broker in another rack gets a new id.
func TestClusterBrokerIDs(t *testing.T) {
	// Placement repair is off: the test follows the dead broker's replicas
	// through its replacement, and a new broker's arrival would otherwise
	// move some of them onto it.
	c := newCluster(t, "broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500", "replica.lag.time.max.ms=2000",
		"placement.repair.max.moves=0")
	for _, rack := range []string{"zone-a", "zone-b", "zone-c"} {
		c.add("broker.rack=" + rack)
	}
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 1001, 1002, 1003)
	for i, p := range c.brokers {
		if id := brokerIDAt(t, p.Addr()); id != int32(1001+i) {
			t.Fatalf("broker %d started claimed id %d, want %d", i, id, 1001+i)
		}
	}

	// SIGKILL broker 1002 and restart it on the same directory at once: it
	// reclaims its id without waiting for its old registration to expire.
	c.brokers[1].kill()
	c.brokers[1].restart()
	c.waitBrokers(addr, 1001, 1002, 1003)
	if id := brokerIDAt(t, c.brokers[1].Addr()); id != 1002 {
		t.Fatalf("restarted broker has id %d, want 1002", id)
	}

	// Records that every replica acknowledged.
	topic := topicName(t)
	const partitions, records = 4, 400
	createReplicatedTopic(t, c, topic, partitions)
	var batch []*kgo.Record
	for i := range records {
		batch = append(batch, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	produceAll(t, newClient(t, addr, kgo.SeedBrokers(c.bootstrap()...), kgo.RequiredAcks(kgo.AllISRAcks())), batch)

	// SIGKILL broker 1002 for good. Once its lease has expired (and the
	// controller has taken it out of every ISR), a new broker in its rack,
	// on an empty directory, claims its id...
	dead := c.brokers[1]
	dead.kill()
	c.waitBrokers(addr, 1001, 1003)
	waitFor(t, 30*time.Second, "broker 1002 out of every ISR", func() bool {
		return len(c.metadata(addr).Topics[topic].Partitions) == partitions && c.inISR(addr, topic, 1002) == 0
	})
	replacement := c.add("broker.rack=zone-b")
	c.waitBrokers(addr, 1001, 1002, 1003)
	if id := brokerIDAt(t, replacement.Addr()); id != 1002 {
		t.Fatalf("replacement in zone-b claimed id %d, want the dead broker's 1002", id)
	}
	// ...and copies the dead broker's replicas from the others: it is back
	// in every partition's ISR.
	waitFor(t, 30*time.Second, "the replacement in every ISR", func() bool {
		return c.inISR(addr, topic, 1002) == partitions
	})

	// The dead broker, back on its old directory, finds its id held by the
	// replacement on other directories: it exits at once, naming it.
	dead.launch()
	if err := dead.waitExit(10 * time.Second); err == nil {
		t.Fatalf("old broker 1002 exited with status 0 while its id is held\n%s", dead.Output())
	}
	if out := dead.Output(); !strings.Contains(out, replacement.Addr()) {
		t.Fatalf("old broker 1002's error does not name the replacement at %s:\n%s", replacement.Addr(), out)
	}

	// A broker in another rack gets a new id.
	other := c.add("broker.rack=zone-d")
	if id := brokerIDAt(t, other.Addr()); id != 1004 {
		t.Fatalf("broker in zone-d claimed id %d, want a new id, 1004", id)
	}

	// The replacement's copies hold every record: with the other replicas
	// gone, it leads every partition and serves them all.
	c.brokers[0].kill()
	c.brokers[2].kill()
	waitFor(t, 30*time.Second, "the replacement leading every partition", func() bool {
		ps := c.metadata(replacement.Addr()).Topics[topic].Partitions
		for _, p := range ps {
			if p.Leader != 1002 {
				return false
			}
		}
		return len(ps) == partitions
	})
	got := map[string]bool{}
	for _, r := range consumeN(t, replacement.Addr(), topic, records) {
		got[string(r.Value)] = true
	}
	for _, r := range batch {
		if !got[string(r.Value)] {
			t.Fatalf("record %s missing from the replacement's copies", r.Value)
		}
	}
}

// TestBrokerIDConflict starts a broker configured with the id of a live
// broker: its log directory is not the holder's, so it is another broker,
// not a restart, and it exits at once (long before the holder's session
// could expire) with an error naming the holder's address.
func TestBrokerIDConflict(t *testing.T) {
	const session = 20 * time.Second // a wait for expiry would show
	c := startCluster(t, 1, nil, fmt.Sprintf("broker.session.timeout.ms=%d", session.Milliseconds()))
	holder := c.brokers[0]
	start := time.Now()
	p := launchProcess(t, "coordinator.endpoints="+c.endpoints, "coordinator.namespace="+c.namespace, "broker.id=0")
	err := p.waitExit(session / 2)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("second broker 0 exited with status 0\n%s", p.Output())
	}
	out := p.Output()
	if !strings.Contains(out, holder.Addr()) || !strings.Contains(out, "held by another broker") {
		t.Fatalf("exit message does not name the holder at %s:\n%s", holder.Addr(), out)
	}
	t.Logf("second broker 0 exited %v after start: %v\n%s", took.Round(time.Millisecond), err, out)
	if id := brokerIDAt(t, holder.Addr()); id != 0 {
		t.Fatalf("holder has id %d, want 0", id)
	}
}

// createReplicatedTopic creates topic with replication factor 3, retrying
// while the controller does not see three brokers yet.
func createReplicatedTopic(t *testing.T, c *testCluster, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, c.brokers[0].Addr()))
	var err error
	waitFor(t, 20*time.Second, "the topic to be created", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var resp kadm.CreateTopicResponse
		resp, err = adm.CreateTopic(ctx, partitions, 3, nil, topic)
		if err == nil {
			err = resp.Err
		}
		return !errors.Is(err, kerr.InvalidReplicationFactor)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// inISR returns in how many partitions of topic broker id is in the ISR,
// from addr's metadata.
func (c *testCluster) inISR(addr, topic string, id int32) int {
	c.t.Helper()
	n := 0
	for _, p := range c.metadata(addr).Topics[topic].Partitions {
		if slices.Contains(p.ISR, id) {
			n++
		}
	}
	return n
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
	// Within the replacement grace (a minute by default), the operator
	// sees the member of broker 2 down, on no broker.
	q := quorumStatus(t, addr)
	if len(q.Members) != 3 || q.Down != 1 || q.Leader < 0 || q.Leader == 2 {
		t.Errorf("quorum %+v, want 3 members, one down, led by a live broker", q)
	}
	for _, m := range q.Members {
		if (m.Broker == -1) != (m.State == "down") {
			t.Errorf("member %+v: the member that is down runs on no broker, the others on theirs", m)
		}
	}

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
