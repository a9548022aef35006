package partition

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/record"
)

// openTest opens a partition in a fresh directory with a running syncer.
func openTest(t *testing.T, minISR int) *Partition {
	t.Helper()
	syncer := log.NewSyncer(slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { syncer.Run(ctx) })
	p, err := Open(t.TempDir(), ID{Topic: "t", Partition: 0}, [16]byte{1}, log.Config{SegmentBytes: 1 << 20},
		Config{FlushOnAck: true, MaxMessageBytes: 1 << 20, MinInsyncReplicas: minISR}, syncer, slog.Default())
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

// produce appends a one-record batch as leader.
func produce(t *testing.T, p *Partition) AppendResult {
	t.Helper()
	b := record.Build([]record.Record{{Value: []byte("v")}}, time.Now().UnixMilli())
	h, err := record.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Append(b, h, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func waitDurable(t *testing.T, p *Partition, off int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !p.WaitDurable(ctx, off) {
		t.Fatalf("not durable up to %d", off)
	}
}

// TestLeaderFollowerRoundTrip replicates between two partitions on disk
// the way the fetcher and the fetch handler do, and checks the high
// watermark, the ISR decisions and the acks=all outcomes.
func TestLeaderFollowerRoundTrip(t *testing.T) {
	leader, fol := openTest(t, 2), openTest(t, 2)
	state := LeaderState{Self: 1, Epoch: 3, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}
	if became, err := leader.Lead(state); err != nil || !became {
		t.Fatalf("Lead = %v, %v", became, err)
	}
	if changed, wasLeader := fol.BecomeFollower(1, 3); !changed || wasLeader {
		t.Fatalf("BecomeFollower = %v, %v", changed, wasLeader)
	}
	if n := leader.ISRSize(); n != 2 {
		t.Fatalf("ISRSize = %d", n)
	}

	res := produce(t, leader)
	produce(t, leader)
	waitDurable(t, leader, 2)
	if hw := leader.HighWatermark(); hw != 0 {
		t.Fatalf("hw = %d before the follower fetched, want 0", hw)
	}
	// Consumers see nothing above the high watermark.
	if r, err := leader.Read(0, 1<<20, -1); err != nil || len(r.Records) != 0 {
		t.Fatalf("consumer read = %d bytes, %v", len(r.Records), err)
	}

	// The follower fetches from 0: it gets the records, and reporting
	// offset 0 does not move the high watermark.
	now := time.Now()
	r, err := leader.ReadReplica(2, "", 0, 1<<20, 3, now)
	if err != nil || len(r.Records) == 0 || r.HighWatermark != 0 {
		t.Fatalf("ReadReplica = %d bytes, hw %d, %v", len(r.Records), r.HighWatermark, err)
	}
	end, err := fol.AppendFromLeader(3, r.Records)
	if err != nil || end != 2 {
		t.Fatalf("AppendFromLeader = %d, %v", end, err)
	}
	if e, ok := fol.LatestEpoch(); !ok || e != 3 {
		t.Fatalf("follower epoch = %d, %v", e, ok)
	}
	waitDurable(t, fol, end)
	// The next fetch reports the durable offset 2: the batch commits.
	if _, err := leader.ReadReplica(2, "", end, 1<<20, 3, now); err != nil {
		t.Fatal(err)
	}
	if hw := leader.HighWatermark(); hw != 2 {
		t.Fatalf("hw = %d, want 2", hw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := leader.WaitAcked(ctx, res, true); err != nil {
		t.Fatalf("WaitAcked = %v", err)
	}

	// Stale epochs and offsets past the leader's end are refused.
	if _, err := leader.ReadReplica(2, "", 2, 1<<20, 2, now); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Errorf("stale epoch: %v", err)
	}
	if _, err := leader.ReadReplica(2, "", 5, 1<<20, 3, now); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Errorf("past the end: %v", err)
	}
	if _, err := leader.ReadReplica(7, "", 0, 1<<20, 3, now); !errors.Is(err, ErrNotLeader) {
		t.Errorf("not a replica: %v", err)
	}

	// The follower stops fetching: after the lag it leaves the ISR, and
	// the write that was waiting for it completes with
	// NOT_ENOUGH_REPLICAS_AFTER_APPEND (min.insync.replicas=2).
	res = produce(t, leader)
	lag := time.Second
	if _, ok := leader.ProposeISRChange(now.Add(lag), ISRRules{LagMax: lag}); ok {
		t.Fatal("shrink proposed before the lag passed")
	}
	change, ok := leader.ProposeISRChange(now.Add(lag+time.Millisecond), ISRRules{LagMax: lag})
	if !ok || !slices.Equal(change.Remove, []int32{2}) || len(change.Add) != 0 || change.Epoch != 3 {
		t.Fatalf("ProposeISRChange = %+v, %v", change, ok)
	}
	if _, ok := leader.ProposeISRChange(now.Add(lag+time.Millisecond), ISRRules{LagMax: lag}); ok {
		t.Fatal("second change proposed while one is in flight")
	}
	shrunk := state
	shrunk.PartitionEpoch, shrunk.ISR = 2, []int32{1}
	leader.FinishISRChange(&shrunk)
	if err := leader.WaitAcked(ctx, res, true); !errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("WaitAcked after shrink = %v", err)
	}
	// A lagging snapshot with the old ISR does not undo the change.
	if _, err := leader.Lead(state); err != nil || leader.ISRSize() != 1 {
		t.Fatalf("stale state applied: ISR size %d, %v", leader.ISRSize(), err)
	}

	// The follower catches up: it may rejoin.
	r, err = leader.ReadReplica(2, "", 2, 1<<20, 3, now)
	if err != nil {
		t.Fatal(err)
	}
	end, err = fol.AppendFromLeader(3, r.Records)
	if err != nil {
		t.Fatal(err)
	}
	waitDurable(t, fol, end)
	if _, err := leader.ReadReplica(2, "", end, 1<<20, 3, now); err != nil {
		t.Fatal(err)
	}
	// A caught-up follower that may not join (dead or draining, by the
	// metadata) is not proposed.
	if change, ok := leader.ProposeISRChange(now, ISRRules{LagMax: lag, Joinable: func(int32) bool { return false }}); ok {
		t.Fatalf("proposed a vetoed follower: %+v", change)
	}
	change, ok = leader.ProposeISRChange(now, ISRRules{LagMax: lag})
	if !ok || !slices.Equal(change.Add, []int32{2}) {
		t.Fatalf("expand = %+v, %v", change, ok)
	}
	leader.FinishISRChange(nil) // the write failed: nothing changes
	if leader.ISRSize() != 1 {
		t.Fatalf("ISR size %d after a failed change", leader.ISRSize())
	}

	// Leadership moves: a waiting write fails with NOT_LEADER, the old
	// leader refuses produce, and the follower refuses stale writes.
	res = produce(t, leader)
	if changed, wasLeader := leader.BecomeFollower(2, 4); !changed || !wasLeader {
		t.Fatalf("BecomeFollower = %v, %v", changed, wasLeader)
	}
	if err := leader.WaitAcked(ctx, res, true); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("WaitAcked after demotion = %v", err)
	}
	b := record.Build([]record.Record{{Value: []byte("v")}}, 0)
	h, _ := record.Validate(b)
	if _, err := leader.Append(b, h, 0); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Append on follower = %v", err)
	}
	if _, err := fol.AppendFromLeader(4, r.Records); !errors.Is(err, ErrNotFollowing) {
		t.Fatalf("AppendFromLeader at an epoch not followed = %v", err)
	}
}

// TestTruncateFromLeader checks that truncation moves the log end, durable
// offset and high watermark down together.
func TestTruncateFromLeader(t *testing.T) {
	leader, fol := openTest(t, 1), openTest(t, 1)
	if err := leader.BecomeLeader(1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		produce(t, leader)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !leader.WaitHighWatermark(ctx, 3) {
		t.Fatal("hw did not reach 3")
	}
	r, err := leader.Read(0, 1<<20, -1)
	if err != nil {
		t.Fatal(err)
	}
	fol.BecomeFollower(9, 1)
	end, err := fol.AppendFromLeader(1, r.Records)
	if err != nil {
		t.Fatal(err)
	}
	waitDurable(t, fol, end)
	fol.FollowLeaderHighWatermark(10)
	if hw := fol.HighWatermark(); hw != 3 {
		t.Fatalf("follower hw = %d, want 3 (capped at its log end)", hw)
	}
	if err := fol.TruncateFromLeader(1, 1); err != nil {
		t.Fatal(err)
	}
	if fol.LogEndOffset() != 1 || fol.DurableOffset() != 1 || fol.HighWatermark() != 1 {
		t.Fatalf("after truncation: end %d durable %d hw %d", fol.LogEndOffset(), fol.DurableOffset(), fol.HighWatermark())
	}
	if err := fol.TruncateFromLeader(2, 0); !errors.Is(err, ErrNotFollowing) {
		t.Fatalf("truncation at another epoch = %v", err)
	}
}

// TestResetFromLeader: a follower whose log ends below the leader's log
// start starts over there, and continues from it.
func TestResetFromLeader(t *testing.T) {
	leader, fol := openTest(t, 1), openTest(t, 1)
	if err := leader.BecomeLeader(1); err != nil {
		t.Fatal(err)
	}
	produce(t, leader)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !leader.WaitHighWatermark(ctx, 1) {
		t.Fatal("hw did not reach 1")
	}
	r, err := leader.Read(0, 1<<20, -1)
	if err != nil {
		t.Fatal(err)
	}
	fol.BecomeFollower(9, 1)
	if _, err := fol.AppendFromLeader(1, r.Records); err != nil {
		t.Fatal(err)
	}
	if err := fol.ResetFromLeader(2, 100); !errors.Is(err, ErrNotFollowing) {
		t.Fatalf("reset at another epoch = %v", err)
	}
	if err := fol.ResetFromLeader(1, 100); err != nil {
		t.Fatal(err)
	}
	if fol.LogStartOffset() != 100 || fol.LogEndOffset() != 100 || fol.DurableOffset() != 100 || fol.HighWatermark() != 100 {
		t.Fatalf("after reset: start %d end %d durable %d hw %d", fol.LogStartOffset(), fol.LogEndOffset(), fol.DurableOffset(), fol.HighWatermark())
	}
	// The leader's records from its log start on continue the follower's.
	batch := append([]byte(nil), r.Records...)
	record.SetBaseOffset(batch, 100)
	end, err := fol.AppendFromLeader(1, batch)
	if err != nil || end != 101 {
		t.Fatalf("append at the new start: end %d, %v", end, err)
	}
}

// TestStrictMinISR checks that a leader whose ISR is below
// min.insync.replicas advances no high watermark, even for acks=1 writes
// (so that the eligible replicas hold everything ever committed), and that
// it commits again once a follower rejoins; and that a follower fetching
// for another copy than the one recorded (a fresh disk under its id) does
// not count.
func TestStrictMinISR(t *testing.T) {
	leader := openTest(t, 2)
	state := LeaderState{Self: 1, Epoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1}, ELR: []int32{2},
		Dirs: map[int32]string{1: "d1", 2: "d2"}, SelfDir: "d1"}
	if _, err := leader.Lead(state); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := produce(t, leader)
	if err := leader.WaitAcked(ctx, res, false); err != nil {
		t.Fatalf("acks=1: %v", err)
	}
	if err := leader.WaitAcked(ctx, res, true); !errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("acks=all below min ISR: %v", err)
	}
	if hw := leader.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d below min ISR, want 0", hw)
	}

	// Broker 2 comes back on a fresh disk: it is lost, not counted.
	now := time.Now()
	if _, err := leader.ReadReplica(2, "fresh", 0, 1<<20, 1, now); err != nil {
		t.Fatal(err)
	}
	change, ok := leader.ProposeISRChange(now, ISRRules{LagMax: time.Minute})
	if !ok || !slices.Equal(change.Lost, []int32{2}) || len(change.Add) != 0 {
		t.Fatalf("ProposeISRChange = %+v, %v; want broker 2's copy lost", change, ok)
	}
	lost := state
	lost.PartitionEpoch, lost.ELR, lost.Dirs = 2, nil, map[int32]string{1: "d1"}
	leader.FinishISRChange(&lost)

	// Broker 3 catches up and joins (broker 2 is kept out by joinable):
	// the ISR is at min again, and the high watermark advances.
	end := leader.LogEndOffset()
	if _, err := leader.ReadReplica(3, "d3", end, 1<<20, 1, now); err != nil {
		t.Fatal(err)
	}
	change, ok = leader.ProposeISRChange(now, ISRRules{LagMax: time.Minute, Joinable: func(id int32) bool { return id == 3 }})
	if !ok || !slices.Equal(change.Add, []int32{3}) || change.Dirs[3] != "d3" {
		t.Fatalf("ProposeISRChange = %+v, %v; want broker 3 to join on d3", change, ok)
	}
	joined := lost
	joined.PartitionEpoch, joined.ISR, joined.Dirs = 3, []int32{1, 3}, map[int32]string{1: "d1", 3: "d3"}
	leader.FinishISRChange(&joined)
	if _, err := leader.ReadReplica(3, "d3", end, 1<<20, 1, now); err != nil {
		t.Fatal(err)
	}
	if hw := leader.HighWatermark(); hw != end {
		t.Fatalf("high watermark %d at min ISR, want %d", hw, end)
	}
}
