package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/cluster/clustertest"
	"github.com/spotstream/spotstream/internal/record"
)

// TestReplicationISR runs three in-process brokers on one etcd with a
// topic of replication factor 3 and min.insync.replicas=2: acks=all
// writes replicate to every replica; with one follower stopped the ISR
// shrinks and writes go on; with both stopped acks=all fails with
// NOT_ENOUGH_REPLICAS while acks=1 works; restarted followers catch up
// and rejoin the ISR.
func TestReplicationISR(t *testing.T) {
	endpoints := strings.Join(clustertest.Etcd(t), ",")
	namespace := clustertest.Namespace(t)
	dirs := map[int32]string{}
	start := func(id int32) *inProcess {
		if dirs[id] == "" {
			dirs[id] = t.TempDir()
		}
		return startBroker(t,
			"coordinator.endpoints="+endpoints,
			"coordinator.namespace="+namespace,
			fmt.Sprintf("broker.id=%d", id),
			"log.dirs="+dirs[id],
			"replica.lag.time.max.ms=2000",
			"replica.fetch.wait.max.ms=200",
		)
	}
	brokers := map[int32]*inProcess{}
	for id := int32(1); id <= 3; id++ {
		brokers[id] = start(id)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const topic = "replicated"
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers[1].Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	// Placement needs all three registrations in broker 1's metadata.
	// Each probe is a fresh client: kadm's BrokerMetadata answers from
	// the client's cached broker list, which a client whose first fetch
	// came before the other registrations keeps for minutes.
	waitFor(t, 30*time.Second, "three brokers in the metadata", func() bool {
		return len(brokerIDs(brokers[1].Addr())) == 3
	})
	if _, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic); err != nil {
		t.Fatal(err)
	}
	leaderID, _ := partitionState(ctx, t, adm, topic)
	leader := brokers[leaderID]
	var followers []int32
	for id := range brokers {
		if id != leaderID {
			followers = append(followers, id)
		}
	}
	slices.Sort(followers)

	// acks=all, idempotent (franz-go's defaults), through the leader.
	cl, err := kgo.NewClient(kgo.SeedBrokers(leader.Addr()), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceN := func(n int) {
		t.Helper()
		errs := make(chan error, n)
		for i := range n {
			cl.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "record-%d", i)}, func(_ *kgo.Record, err error) { errs <- err })
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatalf("acks=all produce: %v", err)
			}
		}
	}
	produceN(10000)
	// Every acknowledgement waited for the high watermark, which counts
	// only what followers hold durably: both have all of it already.
	for _, id := range followers {
		if end, _, _ := brokers[id].b.LocalLog(topic, 0); end < 10000 {
			t.Fatalf("acks=all returned with follower %d at log end %d < 10000", id, end)
		}
	}

	// Acknowledged means on every ISR member: the high watermark covers
	// all 10,000, and every replica's log converges on the leader's.
	waitFor(t, time.Minute, "replicas converge", func() bool {
		end, hw, _ := leader.b.LocalLog(topic, 0)
		if hw < 10000 || end != hw {
			return false
		}
		for _, id := range followers {
			if fe, _, ok := brokers[id].b.LocalLog(topic, 0); !ok || fe != end {
				return false
			}
		}
		return true
	})

	// One follower stops: the ISR shrinks after replica.lag.time.max.ms
	// and acks=all writes go on with the other.
	if err := brokers[followers[0]].stop(); err != nil {
		t.Fatal(err)
	}
	produceN(500)
	waitFor(t, time.Minute, "ISR of 2", func() bool {
		_, isr := partitionState(ctx, t, adm, topic)
		return len(isr) == 2
	})

	// Both stop: acks=all is refused before appending, acks=1 works.
	if err := brokers[followers[1]].stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "ISR of 1", func() bool {
		_, isr := partitionState(ctx, t, adm, topic)
		return len(isr) == 1
	})
	if code := rawProduce(ctx, t, leader.Addr(), topic, -1); code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all with ISR 1 < min.insync.replicas 2: error %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(code))
	}
	if code := rawProduce(ctx, t, leader.Addr(), topic, 1); code != 0 {
		t.Fatalf("acks=1 with ISR 1: error %v", kerr.ErrorForCode(code))
	}

	// Both come back on their data: they catch up and rejoin.
	for _, id := range followers {
		brokers[id] = start(id)
	}
	waitFor(t, time.Minute, "ISR of 3", func() bool {
		_, isr := partitionState(ctx, t, adm, topic)
		return len(isr) == 3
	})
	produceN(100)
	waitFor(t, time.Minute, "replicas converge after restart", func() bool {
		end, hw, _ := leader.b.LocalLog(topic, 0)
		if hw < 10000+500+1+100 || end != hw {
			return false
		}
		for _, id := range followers {
			if fe, _, ok := brokers[id].b.LocalLog(topic, 0); !ok || fe != end {
				return false
			}
		}
		return true
	})
}

// partitionState returns partition 0's leader and ISR from Metadata.
func partitionState(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) (int32, []int32) {
	t.Helper()
	// The client may ask any broker, and each learns of a new topic
	// through its own etcd watch: retry until it knows.
	var p kadm.PartitionDetail
	waitFor(t, 10*time.Second, "metadata for "+topic, func() bool {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false
		}
		td, ok := md.Topics[topic]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			return false
		}
		p = td.Partitions[0]
		return true
	})
	return p.Leader, p.ISR
}

// rawProduce sends one batch with the given acks straight to the leader,
// without the client's retries, and returns the partition's error code.
func rawProduce(ctx context.Context, t *testing.T, addr, topic string, acks int16) int16 {
	t.Helper()
	// franz-go rewrites a raw produce request's acks to its own setting.
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks())}
	if acks == 1 {
		opts = []kgo.Opt{kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = record.Build([]record.Record{{Value: []byte("raw")}}, time.Now().UnixMilli())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}
