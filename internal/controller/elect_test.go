package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
)

// live returns the registrations of ids; a negative id is a drained
// broker, one above 100 a stopping broker (id-100).
func live(ids ...int32) map[int32]cluster.BrokerInfo {
	m := map[int32]cluster.BrokerInfo{}
	for _, id := range ids {
		state := cluster.StateRunning
		switch {
		case id < 0:
			id, state = -id, cluster.StateDraining
		case id > 100:
			id, state = id-100, cluster.StateStopping
		}
		m[id] = cluster.BrokerInfo{Registration: cluster.Registration{ID: id, State: state}}
	}
	return m
}

func state(replicas []int32, leader, epoch int32, isr []int32) cluster.PartitionState {
	return cluster.PartitionState{Replicas: replicas, Leader: leader, LeaderEpoch: epoch, ISR: isr, Revision: 1}
}

func show(p cluster.PartitionState) string {
	s := fmt.Sprintf("leader %d epoch %d isr %v", p.Leader, p.LeaderEpoch, p.ISR)
	if len(p.ELR) > 0 {
		s += fmt.Sprintf(" elr %v", p.ELR)
	}
	return s
}

// withELR returns p with eligible leader replicas.
func withELR(p cluster.PartitionState, elr ...int32) cluster.PartitionState {
	p.ELR = elr
	return p
}

// withDirs returns p recording directory "d<id>" for each of ids.
func withDirs(p cluster.PartitionState, ids ...int32) cluster.PartitionState {
	p.Dirs = map[int32]string{}
	for _, id := range ids {
		p.Dirs[id] = fmt.Sprintf("d%d", id)
	}
	return p
}

// onDirs gives the registration of each id the directory "d<id>", except
// the ids in fresh, which registered a new disk "new<id>".
func onDirs(brokers map[int32]cluster.BrokerInfo, fresh ...int32) map[int32]cluster.BrokerInfo {
	for id, b := range brokers {
		b.Directories = []string{fmt.Sprintf("d%d", id)}
		if slices.Contains(fresh, id) {
			b.Directories = []string{fmt.Sprintf("new%d", id)}
		}
		brokers[id] = b
	}
	return brokers
}

func TestElectLeader(t *testing.T) {
	r := []int32{1, 2, 3}
	lax := policy{minISR: 1}
	strict := policy{minISR: 2}
	unclean := policy{minISR: 1, unclean: true}
	for _, tc := range []struct {
		name    string
		p       cluster.PartitionState
		brokers map[int32]cluster.BrokerInfo
		pol     policy
		want    string
		kind    kind
	}{
		{"leader live", state(r, 1, 4, r), live(1, 2, 3), lax, "leader 1 epoch 4 isr [1 2 3]", kindNone},
		{"first live ISR member in replica order", state(r, 1, 4, []int32{3, 1, 2}), live(2, 3), lax, "leader 2 epoch 5 isr [3 2]", kindClean},
		{"skips live replicas outside the ISR", state(r, 1, 4, []int32{1, 3}), live(2, 3), lax, "leader 3 epoch 5 isr [3]", kindClean},
		{"dead followers leave the ISR", state(r, 1, 4, r), live(3), lax, "leader 3 epoch 5 isr [3]", kindClean},
		{"drained only as a last resort, and stays in the ISR", state(r, 1, 4, r), live(-2, 3), lax, "leader 3 epoch 5 isr [2 3]", kindClean},
		{"stopping only as a last resort, and leaves the ISR", state(r, 1, 4, r), live(102, 3), lax, "leader 3 epoch 5 isr [3]", kindClean},
		{"draining rather than offline", state(r, 1, 4, r), live(-2), lax, "leader 2 epoch 5 isr [2]", kindClean},
		{"leadership moves off a drained leader, which stays in the ISR", state(r, 1, 4, r), live(-1, 2, 3), lax, "leader 2 epoch 5 isr [1 2 3]", kindMoved},
		{"leadership moves off a stopping leader, which leaves the ISR", state(r, 1, 4, r), live(101, 2, 3), lax, "leader 2 epoch 5 isr [2 3]", kindMoved},
		{"draining leader with nowhere to go", state(r, 1, 4, []int32{1, 2}), live(-1, 3), lax, "leader 1 epoch 4 isr [1]", kindShrunk},
		{"dead follower leaves the ISR", state(r, 1, 4, r), live(1, 3), lax, "leader 1 epoch 4 isr [1 3]", kindShrunk},
		{"a drained follower stays in the ISR", state(r, 1, 4, r), live(1, -2, 3), lax, "leader 1 epoch 4 isr [1 2 3]", kindNone},
		{"a stopping follower leaves the ISR", state(r, 1, 4, r), live(1, 102, 3), lax, "leader 1 epoch 4 isr [1 3]", kindShrunk},
		{"offline: the last leader leaves the ISR for the ELR", state(r, 1, 4, []int32{1}), live(2, 3), lax, "leader -1 epoch 5 isr [] elr [1]", kindOffline},
		{"offline, dead ISR", state(r, 1, 4, []int32{1, 2}), live(3), lax, "leader -1 epoch 5 isr [2]", kindOffline},
		{"offline stays offline", withELR(state(r, -1, 5, nil), 1), live(2, 3), lax, "leader -1 epoch 5 isr [] elr [1]", kindNone},
		{"offline, ISR member returns", state(r, -1, 5, []int32{1}), live(1, 2), lax, "leader 1 epoch 6 isr [1]", kindClean},
		{"offline, ELR member returns", withELR(state(r, -1, 5, nil), 1), live(1, 2), lax, "leader 1 epoch 6 isr [1]", kindClean},
		{"unclean", state(r, 1, 4, []int32{1}), live(3, 2), unclean, "leader 2 epoch 5 isr [2]", kindUnclean},
		{"unclean from offline", withELR(state(r, -1, 5, nil), 1), live(3), unclean, "leader 3 epoch 6 isr [3]", kindUnclean},
		{"unclean prefers the ISR", state(r, 1, 4, []int32{1, 3}), live(2, 3), unclean, "leader 3 epoch 5 isr [3]", kindClean},
		{"unclean prefers the ELR", withELR(state(r, 1, 4, []int32{1}), 3), live(2, 3), unclean, "leader 3 epoch 5 isr [3] elr [1]", kindClean},
		{"unclean, nobody live", state(r, 1, 4, []int32{1}), live(), unclean, "leader -1 epoch 5 isr [] elr [1]", kindOffline},
		{"no replicas", state(nil, -1, 0, nil), live(1), unclean, "leader -1 epoch 0 isr []", kindNone},

		// Eligible leader replicas (KIP-966), min.insync.replicas 2.
		{"a follower leaving below min ISR becomes eligible", state(r, 1, 4, []int32{1, 2}), live(1, 3), strict, "leader 1 epoch 4 isr [1] elr [2]", kindShrunk},
		{"a follower leaving at min ISR does not", state(r, 1, 4, r), live(1, 3), strict, "leader 1 epoch 4 isr [1 3]", kindShrunk},
		{"the last ISR member dies: offline, both eligible", withELR(state(r, 1, 4, []int32{1}), 2), live(3), strict, "leader -1 epoch 5 isr [] elr [2 1]", kindOffline},
		{"an eligible replica leads when the ISR is gone", withELR(state(r, 1, 4, []int32{1}), 2), live(2, 3), strict, "leader 2 epoch 5 isr [2] elr [1]", kindClean},
		{"the ISR comes before the ELR", withELR(state(r, 1, 4, []int32{1, 3}), 2), live(2, 3), strict, "leader 3 epoch 5 isr [3] elr [2 1]", kindClean},

		// Directory identity (KIP-858): "new<id>" is a fresh disk.
		{"a fresh disk under the leader's id does not keep leading", withDirs(state(r, 1, 4, r), 1, 2, 3), onDirs(live(1, 2, 3), 1), lax, "leader 2 epoch 5 isr [2 3]", kindClean},
		{"a fresh disk under an ISR member's id leaves the ISR", withDirs(state(r, 1, 4, r), 1, 2, 3), onDirs(live(1, 2, 3), 3), lax, "leader 1 epoch 4 isr [1 2]", kindShrunk},
		{"a fresh disk under an ELR member's id is not eligible", withDirs(withELR(state(r, -1, 5, nil), 1, 2), 1, 2), onDirs(live(1, 2), 1), strict, "leader 2 epoch 6 isr [2]", kindClean},
		{"the fresh-disk scenario: the returning replica leads", withDirs(withELR(state(r, -1, 5, nil), 2, 1), 1, 2, 3), onDirs(live(1, 2, 3), 1), strict, "leader 2 epoch 6 isr [2]", kindClean},
		{"only fresh disks: offline, eligible copies forgotten", withDirs(withELR(state(r, -1, 5, nil), 1), 1), onDirs(live(1, 2), 1), strict, "leader -1 epoch 6 isr []", kindOffline},
		{"an unrecorded copy is matched by id", withELR(state(r, -1, 5, nil), 1), onDirs(live(1), 1), strict, "leader 1 epoch 6 isr [1]", kindClean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := show(tc.p)
			got, k := electLeader(tc.p, tc.brokers, tc.pol)
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
			if again, k2 := electLeader(got, tc.brokers, tc.pol); k2 != kindNone || show(again) != show(got) {
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

// without returns ids without id, in a new slice.
func without(ids []int32, id int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
