package placement

import (
	"cmp"
	"fmt"
	"slices"
)

// plan is a set of partitions being placed or repaired, with the replica
// and leader counts per broker kept up to date as they change.
type plan struct {
	l     *layout
	parts []*part
	// load counts replicas per broker, leaders the partitions each broker
	// is preferred leader of; both over every partition in parts.
	load, leaders []int
	// partsOf lists, per broker, the partitions it holds a replica of.
	// Entries go stale when a replica moves away; users check.
	partsOf [][]int32
	// limit caps the partitions whose replica set changes (0: none);
	// changed counts them.
	limit, changed int
}

// balanceStep is a replica that balancing moved off broker from.
type balanceStep struct {
	from   int32
	reason string
}

// part is one partition in a plan.
type part struct {
	topic     string
	partition int32
	// orig is the replica list given (nil for a new partition).
	orig []int32
	// cur is the current list as broker indexes, -1 for a replica on an
	// unknown broker or listed twice; ids the same list as broker ids.
	cur []int
	ids []int32
	// movable partitions may change; ok ones have no replica on an unknown
	// broker and meet rules 1 and 2, so their replicas may move between
	// eligible brokers.
	movable, ok bool
	// changed is set once the replica set changed.
	changed bool
	// reasons explain the fixes; balanced explains, per broker of orig
	// that balancing moved a replica away from, why (dropped if the
	// replica comes back).
	reasons  []string
	balanced []balanceStep
	// leaderReason explains a change of preferred leader.
	leaderReason string
}

func newPlan(l *layout, existing []Partition, movable bool) *plan {
	pl := &plan{
		l:       l,
		parts:   make([]*part, 0, len(existing)),
		load:    make([]int, len(l.ids)),
		leaders: make([]int, len(l.ids)),
		partsOf: make([][]int32, len(l.ids)),
	}
	for _, e := range existing {
		p := &part{topic: e.Topic, partition: e.Partition, orig: e.Replicas, movable: movable,
			cur: make([]int, len(e.Replicas)), ids: slices.Clone(e.Replicas)}
		for s := range p.cur {
			p.cur[s] = -1
		}
		members, _ := l.resolve(e.Replicas)
		for _, b := range members {
			p.cur[slices.Index(e.Replicas, l.ids[b])] = b
		}
		p.ok = len(members) == len(p.cur) && (len(members) == 0 || l.valid(members, len(p.cur)))
		pl.add(p)
	}
	return pl
}

// add appends p and counts its replicas and leader.
func (pl *plan) add(p *part) {
	i := int32(len(pl.parts))
	pl.parts = append(pl.parts, p)
	for _, b := range p.cur {
		if b >= 0 {
			pl.load[b]++
			pl.partsOf[b] = append(pl.partsOf[b], i)
		}
	}
	if len(p.cur) > 0 && p.cur[0] >= 0 {
		pl.leaders[p.cur[0]]++
	}
}

// members returns p's distinct known brokers.
func (p *part) members() []int {
	out := make([]int, 0, len(p.cur))
	for _, b := range p.cur {
		if b >= 0 {
			out = append(out, b)
		}
	}
	return out
}

// replace puts broker b in slot s of p (b >= 0), keeping the counts.
func (pl *plan) replace(pi int, s, b int) {
	p := pl.parts[pi]
	if old := p.cur[s]; old >= 0 {
		pl.load[old]--
		if s == 0 {
			pl.leaders[old]--
		}
	}
	p.cur[s], p.ids[s] = b, pl.l.ids[b]
	pl.load[b]++
	if s == 0 {
		pl.leaders[b]++
	}
	pl.partsOf[b] = append(pl.partsOf[b], int32(pi))
	if !p.changed {
		p.changed = true
		pl.changed++
	}
}

// room reports whether another partition's replica set may change.
func (pl *plan) room() bool { return pl.limit <= 0 || pl.changed < pl.limit }

// holds reports whether p has a replica on broker b.
func (p *part) holds(b int) bool { return slices.Contains(p.cur, b) }

// balanceReplicas applies rule 3: while some replica can move from a broker
// x to a broker y holding at least two fewer, keeping rules 1 and 2, it
// moves one, from the most loaded x to the least loaded y. Only movable, ok
// partitions change, within the plan's limit; partitions already changed
// are used only when others cannot be.
//
// A broker without such a move is marked stuck and skipped until a move
// could give it one: a move changes one partition and two loads, so a
// stuck broker is checked again only if it holds a replica of that
// partition (that partition alone is checked) or the broker moved from now
// holds two fewer than it.
func (pl *plan) balanceReplicas() {
	l := pl.l
	stuck := make([]bool, len(l.ids))
	dest := pl.newDestinations()
	order := slices.Clone(l.eligible)
	for {
		slices.SortFunc(order, func(a, b int) int { return -l.better(pl.load, a, b) })
		moved := false
		for _, x := range order {
			if stuck[x] {
				continue
			}
			if pi, s, y := pl.findMove(x, dest); pi >= 0 {
				pl.moveReplica(pi, s, y, stuck, dest)
				moved = true
				break
			}
			stuck[x] = true
		}
		if !moved {
			return
		}
	}
}

// destinations lists, per zone, the eligible brokers least loaded first
// (then by rank): all of them, and the on-demand ones.
type destinations struct {
	all, good [][]int
}

func (pl *plan) newDestinations() destinations {
	l := pl.l
	d := destinations{make([][]int, len(l.zones)), make([][]int, len(l.zones))}
	for _, b := range l.eligible {
		z := l.zone[b]
		d.all[z] = append(d.all[z], b)
		if l.good(b) {
			d.good[z] = append(d.good[z], b)
		}
	}
	for z := range l.zones {
		pl.sortZone(d, z)
	}
	return d
}

func (pl *plan) sortZone(d destinations, z int) {
	by := func(a, b int) int { return pl.l.better(pl.load, a, b) }
	slices.SortFunc(d.all[z], by)
	slices.SortFunc(d.good[z], by)
}

// findMove returns a replica of x (partition pi, slot s) and the broker y it
// may move to, or pi -1.
func (pl *plan) findMove(x int, dest destinations) (pi, s, y int) {
	for _, changed := range []bool{false, true} {
		if !changed && !pl.room() {
			continue
		}
		for _, i := range pl.partsOf[x] {
			p := pl.parts[i]
			if p.changed != changed || !p.movable || !p.ok {
				continue
			}
			s := slices.Index(p.cur, x)
			if s < 0 {
				continue // stale entry
			}
			if y := pl.target(p, s, dest); y >= 0 {
				return int(i), s, y
			}
		}
	}
	return -1, -1, -1
}

// target returns the least loaded eligible broker, holding at least two
// replicas fewer than the broker in slot s of p, that this replica may move
// to, or -1. Since p is ok (it meets rules 1 and 2), the move keeps them
// if it keeps an on-demand replica, does not fill the destination zone
// past the bound and keeps enough zones: each zone is judged once, and
// offers its least loaded broker not in p.
func (pl *plan) target(p *part, s int, dest destinations) int {
	l := pl.l
	x := p.cur[s]
	r := len(p.cur)
	m, need := l.cap(r), l.need(r)
	needGood := l.onDemandEligible > 0 && l.good(x)
	zx, inX, distinct := l.zone[x], 0, 0
	for i, b := range p.cur {
		if i != s && l.good(b) {
			needGood = false
		}
		if l.zone[b] == zx {
			inX++
		}
		if !slices.ContainsFunc(p.cur[:i], func(c int) bool { return l.zone[c] == l.zone[b] }) {
			distinct++
		}
	}
	best := -1
	for z := range l.zones {
		if z != zx {
			inZ := 0
			for _, b := range p.cur {
				if l.zone[b] == z {
					inZ++
				}
			}
			d := distinct
			if inX == 1 {
				d--
			}
			if inZ == 0 {
				d++
			}
			if inZ+1 > m || d < need {
				continue
			}
		}
		list := dest.all[z]
		if needGood {
			list = dest.good[z]
		}
		for _, y := range list {
			if pl.load[y] > pl.load[x]-2 {
				break
			}
			if p.holds(y) {
				continue
			}
			if best < 0 || l.better(pl.load, y, best) < 0 {
				best = y
			}
			break
		}
	}
	return best
}

// moveReplica moves the replica in slot s of partition pi to broker y and
// clears the stuck marks the move may invalidate.
func (pl *plan) moveReplica(pi, s, y int, stuck []bool, dest destinations) {
	l, p := pl.l, pl.parts[pi]
	x := p.cur[s]
	if slices.Contains(p.orig, l.ids[x]) && !slices.ContainsFunc(p.balanced, func(b balanceStep) bool { return b.from == l.ids[x] }) {
		p.balanced = append(p.balanced, balanceStep{l.ids[x], fmt.Sprintf("broker %d holds %d replicas, mean %s", l.ids[x], pl.load[x], l.mean(pl.load))})
	}
	pl.replace(pi, s, y)
	pl.sortZone(dest, l.zone[x])
	pl.sortZone(dest, l.zone[y])
	stuck[x], stuck[y] = false, false
	for s, b := range p.cur {
		if b >= 0 && stuck[b] && pl.target(p, s, dest) >= 0 {
			stuck[b] = false
		}
	}
	for _, b := range l.eligible {
		if stuck[b] && pl.load[x] == pl.load[b]-2 {
			stuck[b] = false
		}
	}
}

// balanceLeaders applies rule 4 to the movable partitions. First each
// partition led by a broker that is not eligible gets the best eligible
// replica as leader. Then, while some broker x leads at least two more
// partitions than a broker y reachable from it (x leads a partition with a
// replica on a broker that leads a partition with a replica on ... y), the
// leaderships shift one step along the shortest such chain, each partition
// on it getting the next broker as leader. Only eligible brokers lead.
func (pl *plan) balanceLeaders() {
	l := pl.l
	for _, p := range pl.parts {
		if !p.movable || len(p.cur) == 0 || (p.cur[0] >= 0 && !l.draining[p.cur[0]]) {
			continue
		}
		best := -1
		for _, b := range p.cur {
			if b >= 0 && !l.draining[b] && (best < 0 || l.betterLeader(pl.leaders, pl.load, b, best) < 0) {
				best = b
			}
		}
		if best < 0 {
			continue
		}
		old := p.ids[0]
		if p.cur[0] >= 0 {
			pl.leaders[p.cur[0]]--
		}
		pl.leaders[best]++
		p.lead(best)
		if _, known := l.index[old]; known {
			p.leaderReason = fmt.Sprintf("preferred leader %d is draining", old)
		} else {
			p.leaderReason = fmt.Sprintf("preferred leader %d is dead", old)
		}
	}
	pl.shiftLeaders()
}

// shiftLeaders shifts leaderships along chains until no broker reaches
// one leading two fewer. The chains are breadth-first searches over the
// brokers: an edge u->v stands for the movable partitions led by u with a
// replica on v.
//
// The brokers are tried most leading first. A search from x that finds no
// broker leading two fewer marks every broker it reached done until the
// next shift: those lead at least as many as x less one and reach nothing
// x does not, so no search from or through them can succeed either.
func (pl *plan) shiftLeaders() {
	l := pl.l
	n := len(l.ids)
	// edges[u*n+v] lists the partitions of edge u->v, with stale entries;
	// count[u*n+v] is exact.
	edges := map[int][]int32{}
	count := make([]int32, n*n)
	link := func(pi int, sign int32) {
		p := pl.parts[pi]
		u := p.cur[0]
		for _, v := range p.cur[1:] {
			if v >= 0 && !l.draining[v] {
				count[u*n+v] += sign
				if sign > 0 {
					edges[u*n+v] = append(edges[u*n+v], int32(pi))
				}
			}
		}
	}
	for pi, p := range pl.parts {
		if p.movable && len(p.cur) > 0 && p.cur[0] >= 0 && !l.draining[p.cur[0]] {
			link(pi, 1)
		}
	}
	order := slices.Clone(l.eligible)
	parent := make([]int, n)
	done := make([]bool, n)
	queue := make([]int, 0, n)
	for {
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Or(-cmp.Compare(pl.leaders[a], pl.leaders[b]), cmp.Compare(l.rank[a], l.rank[b]))
		})
		clear(done)
		shifted := false
		for _, x := range order {
			if done[x] {
				continue
			}
			// The end is the reachable broker leading fewest, then
			// nearest, then first in order.
			for i := range parent {
				parent[i] = -2
			}
			parent[x] = -1
			queue = append(queue[:0], x)
			end := -1
			for qi := 0; qi < len(queue); qi++ {
				u := queue[qi]
				for _, v := range slices.Backward(order) {
					if parent[v] != -2 || done[v] || count[u*n+v] == 0 {
						continue
					}
					parent[v] = u
					queue = append(queue, v)
					if pl.leaders[v] <= pl.leaders[x]-2 && (end < 0 || pl.leaders[v] < pl.leaders[end]) {
						end = v
					}
				}
			}
			if end < 0 {
				for _, v := range queue {
					done[v] = true
				}
				continue
			}
			reason := fmt.Sprintf("broker %d leads %d partitions, mean %s", l.ids[x], pl.leaders[x], l.mean(pl.leaders))
			for v := end; parent[v] >= 0; v = parent[v] {
				u := parent[v]
				list := edges[u*n+v]
				for {
					p := pl.parts[list[len(list)-1]]
					if p.cur[0] == u && p.holds(v) {
						break
					}
					list = list[:len(list)-1] // stale; count > 0 promises a live entry
				}
				edges[u*n+v] = list
				pi := int(list[len(list)-1])
				p := pl.parts[pi]
				link(pi, -1)
				p.lead(v)
				link(pi, 1)
				if p.leaderReason == "" {
					p.leaderReason = reason
				}
			}
			pl.leaders[x]--
			pl.leaders[end]++
			shifted = true
			break
		}
		if !shifted {
			return
		}
	}
}

// lead moves broker b, a replica of p, to the front; the others keep their
// order.
func (p *part) lead(b int) {
	s := slices.Index(p.cur, b)
	id := p.ids[s]
	copy(p.cur[1:s+1], p.cur[:s])
	copy(p.ids[1:s+1], p.ids[:s])
	p.cur[0], p.ids[0] = b, id
}
