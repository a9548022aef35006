package controller

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
)

// ps builds a partition state: replicas, leader, epoch, ISR, adding,
// removing.
func ps(replicas []int32, leader, epoch int32, isr, adding, removing []int32) cluster.PartitionState {
	return cluster.PartitionState{Replicas: replicas, Leader: leader, LeaderEpoch: epoch, ISR: isr,
		Adding: adding, Removing: removing, Revision: 1}
}

func ids(v ...int32) []int32 { return v }

// render shows the fields a reassignment changes.
func render(p cluster.PartitionState) string {
	return fmt.Sprintf("replicas %v leader %d epoch %d isr %v adding %v removing %v",
		p.Replicas, p.Leader, p.LeaderEpoch, p.ISR, p.Adding, p.Removing)
}

func TestValidateTarget(t *testing.T) {
	brokers := live(0, 1, 2)
	for _, tc := range []struct {
		target []int32
		ok     bool
	}{
		{ids(0, 1), true},
		{ids(2), true},
		{ids(), false},
		{ids(0, 0), false},
		{ids(0, 7), false},
	} {
		err := validateTarget(tc.target, brokers)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidReplicaAssignment) {
			t.Errorf("validateTarget(%v) = %v, want ok=%v", tc.target, err, tc.ok)
		}
	}
}

func TestStartReassignment(t *testing.T) {
	brokers := live(0, 1, 2, 3)
	for _, tc := range []struct {
		name   string
		p      cluster.PartitionState
		target []int32
		want   cluster.PartitionState
		err    error
	}{
		{"move both replicas", ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil), ids(2, 3),
			ps(ids(2, 3, 0, 1), 0, 5, ids(0, 1), ids(2, 3), ids(0, 1)), nil},
		{"move one replica, keep the leader", ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil), ids(0, 2),
			ps(ids(0, 2, 1), 0, 5, ids(0, 1), ids(2), ids(1)), nil},
		{"grow the replication factor", ps(ids(0, 1), 1, 5, ids(0, 1), nil, nil), ids(0, 1, 2),
			ps(ids(0, 1, 2), 1, 5, ids(0, 1), ids(2), nil), nil},
		{"reorder only: written at once", ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil), ids(1, 0),
			ps(ids(1, 0), 0, 5, ids(0, 1), nil, nil), nil},
		{"shrink: completes at once", ps(ids(0, 1, 2), 0, 5, ids(0, 1, 2), nil, nil), ids(1, 2),
			ps(ids(1, 2), 1, 6, ids(1, 2), nil, nil), nil},
		{"shrink to out-of-sync replicas: waits", ps(ids(0, 1), 0, 5, ids(0), nil, nil), ids(1),
			ps(ids(1, 0), 0, 5, ids(0), nil, ids(0)), nil},
		{"replace an ongoing reassignment", ps(ids(2, 3, 0, 1), 0, 5, ids(0, 1, 2), ids(2, 3), ids(0, 1)), ids(3, 1),
			ps(ids(3, 1, 0), 0, 5, ids(0, 1), ids(3), ids(0)), nil},
		{"replace one led by an adding broker", ps(ids(2, 0), 2, 6, ids(2, 0), ids(2), ids(0)), ids(0, 1),
			ps(ids(0, 1), 0, 7, ids(0), ids(1), nil), nil},
		{"nothing in sync would remain", ps(ids(2, 0), 2, 6, ids(2), ids(2), ids(0)), ids(1),
			ps(ids(2, 0), 2, 6, ids(2), ids(2), ids(0)), ErrInvalidReplicaAssignment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := render(tc.p)
			got, err := startReassignment(tc.p, tc.target, brokers)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if render(got) != render(tc.want) {
				t.Errorf("got  %s\nwant %s", render(got), render(tc.want))
			}
			if render(tc.p) != before {
				t.Errorf("input modified: %s, was %s", render(tc.p), before)
			}
		})
	}
}

func TestCompleteReassignment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       cluster.PartitionState
		brokers map[int32]cluster.BrokerInfo
		want    cluster.PartitionState // when ok
		ok      bool
	}{
		{"adding not yet in sync", ps(ids(2, 3, 0, 1), 0, 5, ids(0, 1, 2), ids(2, 3), ids(0, 1)), live(0, 1, 2, 3),
			cluster.PartitionState{}, false},
		{"leader removed: first in-sync target leads", ps(ids(2, 3, 0, 1), 0, 5, ids(0, 1, 3, 2), ids(2, 3), ids(0, 1)), live(0, 1, 2, 3),
			ps(ids(2, 3), 2, 6, ids(3, 2), nil, nil), true},
		{"leader removed, first target dead", ps(ids(2, 3, 0, 1), 0, 5, ids(0, 1, 2, 3), ids(2, 3), ids(0, 1)), live(0, 1, 3),
			ps(ids(2, 3), 3, 6, ids(2, 3), nil, nil), true},
		{"leader stays: epoch stays", ps(ids(0, 2, 1), 0, 5, ids(0, 1, 2), ids(2), ids(1)), live(0, 1, 2),
			ps(ids(0, 2), 0, 5, ids(0, 2), nil, nil), true},
		{"leader draining: a running target leads", ps(ids(2, 3, 0), 0, 5, ids(0, 2, 3), ids(2, 3), ids(0)),
			live(0, -2, 3), // 2 is draining
			ps(ids(2, 3), 3, 6, ids(2, 3), nil, nil), true},
		{"no live target in sync to lead", ps(ids(2, 3, 0), 0, 5, ids(0, 2, 3), ids(2, 3), ids(0)), live(0),
			cluster.PartitionState{}, false},
		{"removal only, target out of sync", ps(ids(1, 0), 0, 5, ids(0), nil, ids(0)), live(0, 1),
			cluster.PartitionState{}, false},
		{"nothing ongoing", ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil), live(0, 1),
			cluster.PartitionState{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := render(tc.p)
			got, ok := completeReassignment(tc.p, tc.brokers)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%s)", ok, tc.ok, render(got))
			}
			if !ok {
				tc.want = tc.p
			}
			if render(got) != render(tc.want) {
				t.Errorf("got  %s\nwant %s", render(got), render(tc.want))
			}
			if render(tc.p) != before {
				t.Errorf("input modified: %s, was %s", render(tc.p), before)
			}
		})
	}
}

func TestCancelReassignment(t *testing.T) {
	brokers := live(0, 1, 2, 3)
	for _, tc := range []struct {
		name string
		p    cluster.PartitionState
		want cluster.PartitionState
		err  error
	}{
		{"back to the original replicas", ps(ids(2, 3, 0, 1), 0, 5, ids(0, 1, 2), ids(2, 3), ids(0, 1)),
			ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil), nil},
		{"leader was an adding broker", ps(ids(2, 0, 1), 2, 6, ids(2, 1), ids(2), ids(0)),
			ps(ids(0, 1), 1, 7, ids(1), nil, nil), nil},
		{"no original replica in sync", ps(ids(2, 0), 2, 6, ids(2), ids(2), ids(0)),
			ps(ids(2, 0), 2, 6, ids(2), ids(2), ids(0)), ErrInvalidReplicaAssignment},
		{"nothing ongoing", ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil),
			ps(ids(0, 1), 0, 5, ids(0, 1), nil, nil), ErrNoReassignmentInProgress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cancelReassignment(tc.p, brokers)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if render(got) != render(tc.want) {
				t.Errorf("got  %s\nwant %s", render(got), render(tc.want))
			}
		})
	}
}

// TestReassignmentThroughEtcd drives a reassignment through a real
// controller: the start is written as asked, ListReassignments shows it,
// the controller completes it (moving leadership off a removed leader)
// once the leader, played by the test, has added the new replicas to the
// ISR, and a cancel restores the original replicas. Brokers other than
// the controller answer ErrNotController.
func TestReassignmentThroughEtcd(t *testing.T) {
	c := newTestCluster(t, 0, 1, 2, 3)
	c.createTopicStates("t", nil, []cluster.PartitionState{
		{Replicas: ids(0, 1), Leader: 0, ISR: ids(0, 1)},
		{Replicas: ids(0, 1), Leader: 0, ISR: ids(0, 1)},
	})
	ctrl := c.active()
	ctx := testCtx(t)
	for _, n := range c.nodes {
		if n != ctrl {
			if _, err := n.ctrl.AlterReassignments(ctx, nil); !errors.Is(err, ErrNotController) {
				t.Fatalf("broker %d: AlterReassignments error %v, want ErrNotController", n.id, err)
			}
			if _, err := n.ctrl.ListReassignments(nil); !errors.Is(err, ErrNotController) {
				t.Fatalf("broker %d: ListReassignments error %v, want ErrNotController", n.id, err)
			}
		}
	}

	tp := func(p int32) TopicPartition { return TopicPartition{"t", p} }
	errs, err := ctrl.ctrl.AlterReassignments(ctx, []Reassignment{
		{tp(0), ids(2, 3)},
		{tp(1), ids(3, 2)},
		{tp(2), ids(2, 3)},
		{TopicPartition{"missing", 0}, ids(2, 3)},
		{tp(0), ids(2, 9)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, nil, cluster.ErrUnknownPartition, cluster.ErrUnknownTopic, ErrInvalidReplicaAssignment} {
		if !errors.Is(errs[i], want) || want == nil && errs[i] != nil {
			t.Errorf("request %d: error %v, want %v", i, errs[i], want)
		}
	}
	// AlterReassignments returns once the controller's cache has its writes.
	got, err := ctrl.ctrl.ListReassignments(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []OngoingReassignment{
		{tp(0), ids(2, 3, 0, 1), ids(2, 3), ids(0, 1)},
		{tp(1), ids(3, 2, 0, 1), ids(3, 2), ids(0, 1)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListReassignments: %v, want %v", got, want)
	}
	if got, _ := ctrl.ctrl.ListReassignments([]TopicPartition{tp(1), tp(7), {"missing", 0}}); fmt.Sprint(got) != fmt.Sprint(want[1:]) {
		t.Fatalf("ListReassignments(t-1, t-7, missing-0): %v, want %v", got, want[1:])
	}
	epoch := ctrl.cache.Load().Topic("t").Partitions[0].LeaderEpoch

	// The leader adds the new replicas to partition 0's ISR, as its ISR
	// goroutine does once they catch up: the controller completes the move.
	n := c.any()
	if _, _, err := n.store.UpdatePartition(ctx, "t", 0, func(p *cluster.PartitionState) error {
		p.ISR = append(p.ISR, 2, 3)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	snap := waitSnap(t, n, "partition 0 moved to [2 3]", func(s *cluster.Snapshot) bool {
		p := s.Topic("t").Partitions[0]
		return slices.Equal(p.Replicas, ids(2, 3)) && !reassigning(&p)
	})
	p := snap.Topic("t").Partitions[0]
	if p.Leader != 2 || p.LeaderEpoch != epoch+1 || !slices.Equal(p.ISR, ids(2, 3)) {
		t.Fatalf("completed partition 0: %s; want leader 2 at epoch %d, ISR [2 3]", render(p), epoch+1)
	}

	// Partition 1's new replicas never catch up: cancel it.
	errs, err = ctrl.ctrl.AlterReassignments(ctx, []Reassignment{{tp(1), nil}, {tp(0), nil}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrNoReassignmentInProgress) {
		t.Fatalf("cancel errors %v; want nil and ErrNoReassignmentInProgress", errs)
	}
	p = ctrl.cache.Load().Topic("t").Partitions[1]
	if !slices.Equal(p.Replicas, ids(0, 1)) || reassigning(&p) || p.Leader != 0 || p.LeaderEpoch != epoch {
		t.Fatalf("cancelled partition 1: %s; want replicas [0 1], leader 0 at epoch %d", render(p), epoch)
	}
	if got, _ := ctrl.ctrl.ListReassignments(nil); len(got) != 0 {
		t.Fatalf("ListReassignments after completion and cancel: %v", got)
	}
}
