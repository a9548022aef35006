package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// propertySeed seeds every random cluster of the property tests; a failure
// names the case, which is repeatable.
const propertySeed = 20240601

// randomCluster returns 1-12 brokers in 1-4 zones, evenly or unevenly
// spread, with a random mix of on-demand, spot and unknown capacity and
// some draining, with ids that are not consecutive.
func randomCluster(rng *rand.Rand) []Broker {
	n := 1 + rng.IntN(12)
	zones := 1 + rng.IntN(4)
	even := rng.IntN(2) == 0
	odShare := []float64{0, 0.2, 0.5, 1}[rng.IntN(4)]
	drainShare := []float64{0, 0, 0.2}[rng.IntN(3)]
	var out []Broker
	for i := range n {
		z := i % zones
		if !even {
			z = rng.IntN(zones)
		}
		b := Broker{ID: int32(3*i + 1), Rack: fmt.Sprintf("z%d", z)}
		if zones == 1 && rng.IntN(2) == 0 {
			b.Rack = ""
		}
		switch {
		case rng.Float64() < odShare:
			b.Capacity = "on-demand"
		case rng.IntN(2) == 0:
			b.Capacity = "spot"
		}
		b.Draining = rng.Float64() < drainShare
		out = append(out, b)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// randomParts returns existing partitions over brokers and some dead ids
// (1000+), placed at random: some on dead brokers, some listing a broker
// twice, many breaking rules 1 and 2.
func randomParts(rng *rand.Rand, brokers []Broker) []Partition {
	ids := []int32{1000, 1001}
	for _, b := range brokers {
		ids = append(ids, b.ID)
	}
	var out []Partition
	for t := range 1 + rng.IntN(3) {
		rf := 1 + rng.IntN(3)
		for p := range rng.IntN(15) {
			var replicas []int32
			for len(replicas) < rf {
				id := ids[rng.IntN(len(ids))]
				if id >= 1000 && rng.IntN(3) != 0 {
					continue // dead replicas, but not too many
				}
				if slices.Contains(replicas, id) && rng.IntN(20) != 0 {
					continue
				}
				replicas = append(replicas, id)
			}
			out = append(out, Partition{Topic: fmt.Sprintf("t%d", t), Partition: int32(p), Replicas: replicas})
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func eligibleCount(brokers []Broker) int {
	n := 0
	for _, b := range brokers {
		if !b.Draining {
			n++
		}
	}
	return n
}

// TestAssignProperties checks Assign on random clusters, starting empty:
// every list meets rules 1 and 2 as well as the best set could (found by
// brute force), uses rf distinct eligible brokers, and is balanced: no
// replica could move from a broker holding two more to another broker
// without breaking rule 1 or 2 (so brokers alike in zone and capacity
// differ by at most one), and no chain of reorderings could shift a
// leadership from a broker leading two more to another (checkLeaders).
// The same inputs give the same output.
func TestAssignProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 1))
	for iter := range 2000 {
		brokers := randomCluster(rng)
		rf := 1 + rng.IntN(3)
		n := rng.IntN(40)
		seed := rng.Uint64()
		name := fmt.Sprintf("case %d (seed %d): brokers %+v rf %d n %d", iter, propertySeed, brokers, rf, n)
		got, err := Assign(brokers, nil, n, rf, seed)
		if eligibleCount(brokers) < rf {
			if !errors.Is(err, ErrNotEnoughBrokers) {
				t.Fatalf("%s: err %v, want ErrNotEnoughBrokers", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		o := newOracle(brokers)
		if b := o.bound(rf); !b.jointlyPossible {
			t.Fatalf("%s: the package documentation claims rules 1 and 2 can always be met together: %+v", name, b)
		}
		if len(got) != n {
			t.Fatalf("%s: %d lists", name, len(got))
		}
		for _, replicas := range got {
			if len(replicas) != rf {
				t.Fatalf("%s: %v has %d replicas", name, replicas, len(replicas))
			}
			if !o.ok(replicas) {
				t.Fatalf("%s: %v breaks rule 1 or 2", name, replicas)
			}
			for _, id := range replicas {
				if o.brokers[id].Draining {
					t.Fatalf("%s: %v uses draining broker %d", name, replicas, id)
				}
			}
		}
		checkBalanced(t, name, o, got)
		again, _ := Assign(brokers, nil, n, rf, seed)
		if fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("%s: not deterministic:\n%v\n%v", name, got, again)
		}
	}
}

// checkBalanced checks rules 3 and 4 on lists placed by Assign from an
// empty cluster.
func checkBalanced(t *testing.T, name string, o *oracle, lists [][]int32) {
	t.Helper()
	load, leaders := map[int32]int{}, map[int32]int{}
	for _, l := range lists {
		for _, id := range l {
			load[id]++
		}
		leaders[l[0]]++
	}
	for _, l := range lists {
		for s, x := range l {
			for _, y := range o.eligible {
				if load[x] < load[y]+2 || slices.Contains(l, y) {
					continue
				}
				moved := slices.Clone(l)
				moved[s] = y
				if o.ok(moved) {
					t.Fatalf("%s: %v could move its replica on %d (%d replicas) to %d (%d replicas); loads %v", name, l, x, load[x], y, load[y], load)
				}
			}
		}
	}
	classes := map[[2]string][]int32{}
	for _, id := range o.eligible {
		classes[o.class(id)] = append(classes[o.class(id)], id)
	}
	for c, ids := range classes {
		for _, count := range []map[int32]int{load, leaders} {
			lo, hi := len(lists)*3, 0
			for _, id := range ids {
				lo, hi = min(lo, count[id]), max(hi, count[id])
			}
			if hi-lo > 1 {
				t.Fatalf("%s: brokers of zone %q capacity %s unbalanced: %v", name, c[0], c[1], count)
			}
		}
	}
	checkLeaders(t, name, o, lists)
}

// checkLeaders fails if some broker x leads at least two more partitions
// than a broker y reachable from it: x leads a partition with a replica on
// a broker that leads ... a partition with a replica on y.
func checkLeaders(t *testing.T, name string, o *oracle, lists [][]int32) {
	t.Helper()
	leaders := map[int32]int{}
	edges := map[int32]map[int32]bool{}
	for _, l := range lists {
		if o.brokers[l[0]].Draining {
			continue
		}
		leaders[l[0]]++
		for _, id := range l[1:] {
			if b, ok := o.brokers[id]; ok && !b.Draining {
				if edges[l[0]] == nil {
					edges[l[0]] = map[int32]bool{}
				}
				edges[l[0]][id] = true
			}
		}
	}
	for _, x := range o.eligible {
		seen := map[int32]bool{x: true}
		queue := []int32{x}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for v := range edges[u] {
				if seen[v] {
					continue
				}
				seen[v] = true
				queue = append(queue, v)
				if leaders[v] <= leaders[x]-2 {
					t.Fatalf("%s: broker %d leads %d, broker %d reachable from it leads %d: %v", name, x, leaders[x], v, leaders[v], lists)
				}
			}
		}
	}
}

// TestRepairProperties checks Repair on random clusters with random,
// often broken, assignments: applying its moves leaves no Violations and
// no replica on a dead broker wherever the rules can be met (the oracle
// tries every set); each move changes the fewest replicas that fix the
// partition (the oracle's count), plus one per balancing step it names; no
// draining or dead broker is made preferred leader; a second Repair of the
// result, with another seed, moves nothing; a limit is kept; and the same
// inputs, in any order, give the same moves.
func TestRepairProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 2))
	for iter := range 2000 {
		checkRepair(t, fmt.Sprintf("case %d (seed %d)", iter, propertySeed), rng)
	}
}

// FuzzRepair runs the checks of TestRepairProperties on the cluster a
// fuzzed seed makes.
func FuzzRepair(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		checkRepair(t, fmt.Sprintf("seed %d, %d", a, b), rand.New(rand.NewPCG(a, b)))
	})
}

// checkRepair checks Repair on one random cluster made with rng.
func checkRepair(t *testing.T, name string, rng *rand.Rand) {
	t.Helper()
	brokers := randomCluster(rng)
	parts := randomParts(rng, brokers)
	seed := rng.Uint64()
	name = fmt.Sprintf("%s: brokers %+v parts %v", name, brokers, parts)
	o := newOracle(brokers)

	moves := Repair(brokers, parts, seed, 0)
	shuffled := slices.Clone(parts)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if again := Repair(brokers, shuffled, seed, 0); fmt.Sprint(again) != fmt.Sprint(moves) {
		t.Fatalf("%s: not deterministic:\n%v\n%v", name, moves, again)
	}
	after := apply(t, name, parts, moves)
	byKey := map[string]Partition{}
	for _, p := range parts {
		byKey[key(p.Topic, p.Partition)] = p
	}
	for _, m := range moves {
		orig := byKey[key(m.Topic, m.Partition)].Replicas
		checkMove(t, name, o, orig, m)
	}
	violations := map[string]bool{}
	for _, v := range Violations(brokers, after) {
		violations[key(v.Topic, v.Partition)] = true
	}
	for _, p := range after {
		_, fixable := o.minChanges(byKey[key(p.Topic, p.Partition)].Replicas)
		if fixable && (!o.ok(p.Replicas) || violations[key(p.Topic, p.Partition)]) {
			t.Fatalf("%s: %s/%d is %v after repair, not meeting the rules (violations %v)", name, p.Topic, p.Partition, p.Replicas, Violations(brokers, []Partition{p}))
		}
		if o.bound(len(p.Replicas)).feasible && o.ok(p.Replicas) == violations[key(p.Topic, p.Partition)] {
			t.Fatalf("%s: %s/%d %v: oracle says ok=%v, Violations %v", name, p.Topic, p.Partition, p.Replicas, o.ok(p.Replicas), Violations(brokers, []Partition{p}))
		}
	}
	if again := Repair(brokers, after, seed+1, 0); len(again) > 0 {
		t.Fatalf("%s: second repair of %v moves %v (first %v)", name, after, again, moves)
	}
	limit := 1 + rng.IntN(3)
	changed := 0
	for _, m := range Repair(brokers, parts, seed, limit) {
		if !sameSet(m.Replicas, byKey[key(m.Topic, m.Partition)].Replicas) {
			changed++
		}
	}
	if changed > limit {
		t.Fatalf("%s: %d replica set changes with limit %d", name, changed, limit)
	}
}

// checkMove checks one move of Repair against the partition's replicas
// before it.
func checkMove(t *testing.T, name string, o *oracle, orig []int32, m Move) {
	t.Helper()
	if len(m.Replicas) != len(orig) {
		t.Fatalf("%s: move %+v changes the replication factor of %v", name, m, orig)
	}
	kept, changed := 0, 0
	for _, id := range m.Replicas {
		switch {
		case slices.Contains(orig, id):
			kept++
		case o.brokers[id].Draining:
			t.Fatalf("%s: move %+v adds draining broker %d", name, m, id)
		default:
			if _, known := o.brokers[id]; !known {
				t.Fatalf("%s: move %+v adds unknown broker %d", name, m, id)
			}
			changed++
		}
	}
	if len(sortedSet(m.Replicas)) != len(m.Replicas) && len(sortedSet(orig)) == len(orig) {
		t.Fatalf("%s: move %+v lists a broker twice", name, m)
	}
	leader := o.brokers[m.Replicas[0]]
	if _, known := o.brokers[m.Replicas[0]]; !known || leader.Draining {
		for _, id := range m.Replicas {
			if b, ok := o.brokers[id]; ok && !b.Draining {
				t.Fatalf("%s: move %+v leaves %d preferred leader, not eligible %d", name, m, m.Replicas[0], id)
			}
		}
	}
	if m.Reason == "" {
		t.Fatalf("%s: move %+v has no reason", name, m)
	}
	fix, fixable := o.minChanges(orig)
	if !fixable {
		return
	}
	steps := strings.Count(m.Reason, " replicas, mean ")
	switch {
	case steps == 0 && changed != fix:
		t.Fatalf("%s: move %+v of %v changes %d replicas, the fewest that fix it are %d", name, m, orig, changed, fix)
	case fix == 0 && steps == 1 && changed != 1:
		t.Fatalf("%s: balancing move %+v of %v changes %d replicas", name, m, orig, changed)
	case changed > fix+steps:
		t.Fatalf("%s: move %+v of %v changes %d replicas, for %d fixes and %d balancing steps", name, m, orig, changed, fix, steps)
	}
}

func key(topic string, p int32) string { return fmt.Sprintf("%s/%d", topic, p) }

func sortedSet(ids []int32) []int32 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

func sameSet(a, b []int32) bool { return slices.Equal(sortedSet(a), sortedSet(b)) }

// apply returns parts with moves applied, failing on a move of an unknown
// partition or two moves of one.
func apply(t *testing.T, name string, parts []Partition, moves []Move) []Partition {
	t.Helper()
	out := slices.Clone(parts)
	index := map[string]int{}
	for i, p := range out {
		index[key(p.Topic, p.Partition)] = i
	}
	seen := map[string]bool{}
	for _, m := range moves {
		k := key(m.Topic, m.Partition)
		i, ok := index[k]
		if !ok || seen[k] {
			t.Fatalf("%s: move %+v of an unknown partition or moved twice", name, m)
		}
		seen[k] = true
		if slices.Equal(out[i].Replicas, m.Replicas) {
			t.Fatalf("%s: move %+v changes nothing", name, m)
		}
		out[i].Replicas = m.Replicas
	}
	return out
}

// TestAddReplicaProperties checks that AddReplica returns a broker it may
// and -1 only when there is none.
func TestAddReplicaProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 3))
	for iter := range 2000 {
		brokers := randomCluster(rng)
		parts := randomParts(rng, brokers)
		if len(parts) == 0 {
			continue
		}
		replicas := parts[rng.IntN(len(parts))].Replicas
		var exclude []int32
		if rng.IntN(2) == 0 {
			exclude = append(exclude, brokers[rng.IntN(len(brokers))].ID)
		}
		name := fmt.Sprintf("case %d (seed %d): brokers %+v replicas %v exclude %v", iter, propertySeed, brokers, replicas, exclude)
		got := AddReplica(brokers, parts, replicas, exclude)
		var allowed []int32
		for _, b := range brokers {
			if !b.Draining && !slices.Contains(replicas, b.ID) && !slices.Contains(exclude, b.ID) {
				allowed = append(allowed, b.ID)
			}
		}
		if !slices.Contains(allowed, got) && (len(allowed) > 0 || got != -1) {
			t.Fatalf("%s: got %d, allowed %v", name, got, allowed)
		}
	}
}

// TestAssignWithExistingProperties checks Assign next to random existing
// partitions: the rules hold, only eligible brokers are used, and the
// order of the existing partitions does not matter.
func TestAssignWithExistingProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 4))
	for iter := range 1000 {
		brokers := randomCluster(rng)
		existing := randomParts(rng, brokers)
		rf := 1 + rng.IntN(3)
		n := rng.IntN(20)
		seed := rng.Uint64()
		name := fmt.Sprintf("case %d (seed %d): brokers %+v existing %v rf %d n %d", iter, propertySeed, brokers, existing, rf, n)
		got, err := Assign(brokers, existing, n, rf, seed)
		if eligibleCount(brokers) < rf {
			if !errors.Is(err, ErrNotEnoughBrokers) {
				t.Fatalf("%s: err %v, want ErrNotEnoughBrokers", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		o := newOracle(brokers)
		for _, replicas := range got {
			if len(replicas) != rf || !o.ok(replicas) {
				t.Fatalf("%s: %v breaks the rules", name, replicas)
			}
			for _, id := range replicas {
				if o.brokers[id].Draining {
					t.Fatalf("%s: %v uses draining broker %d", name, replicas, id)
				}
			}
		}
		rng.Shuffle(len(existing), func(i, j int) { existing[i], existing[j] = existing[j], existing[i] })
		if again, _ := Assign(brokers, existing, n, rf, seed); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("%s: depends on the order of existing partitions:\n%v\n%v", name, got, again)
		}
	}
}
