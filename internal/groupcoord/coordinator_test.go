package groupcoord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/partition"
)

// testPartitions is the partition count of Topic in these tests.
const testPartitions = 4

// replica is one partition of Topic on disk, with its group-commit loop.
type replica struct {
	t      *testing.T
	dir    string
	id     partition.ID
	syncer *log.Syncer
	stop   func()
	p      *partition.Partition
}

// openReplica opens (or reopens) the replica in dir and makes it lead at
// epoch.
func openReplica(t *testing.T, dir string, index int32, epoch int32) *replica {
	t.Helper()
	syncer := log.NewSyncer(slog.Default())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { syncer.Run(ctx) })
	r := &replica{t: t, dir: dir, id: partition.ID{Topic: Topic, Partition: index}, syncer: syncer}
	r.stop = func() { cancel(); wg.Wait() }
	p, err := partition.Open(dir, r.id, [16]byte{1}, log.Config{SegmentBytes: 16 << 10},
		partition.Config{FlushOnAck: true, MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1}, syncer, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.BecomeLeader(epoch); err != nil {
		t.Fatal(err)
	}
	r.p = p
	return r
}

// close closes the partition cleanly and stops its syncer.
func (r *replica) close() {
	if err := r.p.Close(); err != nil {
		r.t.Error(err)
	}
	r.stop()
}

func newTestCoordinator(compactBytes int64) *Coordinator {
	return New(Config{
		PartitionCount: func() int32 { return testPartitions },
		Group:          group.Config{MinSessionTimeout: time.Millisecond},
		CompactBytes:   compactBytes,
	})
}

// loadedShard waits for the shard coordinating groupID.
func loadedShard(t *testing.T, c *Coordinator, groupID string) *group.Shard {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := c.Shard(groupID)
		if err == nil {
			return s
		}
		if !errors.Is(err, ErrLoading) || time.Now().After(deadline) {
			t.Fatalf("shard of %q: %v", groupID, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// commit commits offset for every partition of topic t (0..n-1) as a simple
// (generation -1) commit.
func commit(t *testing.T, s *group.Shard, groupID, topic string, n int32, offset int64) {
	t.Helper()
	req := group.CommitRequest{Group: groupID, Generation: -1, RetentionOverride: -1}
	for p := range n {
		req.Offsets = append(req.Offsets, group.OffsetCommit{Topic: topic, Partition: p, Offset: offset, LeaderEpoch: -1, Metadata: "m"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results, err := s.CommitOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for tp, err := range results {
		if err != nil {
			t.Fatalf("commit %v: %v", tp, err)
		}
	}
}

// groupOnPartition returns a group id whose coordinator is partition index.
func groupOnPartition(t *testing.T, index int32, nth int) string {
	t.Helper()
	for i := 0; ; i++ {
		id := fmt.Sprintf("g%d", i)
		if group.Partition(id, testPartitions) == index {
			if nth == 0 {
				return id
			}
			nth--
		}
	}
}

func TestLoadAfterReopen(t *testing.T) {
	dir := t.TempDir()
	r := openReplica(t, dir, 1, 1)
	c := newTestCoordinator(1 << 30)
	c.BecameLeader(r.p)
	ids := []string{groupOnPartition(t, 1, 0), groupOnPartition(t, 1, 1)}
	for i, id := range ids {
		commit(t, loadedShard(t, c, id), id, "topic", 3, int64(100*(i+1)))
	}
	if _, err := c.Shard(groupOnPartition(t, 2, 0)); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("group of an unled partition: %v, want ErrNotCoordinator", err)
	}
	c.StoppedLeading(r.p)
	if _, err := c.Shard(ids[0]); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("after StoppedLeading: %v, want ErrNotCoordinator", err)
	}
	c.Close()
	r.close()

	// A new incarnation loads the committed offsets from the log.
	r = openReplica(t, dir, 1, 2)
	defer r.close()
	c = newTestCoordinator(1 << 30)
	defer c.Close()
	c.BecameLeader(r.p)
	for i, id := range ids {
		got, err := loadedShard(t, c, id).FetchOffsets(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("group %s: %d offsets after reload, want 3: %v", id, len(got), got)
		}
		for tp, o := range got {
			if o.Offset != int64(100*(i+1)) || o.Metadata != "m" {
				t.Errorf("group %s %v: %+v after reload", id, tp, o)
			}
		}
	}
}

// TestCompaction commits far more than the live state, so that the log
// rolls many segments, and checks that compaction gives the space back and
// that what remains reloads to the same state.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	r := openReplica(t, dir, 0, 1)
	c := newTestCoordinator(32 << 10)
	c.BecameLeader(r.p)
	id := groupOnPartition(t, 0, 0)
	s := loadedShard(t, c, id)
	for i := range 400 {
		commit(t, s, id, "topic", 8, int64(i))
	}
	grown := r.p.LogSize()
	h := c.loadedShards()[0]
	if err := c.compact(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if r.p.LogStartOffset() == 0 || r.p.LogSize() >= grown/4 {
		t.Fatalf("after compaction: log start %d, %d bytes (was %d)", r.p.LogStartOffset(), r.p.LogSize(), grown)
	}
	// Commits after the rewrite land after it and win on reload.
	commit(t, s, id, "topic", 2, 1000)
	c.Close()
	r.close()

	r = openReplica(t, dir, 0, 2)
	defer r.close()
	c = newTestCoordinator(32 << 10)
	defer c.Close()
	c.BecameLeader(r.p)
	got, err := loadedShard(t, c, id).FetchOffsets(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(8) {
		want := int64(399)
		if p < 2 {
			want = 1000
		}
		if o := got[group.TopicPartition{Topic: "topic", Partition: p}]; o.Offset != want {
			t.Errorf("partition %d: offset %d after compaction and reload, want %d", p, o.Offset, want)
		}
	}
}
