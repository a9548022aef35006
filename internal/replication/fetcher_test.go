package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/record"
)

// leaderConn serves a fetcher's requests from a leader partition in the
// same process, as the broker's handlers do (without the wire).
type leaderConn struct {
	p       *partition.Partition
	replica int32
}

func (c *leaderConn) Close() {}

func (c *leaderConn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	switch r := req.(type) {
	case *kmsg.OffsetForLeaderEpochRequest:
		resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition = rp.Partition
				var err error
				sp.LeaderEpoch, sp.EndOffset, err = c.p.EndOffsetForEpoch(rp.LeaderEpoch, rp.CurrentLeaderEpoch)
				sp.ErrorCode = code(err)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	case *kmsg.FetchRequest:
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		poke := make(chan struct{}, 1)
		defer c.p.SubscribeLogEnd(poke)()
		timer := time.NewTimer(time.Duration(r.MaxWaitMillis) * time.Millisecond)
		defer timer.Stop()
		for {
			resp.Topics = nil
			n := 0
			for _, rt := range r.Topics {
				st := kmsg.NewFetchResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewFetchResponseTopicPartition()
					sp.Partition = rp.Partition
					res, err := c.p.ReadReplica(c.replica, "", rp.FetchOffset, int(rp.PartitionMaxBytes), rp.CurrentLeaderEpoch, time.Now())
					sp.ErrorCode = code(err)
					sp.HighWatermark, sp.LogStartOffset, sp.RecordBatches = res.HighWatermark, res.LogStartOffset, res.Records
					n += len(res.Records)
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			if n > 0 {
				return resp, nil
			}
			select {
			case <-poke:
			case <-timer.C:
				return resp, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return nil, fmt.Errorf("unexpected request %T", req)
}

func code(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, partition.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	default:
		return kerr.NotLeaderForPartition.Code
	}
}

func openPartition(t *testing.T) *partition.Partition {
	t.Helper()
	syncer := log.NewSyncer(slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { syncer.Run(ctx) })
	p, err := partition.Open(t.TempDir(), partition.ID{Topic: "t", Partition: 0}, [16]byte{1}, log.Config{SegmentBytes: 1 << 20},
		partition.Config{FlushOnAck: true, MaxMessageBytes: 1 << 20, MinInsyncReplicas: 2}, syncer, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		cancel()
		wg.Wait()
	})
	return p
}

func appendN(t *testing.T, p *partition.Partition, n int, value string) partition.AppendResult {
	t.Helper()
	var res partition.AppendResult
	for range n {
		b := record.Build([]record.Record{{Value: []byte(value)}}, time.Now().UnixMilli())
		h, err := record.Validate(b)
		if err != nil {
			t.Fatal(err)
		}
		if res, err = p.Append(b, h, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFetcherTruncatesAndCatchesUp gives the follower a divergent tail
// (records it wrote as leader of epoch 1 that the new leader of epoch 2
// never had), then lets the fetcher run: the tail goes, the leader's
// records arrive, and acks=all completes once the follower holds them
// durably.
func TestFetcherTruncatesAndCatchesUp(t *testing.T) {
	leader, fol := openPartition(t), openPartition(t)

	// Both logs share 5 records of epoch 1; the follower then wrote 3
	// more as leader of epoch 1 that never replicated.
	if err := fol.BecomeLeader(1); err != nil {
		t.Fatal(err)
	}
	appendN(t, fol, 5, "common")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !fol.WaitHighWatermark(ctx, 5) {
		t.Fatal("follower hw")
	}
	common, err := fol.Read(0, 1<<20, -1)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, fol, 3, "divergent")

	if err := leader.BecomeLeader(1); err != nil {
		t.Fatal(err)
	}
	leader.BecomeFollower(-1, 1)
	if _, err := leader.AppendFromLeader(1, common.Records); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Lead(partition.LeaderState{Self: 1, Epoch: 2, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	res := appendN(t, leader, 4, "new")

	fol.BecomeFollower(1, 2)
	m := New(Config{
		BrokerID: 2, MaxBytes: 1 << 20, PartitionMaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond, MinBytes: 1,
		Backoff: 50 * time.Millisecond, Logger: slog.Default(),
		Dial: func(string) (Requester, error) { return &leaderConn{p: leader, replica: 2}, nil },
	})
	defer m.Close()
	m.SetBrokers(map[int32]string{1: "leader:9092"})
	m.Follow(fol, 1, 2, [16]byte{})

	if err := leader.WaitAcked(ctx, res, true); err != nil {
		t.Fatalf("acks=all: %v", err)
	}
	eventually(t, "follower log end 9", func() bool { return fol.DurableOffset() == 9 })
	got, err := fol.Read(0, 1<<20, -1)
	if err == nil {
		t.Fatalf("a follower served a consumer read (%d bytes)", len(got.Records))
	}
	// Compare the logs batch by batch through the epoch histories and
	// the records themselves.
	if le, fe := leader.LogEndOffset(), fol.LogEndOffset(); le != fe {
		t.Fatalf("log ends differ: leader %d follower %d", le, fe)
	}
	if e, _ := fol.LatestEpoch(); e != 2 {
		t.Errorf("follower latest epoch %d, want 2", e)
	}
	if _, off := fol.LocalEndOffsetFor(1); off != 5 {
		t.Errorf("follower epoch 1 ends at %d, want 5 (the divergent tail went)", off)
	}
	eventually(t, "follower hw 9", func() bool { return fol.HighWatermark() == 9 })

	// More writes keep flowing; the leader stops the fetch by leading
	// elsewhere (a new epoch the follower does not know yet): the
	// fetcher backs off rather than write.
	res = appendN(t, leader, 2, "more")
	if err := leader.WaitAcked(ctx, res, true); err != nil {
		t.Fatalf("acks=all: %v", err)
	}
	m.Unfollow(fol.ID())
	if _, ok := m.Following(fol.ID()); ok {
		t.Fatal("still following after Unfollow")
	}
}
