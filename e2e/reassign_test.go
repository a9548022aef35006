package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReassignPartition moves a partition with data, under acks=all
// production, from brokers [a b] to [c d] with kadm (KIP-455): the move
// completes on its own once c and d are in sync, leadership leaves the
// removed leader, every acknowledged record is read back exactly once at
// its offset, and a and b delete their copies.
func TestReassignPartition(t *testing.T) {
	c := startCluster(t, 4, nil)
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2, 3)
	topic := topicName(t)
	cl := newClient(t, addr, kgo.SeedBrokers(c.bootstrap()...))
	adm := kadm.NewClient(cl)
	from := createRF2(t, cl, topic)
	to := others(from, 4)
	checkReassignmentErrors(t, cl, topic, to)

	run := startProducing(t, addr, topic, 5_000)
	alterReassignment(t, adm, topic, to)
	t.Logf("reassigning %s-0 from %v to %v", topic, from, to)
	started := time.Now()

	waitFor(t, 20*time.Second, "the reassignment to complete", func() bool {
		if len(listReassignments(t, adm, topic)) > 0 {
			return false
		}
		p := partition0(t, cl, topic)
		return slices.Equal(p.Replicas, to) && slices.Equal(slices.Sorted(slices.Values(p.ISR)), to)
	})
	t.Logf("reassignment complete after %v", time.Since(started).Round(time.Millisecond))
	if l := partition0(t, cl, topic).Leader; !slices.Contains(to, l) {
		t.Fatalf("leader %d after the move to %v", l, to)
	}
	acked := run.ackedCount()
	waitFor(t, 20*time.Second, "acknowledgements on the new replicas", func() bool { return run.ackedCount() >= acked+1_000 })
	run.finish(c.brokers[to[0]].Addr())

	for _, id := range from {
		dir := filepath.Join(c.brokers[id].dataDir, topic+"-0")
		waitFor(t, 10*time.Second, "broker "+itoa(id)+" to delete "+dir, func() bool {
			_, err := os.Stat(dir)
			return errors.Is(err, os.ErrNotExist)
		})
	}
}

// TestCancelReassignment starts a move from [a b] to [c d] that cannot
// finish (d is frozen with SIGSTOP, so it never catches up), cancels it
// once c is in sync, and checks that the partition is back on [a b] with
// its leader and epoch, that c deleted the copy it had made, and that
// production never noticed.
func TestCancelReassignment(t *testing.T) {
	c := startCluster(t, 4, nil)
	addr := c.brokers[0].Addr()
	c.waitBrokers(addr, 0, 1, 2, 3)
	topic := topicName(t)
	from := createRF2(t, newClient(t, addr), topic)
	to := others(from, 4)
	// The frozen broker must not be the controller, which answers the
	// reassignment requests; the clients' seed is a broker of from.
	if ctrl := c.metadata(c.brokers[to[0]].Addr()).Controller; ctrl == to[1] {
		to[0], to[1] = to[1], to[0]
	}
	keep, frozen := to[0], to[1]
	seed := c.brokers[from[0]].Addr()
	var before kadm.PartitionDetail
	waitFor(t, 10*time.Second, "the topic in "+seed+"'s metadata", func() bool {
		before = c.metadata(seed).Topics[topic].Partitions[0]
		return len(before.Replicas) == 2
	})

	run := startProducing(t, seed, topic, 2_000)
	c.pause(int(frozen))
	// Fresh clients from here on: a long-lived one may send its metadata
	// requests to the frozen broker and wait for it.
	withAdmin(t, seed, func(adm *kadm.Client) { alterReassignment(t, adm, topic, to) })
	waitFor(t, 20*time.Second, "broker "+itoa(keep)+" in the ISR", func() bool {
		return slices.Contains(c.metadata(seed).Topics[topic].Partitions[0].ISR, keep)
	})
	withAdmin(t, seed, func(adm *kadm.Client) {
		ongoing := listReassignments(t, adm, topic)
		if len(ongoing) != 1 || !slices.Equal(ongoing[0].AddingReplicas, to) || !slices.Equal(slices.Sorted(slices.Values(ongoing[0].RemovingReplicas)), from) {
			t.Fatalf("ongoing reassignments %+v; want %s-0 adding %v, removing %v", ongoing, topic, to, from)
		}
		var req kadm.AlterPartitionAssignmentsReq
		req.CancelAssign(topic, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := adm.AlterPartitionAssignments(ctx, req)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("cancelling: %v", err)
		}
		if ongoing := listReassignments(t, adm, topic); len(ongoing) != 0 {
			t.Fatalf("ongoing reassignments after the cancel: %+v", ongoing)
		}
	})
	after := c.metadata(seed).Topics[topic].Partitions[0]
	if !slices.Equal(after.Replicas, before.Replicas) || after.Leader != before.Leader || after.LeaderEpoch != before.LeaderEpoch {
		t.Fatalf("after the cancel: replicas %v leader %d epoch %d; before: %v, %d, %d",
			after.Replicas, after.Leader, after.LeaderEpoch, before.Replicas, before.Leader, before.LeaderEpoch)
	}
	dir := filepath.Join(c.brokers[keep].dataDir, topic+"-0")
	waitFor(t, 10*time.Second, "broker "+itoa(keep)+" to delete "+dir, func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist)
	})
	acked := run.ackedCount()
	waitFor(t, 20*time.Second, "more acknowledgements", func() bool { return run.ackedCount() >= acked+1_000 })
	run.finish(seed)
}

// checkReassignmentErrors checks the error codes of bad requests, and
// that brokers other than the controller refuse reassignment requests.
func checkReassignmentErrors(t *testing.T, cl *kgo.Client, topic string, to []int32) {
	t.Helper()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic+"-missing", 0, to)
	req.Assign(topic, 1, to)
	req.Assign(topic, 0, []int32{to[0], to[0]})
	res, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for tp, want := range map[[2]any]error{
		{topic + "-missing", int32(0)}: kerr.UnknownTopicOrPartition,
		{topic, int32(1)}:              kerr.UnknownTopicOrPartition,
		{topic, int32(0)}:              kerr.InvalidReplicaAssignment,
	} {
		if got := res[tp[0].(string)][tp[1].(int32)].Err; !errors.Is(got, want) {
			t.Errorf("reassigning %v-%v: error %v, want %v", tp[0], tp[1], got, want)
		}
	}
	req = nil
	req.Assign(topic, 0, []int32{to[0], 99})
	if res, err = adm.AlterPartitionAssignments(ctx, req); err != nil || !errors.Is(res.Error(), kerr.InvalidReplicaAssignment) {
		t.Errorf("reassigning to an unknown broker: %v, %v; want INVALID_REPLICA_ASSIGNMENT", err, res.Error())
	}
	req = nil
	req.CancelAssign(topic, 0)
	if res, err = adm.AlterPartitionAssignments(ctx, req); err != nil || !errors.Is(res.Error(), kerr.NoReassignmentInProgress) {
		t.Errorf("cancelling nothing: %v, %v; want NO_REASSIGNMENT_IN_PROGRESS", err, res.Error())
	}

	m, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := (m.Controller + 1) % int32(len(m.Brokers))
	resp, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, cl.Broker(int(other)))
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, kerr.NotController) {
		t.Errorf("ListPartitionReassignments to broker %d, not the controller (%d): %v, want NOT_CONTROLLER", other, m.Controller, err)
	}
}

// createRF2 creates topic with one partition on two brokers and returns
// them, sorted.
func createRF2(t *testing.T, cl *kgo.Client, topic string) []int32 {
	t.Helper()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 1, 2, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	// The broker that answers the metadata may apply the creation later
	// than the one that created it.
	var replicas []int32
	waitFor(t, 10*time.Second, "the new topic in the metadata", func() bool {
		replicas = partition0(t, cl, topic).Replicas
		return len(replicas) == 2
	})
	return slices.Sorted(slices.Values(replicas))
}

// others returns the broker ids below n that are not in ids, sorted.
func others(ids []int32, n int32) []int32 {
	var out []int32
	for id := range n {
		if !slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	return out
}

// startProducing starts an idempotent acks=all producer on topic, seeded
// with one broker, which retries through leader changes (see failoverRun).
// It returns once the first initial records, produced at once rather than
// one a millisecond, are acknowledged.
func startProducing(t *testing.T, seed, topic string, initial int) *failoverRun {
	t.Helper()
	r := &failoverRun{
		t:     t,
		topic: topic,
		acked: map[string]ackedAt{},
		stop:  make(chan struct{}),
		cl: newClient(t, seed,
			kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordRetries(1_000_000),
			kgo.RecordDeliveryTimeout(time.Minute),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
			kgo.MaxBufferedRecords(2_000),
		),
	}
	recs := make([]*kgo.Record, initial)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(strconv.Itoa(i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", initial, err)
	}
	for _, rec := range recs {
		r.acked[string(rec.Value)] = ackedAt{rec.Partition, rec.Offset, time.Now()}
	}
	r.sent = initial
	r.done.Add(1)
	go r.produce()
	return r
}

// alterReassignment asks for partition 0 of topic to move to target.
func alterReassignment(t *testing.T, adm *kadm.Client, topic string, target []int32) {
	t.Helper()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, target)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("reassigning %s-0 to %v: %v", topic, target, err)
	}
}

// listReassignments returns the ongoing reassignments of topic's
// partition 0.
func listReassignments(t *testing.T, adm *kadm.Client, topic string) []kadm.ListPartitionReassignmentsResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Sorted()
}

// partition0 returns partition 0 of topic as the metadata shows it,
// asked afresh: kadm's Metadata may answer from the client's cache, which
// would hide a change for up to metadata.min.age.
func partition0(t *testing.T, cl *kgo.Client, topic string) kmsg.MetadataResponseTopicPartition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range resp.Topics {
		for _, mp := range mt.Partitions {
			if mp.Partition == 0 {
				return mp
			}
		}
	}
	return kmsg.MetadataResponseTopicPartition{}
}

// withAdmin runs fn with an admin client seeded with addr alone, closed
// when fn returns.
func withAdmin(t *testing.T, addr string, fn func(*kadm.Client)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fn(kadm.NewClient(cl))
}
