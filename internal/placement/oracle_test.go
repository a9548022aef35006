package placement

import (
	"slices"
)

// oracle judges placements by brute force, independently of the package's
// counting: the best a partition can do under rule 2 is found by trying
// every set of eligible brokers, not by formula. It is only usable on the
// small clusters of the tests.
type oracle struct {
	brokers  map[int32]Broker
	eligible []int32
	anyOD    bool
	best     map[int]bound
}

// bound is the best any r eligible brokers achieve: the lowest largest
// zone count and the most zones spanned.
type bound struct {
	feasible        bool
	maxZone, zones  int
	jointlyPossible bool // some set reaches both, with an on-demand broker if any
}

func newOracle(brokers []Broker) *oracle {
	o := &oracle{brokers: map[int32]Broker{}, best: map[int]bound{}}
	for _, b := range brokers {
		if _, dup := o.brokers[b.ID]; dup {
			continue
		}
		o.brokers[b.ID] = b
		if !b.Draining {
			o.eligible = append(o.eligible, b.ID)
			o.anyOD = o.anyOD || b.Capacity == "on-demand"
		}
	}
	slices.Sort(o.eligible)
	return o
}

// subsets calls f with every k-subset of ids (f must not keep it).
func subsets(ids []int32, k int, f func([]int32)) {
	buf := make([]int32, 0, k)
	var rec func(int)
	rec = func(start int) {
		if len(buf) == k {
			f(buf)
			return
		}
		for i := start; i < len(ids); i++ {
			buf = append(buf, ids[i])
			rec(i + 1)
			buf = buf[:len(buf)-1]
		}
	}
	rec(0)
}

func (o *oracle) shape(set []int32) (maxZone, zones int, od bool) {
	count := map[string]int{}
	for _, id := range set {
		b := o.brokers[id]
		count[b.Rack]++
		maxZone = max(maxZone, count[b.Rack])
		od = od || (b.Capacity == "on-demand" && !b.Draining)
	}
	return maxZone, len(count), od
}

func (o *oracle) bound(r int) bound {
	if b, ok := o.best[r]; ok {
		return b
	}
	b := bound{maxZone: r + 1}
	subsets(o.eligible, r, func(set []int32) {
		m, z, _ := o.shape(set)
		b.feasible = true
		b.maxZone = min(b.maxZone, m)
		b.zones = max(b.zones, z)
	})
	subsets(o.eligible, r, func(set []int32) {
		m, z, od := o.shape(set)
		if m == b.maxZone && z == b.zones && (od || !o.anyOD) {
			b.jointlyPossible = true
		}
	})
	o.best[r] = b
	return b
}

// ok reports whether replicas (r of them) are all on distinct known brokers
// and meet rules 1 and 2 as well as the best eligible set could.
func (o *oracle) ok(replicas []int32) bool {
	seen := map[int32]bool{}
	for _, id := range replicas {
		if _, known := o.brokers[id]; !known || seen[id] {
			return false
		}
		seen[id] = true
	}
	b := o.bound(len(replicas))
	if !b.feasible {
		return false
	}
	m, z, od := o.shape(replicas)
	return (od || !o.anyOD) && m <= b.maxZone && z >= b.zones
}

// minChanges returns the fewest replicas of replicas to replace (keeping
// the others, draining ones included) to make it ok, and false when no
// replacement can.
func (o *oracle) minChanges(replicas []int32) (int, bool) {
	r := len(replicas)
	var kept []int32
	for _, id := range replicas {
		if _, known := o.brokers[id]; known && !slices.Contains(kept, id) {
			kept = append(kept, id)
		}
	}
	cands := slices.Clone(o.eligible)
	for _, id := range kept {
		if !slices.Contains(cands, id) {
			cands = append(cands, id)
		}
	}
	best, found := r+1, false
	subsets(cands, r, func(set []int32) {
		if !o.ok(set) {
			return
		}
		same := 0
		for _, id := range set {
			if slices.Contains(kept, id) {
				same++
			}
		}
		found = true
		best = min(best, r-same)
	})
	return best, found
}

// zoneOf returns the zone and capacity class of a broker.
func (o *oracle) class(id int32) [2]string {
	b := o.brokers[id]
	od := "spot"
	if b.Capacity == "on-demand" {
		od = "on-demand"
	}
	return [2]string{b.Rack, od}
}
