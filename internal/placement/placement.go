// Package placement decides where partition replicas go. It is pure: given
// the brokers and what is asked, it returns assignments, so every rule can be
// tested exhaustively without a cluster.
//
// New topics follow Kafka's rack-aware assignment (KIP-36): brokers are
// ordered so that consecutive brokers sit in different racks (for racks
// a = {0,1,2} and b = {3,4,5}: 0,3,1,4,2,5), the first replica of partition
// p goes to broker (start+p) of that order and the others follow with a
// shift that grows each time the partitions wrap around the brokers, so that
// leaders and followers are spread evenly and the replicas of one partition
// span as many racks as there are.
package placement

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// ErrNotEnoughBrokers means fewer brokers are available than the
// replication factor asks for (INVALID_REPLICATION_FACTOR).
var ErrNotEnoughBrokers = errors.New("placement: not enough brokers")

// Broker is what placement knows of a broker.
type Broker struct {
	ID   int32
	Rack string // empty when unknown
}

// Assign returns the replica lists of partitions new partitions with rf
// replicas each, the first replica being the preferred leader. start and
// shift pick where in the broker order the first partition begins and how
// far its followers sit from it, so that topics created one after another
// do not all lead on the same brokers; callers pass random values.
// firstPartition numbers the partitions (non-zero when partitions are added
// to an existing topic).
func Assign(brokers []Broker, partitions, rf int, start, shift, firstPartition int) ([][]int32, error) {
	if rf <= 0 {
		return nil, fmt.Errorf("placement: replication factor %d must be positive", rf)
	}
	if partitions < 0 {
		return nil, fmt.Errorf("placement: %d partitions", partitions)
	}
	if len(brokers) < rf {
		return nil, fmt.Errorf("%w: replication factor %d with %d brokers", ErrNotEnoughBrokers, rf, len(brokers))
	}
	order, rackOf, numRacks := rackAlternating(brokers)
	n := len(order)
	start, shift = nonNegative(start)%n, nonNegative(shift)%n
	out := make([][]int32, partitions)
	for i := range partitions {
		p := firstPartition + i
		// The shift grows each time the partitions wrap around all
		// brokers, so that successive rounds pair leaders with
		// different followers.
		roundShift := shift + p/n
		first := (p + start) % n
		replicas := make([]int32, 1, rf)
		replicas[0] = order[first]
		racks := map[string]bool{rackOf[order[first]]: true}
		for k := 0; len(replicas) < rf; k++ {
			b := order[followerIndex(first, roundShift*numRacks, k, n)]
			rackFree := !racks[rackOf[b]] || len(racks) == numRacks
			brokerFree := !slices.Contains(replicas, b)
			if rackFree && brokerFree {
				replicas = append(replicas, b)
				racks[rackOf[b]] = true
			}
		}
		out[i] = replicas
	}
	return out, nil
}

// followerIndex is the position, in the broker order, of the k-th follower
// candidate of a partition whose leader is at first. It never returns first.
func followerIndex(first, shift, k, n int) int {
	if n == 1 {
		return first
	}
	return (first + 1 + (shift+k)%(n-1)) % n
}

func nonNegative(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// rackAlternating orders brokers so that consecutive brokers are in
// different racks wherever possible: within each rack by id, then taking one
// broker from each rack in turn.
func rackAlternating(brokers []Broker) (order []int32, rackOf map[int32]string, numRacks int) {
	rackOf = make(map[int32]string, len(brokers))
	byRack := make(map[string][]int32)
	var racks []string
	for _, b := range brokers {
		if _, ok := byRack[b.Rack]; !ok {
			racks = append(racks, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
		rackOf[b.ID] = b.Rack
	}
	slices.Sort(racks)
	for _, ids := range byRack {
		slices.SortFunc(ids, cmp.Compare[int32])
	}
	order = make([]int32, 0, len(brokers))
	for i := 0; len(order) < len(brokers); i++ {
		for _, r := range racks {
			if ids := byRack[r]; i < len(ids) {
				order = append(order, ids[i])
			}
		}
	}
	return order, rackOf, len(racks)
}
