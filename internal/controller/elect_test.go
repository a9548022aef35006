package controller

import (
	"fmt"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
)

// live returns the registrations of ids; a negative id is a draining broker.
func live(ids ...int32) map[int32]cluster.BrokerInfo {
	m := map[int32]cluster.BrokerInfo{}
	for _, id := range ids {
		state := cluster.StateRunning
		if id < 0 {
			id, state = -id, cluster.StateDraining
		}
		m[id] = cluster.BrokerInfo{Registration: cluster.Registration{ID: id, State: state}}
	}
	return m
}

func state(replicas []int32, leader, epoch int32, isr []int32) cluster.PartitionState {
	return cluster.PartitionState{Replicas: replicas, Leader: leader, LeaderEpoch: epoch, ISR: isr, Revision: 1}
}

func show(p cluster.PartitionState) string {
	return fmt.Sprintf("leader %d epoch %d isr %v", p.Leader, p.LeaderEpoch, p.ISR)
}

func TestElectLeader(t *testing.T) {
	r := []int32{1, 2, 3}
	for _, tc := range []struct {
		name    string
		p       cluster.PartitionState
		brokers map[int32]cluster.BrokerInfo
		unclean bool
		want    string
		kind    kind
	}{
		{"leader live", state(r, 1, 4, r), live(1, 2, 3), false, "leader 1 epoch 4 isr [1 2 3]", kindNone},
		{"first live ISR member in replica order", state(r, 1, 4, []int32{3, 1, 2}), live(2, 3), false, "leader 2 epoch 5 isr [3 2]", kindClean},
		{"skips live replicas outside the ISR", state(r, 1, 4, []int32{1, 3}), live(2, 3), false, "leader 3 epoch 5 isr [3]", kindClean},
		{"dead followers leave the ISR", state(r, 1, 4, r), live(3), false, "leader 3 epoch 5 isr [3]", kindClean},
		{"draining only as a last resort", state(r, 1, 4, r), live(-2, 3), false, "leader 3 epoch 5 isr [3]", kindClean},
		{"draining rather than offline", state(r, 1, 4, r), live(-2), false, "leader 2 epoch 5 isr [2]", kindClean},
		{"leadership moves off a draining leader", state(r, 1, 4, r), live(-1, 2, 3), false, "leader 2 epoch 5 isr [2 3]", kindMoved},
		{"draining leader with nowhere to go", state(r, 1, 4, []int32{1, 2}), live(-1, 3), false, "leader 1 epoch 4 isr [1]", kindShrunk},
		{"dead follower leaves the ISR", state(r, 1, 4, r), live(1, 3), false, "leader 1 epoch 4 isr [1 3]", kindShrunk},
		{"draining follower leaves the ISR", state(r, 1, 4, r), live(1, -2, 3), false, "leader 1 epoch 4 isr [1 3]", kindShrunk},
		{"offline, last leader stays in the ISR", state(r, 1, 4, []int32{1}), live(2, 3), false, "leader -1 epoch 5 isr [1]", kindOffline},
		{"offline, dead ISR", state(r, 1, 4, []int32{1, 2}), live(3), false, "leader -1 epoch 5 isr [2]", kindOffline},
		{"offline stays offline", state(r, -1, 5, []int32{1}), live(2, 3), false, "leader -1 epoch 5 isr [1]", kindNone},
		{"offline, ISR member returns", state(r, -1, 5, []int32{1}), live(1, 2), false, "leader 1 epoch 6 isr [1]", kindClean},
		{"unclean", state(r, 1, 4, []int32{1}), live(3, 2), true, "leader 2 epoch 5 isr [2]", kindUnclean},
		{"unclean from offline", state(r, -1, 5, []int32{1}), live(3), true, "leader 3 epoch 6 isr [3]", kindUnclean},
		{"unclean prefers the ISR", state(r, 1, 4, []int32{1, 3}), live(2, 3), true, "leader 3 epoch 5 isr [3]", kindClean},
		{"unclean, nobody live", state(r, 1, 4, []int32{1}), live(), true, "leader -1 epoch 5 isr [1]", kindOffline},
		{"no replicas", state(nil, -1, 0, nil), live(1), true, "leader -1 epoch 0 isr []", kindNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := show(tc.p)
			got, k := electLeader(tc.p, tc.brokers, tc.unclean)
			if show(got) != tc.want || k != tc.kind {
				t.Errorf("got %s (%v); want %s (%v)", show(got), k, tc.want, tc.kind)
			}
			if show(tc.p) != before {
				t.Errorf("input modified: %s, was %s", show(tc.p), before)
			}
			if k != kindNone && !needsLeader(&tc.p, tc.brokers) {
				t.Errorf("needsLeader false for a partition that needed a leader")
			}
			// Idempotent: the result needs nothing more, unless offline.
			if again, k2 := electLeader(got, tc.brokers, tc.unclean); k2 != kindNone || show(again) != show(got) {
				t.Errorf("second election: %s (%v)", show(again), k2)
			}
		})
	}
}

func TestElectPreferred(t *testing.T) {
	r := []int32{1, 2, 3}
	for _, tc := range []struct {
		name    string
		p       cluster.PartitionState
		brokers map[int32]cluster.BrokerInfo
		want    string
		err     error
	}{
		{"moves to the preferred replica", state(r, 2, 7, []int32{2, 1}), live(1, 2, 3), "leader 1 epoch 8 isr [2 1]", nil},
		{"already leads", state(r, 1, 7, r), live(1, 2, 3), "", ErrElectionNotNeeded},
		{"not in the ISR", state(r, 2, 7, []int32{2, 3}), live(1, 2, 3), "", ErrPreferredNotAvailable},
		{"not live", state(r, 2, 7, r), live(2, 3), "", ErrPreferredNotAvailable},
		{"from offline", state(r, -1, 7, []int32{1}), live(1), "leader 1 epoch 8 isr [1]", nil},
		{"no replicas", state(nil, -1, 0, nil), live(1), "", ErrPreferredNotAvailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := electPreferred(tc.p, tc.brokers)
			if err != tc.err || err == nil && show(got) != tc.want {
				t.Errorf("got %s, %v; want %s, %v", show(got), err, tc.want, tc.err)
			}
		})
	}
}
