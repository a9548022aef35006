package placement

import (
	"cmp"
	"slices"
	"strings"
)

// Move is one partition's new replica list.
type Move struct {
	Topic     string
	Partition int32
	Replicas  []int32 // the target list, first = preferred leader
	// Reason says why, for operators: the problems fixed and the balancing
	// steps taken, separated by "; ", e.g. "replica on dead broker 4",
	// "no on-demand replica", "zone us-east-1a holds 2 of 3",
	// "broker 3 holds 40 replicas, mean 30", "broker 3 leads 12
	// partitions, mean 8".
	Reason string
}

// maxSearch bounds the replicas among which Repair looks for the fewest to
// replace by trying every subset; beyond it (replication factors no one
// runs) it tries dropping up to three and else rebuilds the list, which
// may change more replicas than needed.
const maxSearch = 12

// Repair returns the moves that bring parts back under the package's
// rules, by topic and partition, at most one per partition:
//
//   - replicas on brokers not in brokers (dead past their grace period; a
//     broker within its grace period must be given) or listed twice are
//     replaced in place, and rule 1 and 2 violations fixed, each partition
//     with the fewest replica changes that meet both rules. Partitions
//     with replicas on dead brokers come first, then rule 1 violations,
//     then rule 2 ones. When no list can meet the rules, dead replicas are
//     still replaced by the least loaded eligible brokers;
//   - then, for rule 3, single replicas move from a broker to one holding
//     at least two fewer, as long as rules 1 and 2 still hold;
//   - then preferred leaders are reordered: away from draining and dead
//     brokers, then along chains for rule 4.
//
// At most limit moves change a replica set (limit <= 0: no limit); moves
// that only reorder a list change no data and are not limited. A cluster
// balanced within the tolerance described in the package documentation
// yields no moves, and so does Repair's own result. The seed breaks ties;
// the order of parts does not matter (a partition given twice counts once).
func Repair(brokers []Broker, parts []Partition, seed uint64, limit int) []Move {
	l := newLayout(brokers, seed)
	sorted := slices.Clone(parts)
	slices.SortStableFunc(sorted, func(a, b Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	sorted = slices.CompactFunc(sorted, func(a, b Partition) bool { return a.Topic == b.Topic && a.Partition == b.Partition })
	pl := newPlan(l, sorted, true)
	pl.limit = limit

	type fix struct{ pi, priority int }
	var fixes []fix
	for pi, p := range pl.parts {
		if p.ok {
			continue
		}
		members := p.members()
		switch {
		case len(members) < len(p.cur):
			fixes = append(fixes, fix{pi, 0})
		case !l.hasOnDemand(members):
			fixes = append(fixes, fix{pi, 1})
		default:
			fixes = append(fixes, fix{pi, 2})
		}
	}
	slices.SortStableFunc(fixes, func(a, b fix) int { return cmp.Compare(a.priority, b.priority) })
	for _, f := range fixes {
		if !pl.room() {
			break
		}
		pl.fix(f.pi)
	}
	pl.balanceReplicas()
	pl.balanceLeaders()

	var out []Move
	for _, p := range pl.parts {
		if slices.Equal(p.ids, p.orig) {
			continue
		}
		reasons := p.reasons
		for _, b := range p.balanced {
			if !slices.Contains(p.ids, b.from) {
				reasons = append(reasons, b.reason)
			}
		}
		if p.leaderReason != "" {
			reasons = append(reasons, p.leaderReason)
		}
		if len(reasons) == 0 {
			reasons = []string{"replica set restored"} // balancing moved a replica away and back
		}
		out = append(out, Move{Topic: p.topic, Partition: p.partition, Replicas: slices.Clone(p.ids), Reason: strings.Join(reasons, "; ")})
	}
	return out
}

// fix replaces the fewest replicas of partition pi that make it meet rules
// 1 and 2 with no replica on an unknown broker. Among the choices with
// that many changes it prefers dropping replicas on draining brokers, then
// keeping the preferred leader, then the lowest resulting load.
func (pl *plan) fix(pi int) {
	l, p := pl.l, pl.parts[pi]
	r := len(p.cur)
	members := p.members()
	candidates := slices.Clone(l.eligible)
	slices.SortFunc(candidates, func(a, b int) int { return l.better(pl.load, a, b) })
	if best := pl.bestFix(p, members, candidates); best != nil {
		for s, b := range p.cur {
			if b < 0 {
				p.reasons = append(p.reasons, l.badReason(p.orig, s))
			}
		}
		if reason := l.capacityProblem(members); reason != "" {
			p.reasons = append(p.reasons, reason)
		}
		p.reasons = append(p.reasons, l.zoneProblems(members, r)...)
		pl.apply(pi, best)
		return
	}
	if best := pl.fallbackFix(p, members, candidates); best != nil {
		for _, c := range best.changes {
			if p.cur[c.slot] < 0 {
				p.reasons = append(p.reasons, l.badReason(p.orig, c.slot))
			}
		}
		p.reasons = append(p.reasons, "rules 1 and 2 cannot be met")
		pl.apply(pi, best)
	}
}

// apply makes the changes of a fix to partition pi.
func (pl *plan) apply(pi int, best *fixChoice) {
	l, p := pl.l, pl.parts[pi]
	r := len(p.cur)
	for _, c := range best.changes {
		pl.replace(pi, c.slot, c.broker)
	}
	after := p.members()
	p.ok = len(after) == r && l.valid(after, r)
}

// change puts broker in slot.
type change struct{ slot, broker int }

// fixChoice is one way to fix a partition and what makes it better or
// worse than another with as many changes.
type fixChoice struct {
	changes       []change
	drainingFreed int
	leaderKept    bool
	loadDelta     int
}

func (a *fixChoice) betterThan(b *fixChoice) bool {
	return cmp.Or(-cmp.Compare(a.drainingFreed, b.drainingFreed), -cmpBool(a.leaderKept, b.leaderKept),
		cmp.Compare(a.loadDelta, b.loadDelta)) < 0
}

// bestFix tries dropping 0, 1, 2... of members (on top of the replicas on
// unknown brokers) and returns the best completion for the fewest drops
// that can meet the rules, or nil. candidates are the eligible brokers,
// least loaded first.
func (pl *plan) bestFix(p *part, members, candidates []int) *fixChoice {
	l := pl.l
	r := len(p.cur)
	pool := l.newPool(members)
	maxDrop := len(members)
	if len(members) > maxSearch {
		maxDrop = min(maxDrop, 3)
	}
	drop := make([]int, 0, maxDrop) // indexes into members
	kept := make([]int, 0, len(members))
	for k := 0; k <= maxDrop; k++ {
		var best *fixChoice
		combinations(drop[:0], len(members), k, func(drop []int) {
			kept = kept[:0]
			for i, b := range members {
				if !slices.Contains(drop, i) {
					kept = append(kept, b)
				}
			}
			if !l.fits(kept, r, pool) {
				return
			}
			c := pl.complete(p, kept, members, drop, candidates, pool)
			if c != nil && (best == nil || c.betterThan(best)) {
				best = c
			}
		})
		if best != nil {
			return best
		}
	}
	if maxDrop < len(members) {
		return pl.rebuild(p, candidates)
	}
	return nil
}

// complete adds to kept, greedily by load, brokers from pool (the eligible
// brokers not in members) until the partition is full, putting them in
// the slots of the dropped members and the replicas on unknown brokers.
func (pl *plan) complete(p *part, kept, members, drop, candidates []int, pool pool) *fixChoice {
	l := pl.l
	r := len(p.cur)
	var slots []int
	for s, b := range p.cur {
		if b < 0 || slices.ContainsFunc(drop, func(i int) bool { return members[i] == b }) {
			slots = append(slots, s)
		}
	}
	c := &fixChoice{leaderKept: p.cur[0] >= 0 && slices.Contains(kept, p.cur[0])}
	for _, i := range drop {
		if l.draining[members[i]] {
			c.drainingFreed++
		}
		c.loadDelta -= pl.load[members[i]]
	}
	set := slices.Clone(kept)
	var taken []int
	defer func() {
		for _, b := range taken {
			pool.put(l, b)
		}
	}()
	for _, slot := range slots {
		found := false
		for _, b := range candidates {
			if slices.Contains(members, b) || slices.Contains(set, b) {
				continue
			}
			pool.take(l, b)
			if l.fits(append(set, b), r, pool) {
				set = append(set, b)
				taken = append(taken, b)
				c.changes = append(c.changes, change{slot, b})
				c.loadDelta += pl.load[b]
				found = true
				break
			}
			pool.put(l, b)
		}
		if !found {
			return nil
		}
	}
	return c
}

// rebuild returns the list that the greedy choice of Assign would make
// for p, keeping each broker's slot where it stays; for replication
// factors past maxSearch, when dropping up to three replicas is not enough.
func (pl *plan) rebuild(p *part, candidates []int) *fixChoice {
	l := pl.l
	r := len(p.cur)
	all := l.newPool(nil)
	var set []int
	for _, b := range candidates {
		if len(set) == r {
			break
		}
		all.take(l, b)
		if l.fits(append(set, b), r, all) {
			set = append(set, b)
		} else {
			all.put(l, b)
		}
	}
	if len(set) < r {
		return nil
	}
	c := &fixChoice{}
	var free []int // slots whose broker goes
	for s, b := range p.cur {
		if i := slices.Index(set, b); i >= 0 {
			set = slices.Delete(set, i, i+1)
		} else {
			free = append(free, s)
		}
	}
	for i, s := range free {
		c.changes = append(c.changes, change{s, set[i]})
	}
	return c
}

// fallbackFix is used when no list meets the rules: it replaces the
// replicas on unknown brokers with the least loaded eligible brokers
// (as many as there are).
func (pl *plan) fallbackFix(p *part, members, candidates []int) *fixChoice {
	c := &fixChoice{}
	free := slices.DeleteFunc(slices.Clone(candidates), func(b int) bool { return slices.Contains(members, b) })
	for s, b := range p.cur {
		if b < 0 && len(free) > 0 {
			c.changes = append(c.changes, change{s, free[0]})
			free = free[1:]
		}
	}
	if len(c.changes) == 0 {
		return nil
	}
	return c
}

// combinations calls f with every k-subset of 0..n-1 in lexicographic
// order, built in buf.
func combinations(buf []int, n, k int, f func([]int)) {
	var rec func(start int)
	rec = func(start int) {
		if len(buf) == k {
			f(buf)
			return
		}
		for i := start; i <= n-(k-len(buf)); i++ {
			buf = append(buf, i)
			rec(i + 1)
			buf = buf[:len(buf)-1]
		}
	}
	rec(0)
}

// AddReplica returns the best broker to add to replicas under the rules
// and the load of parts, or -1 if none: a broker that is not in replicas,
// not draining and not in exclude. It is meant for the temporary replica
// that stands in for a draining one, so the rules are judged on the
// replicas that stay (those on eligible brokers) plus the new one, as a
// list as long as replicas (or one longer when none leaves): first a
// broker with which that list can meet rules 1 and 2, then one that gives
// it an on-demand replica, then one in a zone holding fewer of its
// replicas, then the least loaded, then the lowest id.
func AddReplica(brokers []Broker, parts []Partition, replicas []int32, exclude []int32) int32 {
	l := newLayout(brokers, 0)
	pl := newPlan(l, parts, false)
	all, _ := l.resolve(replicas)
	stay := slices.DeleteFunc(slices.Clone(all), func(b int) bool { return l.draining[b] })
	r := max(len(replicas), len(stay)+1)
	pool := l.newPool(all)
	for i, id := range exclude {
		if b, ok := l.index[id]; ok && !slices.Contains(all, b) && slices.Index(exclude, id) == i {
			pool.take(l, b)
		}
	}
	zoneHeld := make([]int, len(l.zones))
	for _, b := range stay {
		zoneHeld[l.zone[b]]++
	}
	type score struct {
		b              int
		fits, od       bool
		zoneHeld, load int
		haveScore      bool
	}
	var best score
	for _, b := range l.eligible {
		if slices.Contains(all, b) || slices.Contains(exclude, l.ids[b]) {
			continue
		}
		pool.take(l, b)
		set := append(slices.Clone(stay), b)
		s := score{b: b, fits: l.fits(set, r, pool), od: l.hasOnDemand(set), zoneHeld: zoneHeld[l.zone[b]], load: pl.load[b], haveScore: true}
		pool.put(l, b)
		if !best.haveScore || cmp.Or(-cmpBool(s.fits, best.fits), -cmpBool(s.od, best.od),
			cmp.Compare(s.zoneHeld, best.zoneHeld), cmp.Compare(s.load, best.load)) < 0 {
			best = s
		}
	}
	if !best.haveScore {
		return -1
	}
	return l.ids[best.b]
}
