package controller

import (
	"testing"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
)

// drainedBrokers returns live(ids...) with the given brokers drained by an
// operator to d.
func drainedBrokers(brokers map[int32]cluster.BrokerInfo, d cluster.Drain, ids ...int32) map[int32]cluster.BrokerInfo {
	for _, id := range ids {
		b := brokers[id]
		b.OperatorDrain = d
		brokers[id] = b
	}
	return brokers
}

func withTemporary(p cluster.PartitionState, ids ...int32) cluster.PartitionState {
	p.Temporary = ids
	return p
}

func TestTemporariesNeeded(t *testing.T) {
	r := []int32{1, 2, 3}
	for _, tc := range []struct {
		name    string
		p       cluster.PartitionState
		brokers map[int32]cluster.BrokerInfo
		minISR  int
		want    int
	}{
		{"nothing drained", state(r, 1, 4, r), live(1, 2, 3, 4), 2, 0},
		{"one drained, two stay", state(r, 1, 4, r), live(1, 2, -3, 4), 2, 0},
		{"two drained, one stays", state(r, 1, 4, r), live(1, -2, -3, 4, 5), 2, 1},
		{"min ISR 3, one drained", state(r, 1, 4, r), live(1, 2, -3, 4), 3, 1},
		{"leadership drains do not count", state(r, 1, 4, r), drainedBrokers(live(1, 2, 3, 4), cluster.DrainLeadership, 2, 3), 2, 0},
		{"operator's full drain counts", state(r, 1, 4, r), drainedBrokers(live(1, 2, 3, 4), cluster.DrainFull, 2, 3), 2, 1},
		{"one dead, one drained", state(r, 1, 4, r), live(1, -3, 4), 2, 1},
		{"dead only: the grace period's business", state(r, 1, 4, r), live(1, 4), 2, 0},
		{"temporary already there", withTemporary(state([]int32{1, 2, 3, 4}, 1, 4, r), 4), live(1, -2, -3, 4), 2, 0},
		{"min ISR above the replication factor", state([]int32{1}, 1, 4, []int32{1}), live(-1, 2), 2, 1},
		{"being reassigned: later", func() cluster.PartitionState { p := state(r, 1, 4, r); p.Adding = []int32{4}; return p }(), live(1, -2, -3, 4), 2, 0},
		{"offline: later", state(r, -1, 4, nil), live(1, -2, -3, 4), 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := temporariesNeeded(&tc.p, tc.brokers, tc.minISR); got != tc.want {
				t.Errorf("temporariesNeeded = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTemporariesDone(t *testing.T) {
	r4 := []int32{1, 2, 3, 4}
	for _, tc := range []struct {
		name    string
		p       cluster.PartitionState
		brokers map[int32]cluster.BrokerInfo
		want    bool
	}{
		{"no temporaries", state(r4, 1, 4, r4), live(1, 2, 3, 4), false},
		{"drained broker still drained", withTemporary(state(r4, 1, 4, r4), 4), live(1, 2, -3, 4), false},
		{"drained broker dead", withTemporary(state(r4, 1, 4, []int32{1, 2, 4}), 4), live(1, 2, 4), false},
		{"replacement not yet in sync", withTemporary(state(r4, 1, 4, []int32{1, 2, 4}), 4), live(1, 2, 3, 4), false},
		{"replacement in sync", withTemporary(state(r4, 1, 4, r4), 4), live(1, 2, 3, 4), true},
		{"the temporary replica itself need not be in sync", withTemporary(state(r4, 1, 4, []int32{1, 2, 3}), 4), live(1, 2, 3), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := temporariesDone(&tc.p, tc.brokers); got != tc.want {
				t.Errorf("temporariesDone = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDrainPending(t *testing.T) {
	r := []int32{1, 2, 3}
	snapOf := func(brokers map[int32]cluster.BrokerInfo, parts ...cluster.PartitionState) *cluster.Snapshot {
		return &cluster.Snapshot{Brokers: brokers, Topics: map[string]*cluster.Topic{
			"t": {Name: "t", Configs: map[string]string{"min.insync.replicas": "2"}, Partitions: parts},
		}}
	}
	for _, tc := range []struct {
		name string
		snap *cluster.Snapshot
		id   int32
		want int
	}{
		{"not drained, leads: still counted", snapOf(live(1, 2, 3), state(r, 1, 4, r)), 1, 1},
		{"drained leader with an ISR member to take over", snapOf(live(-1, 2, 3), state(r, 1, 4, r)), 1, 1},
		{"drained leader with nowhere to go", snapOf(live(-1), state(r, 1, 4, []int32{1})), 1, 0},
		{"drained leader whose followers are catching up", snapOf(live(-1, 2, 3), state(r, 1, 4, []int32{1})), 1, 1},
		{"drained follower, two stay in sync", snapOf(live(1, 2, -3), state(r, 1, 4, r)), 3, 0},
		{"two drained, temporary not yet in sync", snapOf(live(1, -2, -3, 4), withTemporary(state([]int32{1, 2, 3, 4}, 1, 4, r), 4)), 3, 1},
		{"two drained, temporary in sync", snapOf(live(1, -2, -3, 4), withTemporary(state([]int32{1, 2, 3, 4}, 1, 4, []int32{1, 2, 3, 4}), 4)), 3, 0},
		{"two drained, no broker to add one on", snapOf(live(1, -2, -3), state(r, 1, 4, r)), 3, 0},
		{"leadership drain: temporaries are not its business", snapOf(drainedBrokers(live(1, 2, 3, 4), cluster.DrainLeadership, 2, 3), state(r, 1, 4, r)), 3, 0},
		{"dead broker", snapOf(live(1, 2), state(r, 1, 4, r)), 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.snap.Topics["t"].Partitions {
				tc.snap.Topics["t"].Partitions[i].Revision = 1
			}
			if got := DrainPending(tc.snap, tc.id, nil); got != tc.want {
				t.Errorf("DrainPending = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTenureGrace(t *testing.T) {
	t0 := time.Unix(1000, 0)
	snap := &cluster.Snapshot{Brokers: live(1, 2), Topics: map[string]*cluster.Topic{
		"t": {Name: "t", Partitions: []cluster.PartitionState{state([]int32{1, 2, 3}, 1, 1, []int32{1, 2})}},
	}}
	var d tenure
	if dead := d.observe(snap, t0); len(dead) != 1 || dead[0] != 3 {
		t.Fatalf("dead = %v, want [3]", dead)
	}
	grace := time.Minute
	if !d.inGrace(3, t0.Add(59*time.Second), grace) || d.inGrace(3, t0.Add(time.Minute), grace) {
		t.Errorf("grace of broker 3 wrong around %v", t0.Add(grace))
	}
	if got := d.nextExpiry(grace); !got.Equal(t0.Add(grace)) {
		t.Errorf("nextExpiry = %v, want %v", got, t0.Add(grace))
	}
	// Seen again later: the clock does not restart.
	d.observe(snap, t0.Add(30*time.Second))
	if got := d.nextExpiry(grace); !got.Equal(t0.Add(grace)) {
		t.Errorf("nextExpiry after a second look = %v, want %v", got, t0.Add(grace))
	}
	// Back: forgotten; dead again: a new clock.
	snap.Brokers = live(1, 2, 3)
	d.observe(snap, t0.Add(40*time.Second))
	if !d.nextExpiry(grace).IsZero() {
		t.Errorf("a returned broker keeps a grace clock")
	}
	snap.Brokers = live(1, 2)
	d.observe(snap, t0.Add(50*time.Second))
	if got := d.nextExpiry(grace); !got.Equal(t0.Add(50*time.Second + grace)) {
		t.Errorf("nextExpiry after a second death = %v", got)
	}
}
