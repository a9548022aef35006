package placement

import (
	"fmt"
	"slices"
)

// Assign returns replica lists for n new partitions with rf replicas each,
// the first replica of each list being its preferred leader, under the
// package's rules, balanced against the existing partitions' load
// (existing may be nil; it is not changed). Only eligible (non-draining)
// brokers are used. The seed breaks ties between equally good brokers:
// callers pass a random one.
//
// It fails with ErrNotEnoughBrokers when fewer eligible brokers than rf are
// given, and with another error when rf <= 0 or n < 0.
func Assign(brokers []Broker, existing []Partition, n, rf int, seed uint64) ([][]int32, error) {
	if rf <= 0 {
		return nil, fmt.Errorf("placement: replication factor %d must be positive", rf)
	}
	if n < 0 {
		return nil, fmt.Errorf("placement: %d partitions", n)
	}
	l := newLayout(brokers, seed)
	if len(l.eligible) < rf {
		return nil, fmt.Errorf("%w: replication factor %d with %d eligible brokers", ErrNotEnoughBrokers, rf, len(l.eligible))
	}
	pl := newPlan(l, existing, false)
	first := len(pl.parts)
	byLoad := slices.Clone(l.eligible)
	for range n {
		members, err := pl.pick(rf, byLoad)
		if err != nil {
			return nil, err
		}
		leader := members[0]
		for _, b := range members[1:] {
			if l.betterLeader(pl.leaders, pl.load, b, leader) < 0 {
				leader = b
			}
		}
		p := &part{cur: members, ids: make([]int32, rf), movable: true, ok: true}
		p.lead(leader)
		for s, b := range p.cur {
			p.ids[s] = l.ids[b]
		}
		pl.add(p)
	}
	pl.balanceReplicas()
	pl.balanceLeaders()
	out := make([][]int32, 0, n)
	for _, p := range pl.parts[first:] {
		out = append(out, p.ids)
	}
	return out, nil
}

// pick chooses rf eligible brokers for a new partition: repeatedly the
// least loaded broker with which the partition can still meet rules 1
// and 2. byLoad is scratch space holding the eligible brokers.
func (pl *plan) pick(rf int, byLoad []int) ([]int, error) {
	l := pl.l
	slices.SortFunc(byLoad, func(a, b int) int { return l.better(pl.load, a, b) })
	members := make([]int, 0, rf)
	p := l.newPool(nil)
	for len(members) < rf {
		added := false
		for _, b := range byLoad {
			if slices.Contains(members, b) {
				continue
			}
			p.take(l, b)
			if l.fits(append(members, b), rf, p) {
				members = append(members, b)
				added = true
				break
			}
			p.put(l, b)
		}
		if !added {
			// Cannot happen with rf eligible brokers (see the package
			// documentation); an error beats a panic if it does.
			return nil, fmt.Errorf("placement: no broker completes %v under the rules (a bug)", members)
		}
	}
	return members, nil
}
