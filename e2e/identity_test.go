package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/cluster/clustertest"
)

// TestFreshDiskNeverLeads is the spot failure that used to lose
// acknowledged records: three brokers, RF 3, min.insync.replicas 2,
// acknowledged records; brokers 2 and 1 die (the ISR shrinks to {0}), then
// broker 0. A replacement comes up under id 0 on an empty disk while the
// others are still down. It must not lead: its copy is not the one the
// ISR named. Brokers 1 and 2 return on their disks; broker 1 left the ISR
// when it was below min.insync.replicas, so it holds every acknowledged
// record and leads (an eligible leader replica); the fresh broker copies
// the log from it and joins the ISR. Nothing acknowledged is lost.
func TestFreshDiskNeverLeads(t *testing.T) {
	c := startCluster(t, 3, nil, "broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=500",
		"replica.lag.time.max.ms=3000", "replica.fetch.wait.max.ms=100")
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2)
	topic := topicName(t)
	const partitions = 3
	state := etcdPartitions(t, c, topic, partitions)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	two := "2"
	waitFor(t, 20*time.Second, "the topic to be created", func() bool {
		resp, err := adm.CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": &two}, topic)
		if err == nil {
			err = resp.Err
		}
		return err == nil
	})

	// 5,000 records acknowledged by all three replicas.
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	acked := map[string]int64{} // value -> offset, per partition below
	ackedIn := map[string]int32{}
	recs := make([]*kgo.Record, 5000)
	for i := range recs {
		recs[i] = &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("acks=all produce: %v", err)
	}
	for _, r := range recs {
		acked[string(r.Value)], ackedIn[string(r.Value)] = r.Offset, r.Partition
	}
	cl.Close()

	// Broker 2 dies: the ISRs shrink to {0, 1}, still at the minimum, so
	// broker 2 is not eligible. Then broker 1: the ISRs fall to {0},
	// below the minimum, and broker 1 becomes an eligible leader replica.
	c.brokers[2].kill()
	state.wait("broker 2 out of every ISR", func(p cluster.PartitionState) bool {
		return slices.Equal(sorted(p.ISR), []int32{0, 1}) && len(p.ELR) == 0
	})
	c.brokers[1].kill()
	state.wait("ISR {0}, ELR {1}", func(p cluster.PartitionState) bool {
		return p.Leader == 0 && slices.Equal(p.ISR, []int32{0}) && slices.Equal(p.ELR, []int32{1})
	})
	// Broker 0 dies too. No controller is left to record it: the states
	// still name it leader and sole ISR member.
	c.brokers[0].kill()
	// A replacement instance comes up once the old one's session has
	// expired (before that, its id is held by a live registration with
	// another directory, and a broker configured with it refuses to
	// start).
	state.waitGone("/" + c.namespace + "/brokers/0")

	// The replacement: id 0, an empty data directory. It is the only live
	// broker and so the controller. Its registration names a new
	// directory, so the copy the states record for broker 0 is gone: it
	// leaves the ISR, and with no live ISR or eligible member every
	// partition goes offline instead of being led by an empty log.
	fresh := c.add("broker.id=0")
	state.wait("every partition offline, only broker 1 eligible", func(p cluster.PartitionState) bool {
		return p.Leader == cluster.NoLeader && len(p.ISR) == 0 && slices.Equal(p.ELR, []int32{1}) && p.Dirs[0] == ""
	})
	if id := brokerIDAt(t, fresh.Addr()); id != 0 {
		t.Fatalf("replacement has id %d, want 0", id)
	}

	// The old brokers return on their disks: broker 1 leads, broker 2
	// follows, and the fresh broker 0 copies the log and joins the ISR.
	c.brokers[1].restart()
	c.brokers[2].restart()
	state.wait("broker 1 leading, every replica in sync", func(p cluster.PartitionState) bool {
		return p.Leader == 1 && slices.Equal(sorted(p.ISR), []int32{0, 1, 2}) && len(p.ELR) == 0
	})

	verify := func(from string) {
		t.Helper()
		left := maps.Clone(acked)
		for _, r := range consumeN(t, from, topic, len(acked)) {
			v := string(r.Value)
			if off, ok := left[v]; ok && (off != r.Offset || ackedIn[v] != r.Partition) {
				t.Fatalf("record %s acknowledged at %d/%d, read at %d/%d", v, ackedIn[v], off, r.Partition, r.Offset)
			}
			delete(left, v)
		}
		if len(left) > 0 {
			t.Fatalf("%d acknowledged records lost", len(left))
		}
	}
	verify(fresh.Addr())

	// The fresh broker holds a full copy: with the others gone again it
	// leads (an ISR member), and every acknowledged record is read from
	// it alone.
	c.brokers[2].kill()
	state.wait("broker 2 out of every ISR", func(p cluster.PartitionState) bool {
		return slices.Equal(sorted(p.ISR), []int32{0, 1})
	})
	c.brokers[1].kill()
	state.wait("the fresh broker leading", func(p cluster.PartitionState) bool { return p.Leader == 0 })
	verify(fresh.Addr())
}

// partitionWatch reads partition states straight from etcd, as an
// operator would with etcdctl: Metadata shows neither eligible replicas
// nor recorded directories.
type partitionWatch struct {
	t          *testing.T
	store      *cluster.Store
	keys       []string
	partitions int32
}

// etcdPartitions returns a watch on the partitions of topic in c's etcd.
func etcdPartitions(t *testing.T, c *testCluster, topic string, partitions int32) *partitionWatch {
	store, err := cluster.Connect(context.Background(), clustertest.Etcd(t), c.namespace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := &partitionWatch{t: t, store: store, partitions: partitions}
	for p := range partitions {
		w.keys = append(w.keys, fmt.Sprintf("/%s/partitions/%s/%d", c.namespace, topic, p))
	}
	return w
}

// wait waits until every partition's state satisfies cond.
func (w *partitionWatch) wait(what string, cond func(cluster.PartitionState) bool) {
	w.t.Helper()
	var last []cluster.PartitionState
	deadline := time.Now().Add(60 * time.Second)
	for {
		last = w.read()
		ok := len(last) == int(w.partitions)
		for _, p := range last {
			ok = ok && cond(p)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s; partition states: %+v", what, last)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// waitGone waits until key does not exist.
func (w *partitionWatch) waitGone(key string) {
	w.t.Helper()
	waitFor(w.t, 30*time.Second, key+" to expire", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := w.store.Client().Get(ctx, key)
		return err == nil && len(resp.Kvs) == 0
	})
}

func (w *partitionWatch) read() []cluster.PartitionState {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []cluster.PartitionState
	for _, key := range w.keys {
		resp, err := w.store.Client().Get(ctx, key)
		if err != nil || len(resp.Kvs) == 0 {
			return nil
		}
		var p cluster.PartitionState
		if err := json.Unmarshal(resp.Kvs[0].Value, &p); err != nil {
			w.t.Fatalf("%s: %v", key, err)
		}
		out = append(out, p)
	}
	return out
}

func sorted(ids []int32) []int32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
