package placement

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// ErrNotEnoughBrokers means fewer eligible (non-draining) brokers are
// available than the replication factor asks for; the broker answers
// INVALID_REPLICATION_FACTOR.
var ErrNotEnoughBrokers = errors.New("placement: not enough brokers")

// onDemand is the Capacity of brokers that are not reclaimed.
const onDemand = "on-demand"

// Broker is what placement knows of a live broker.
type Broker struct {
	ID   int32
	Rack string // the zone; "" when unknown
	// Capacity is "on-demand", "spot" or "" (unknown, treated as spot).
	Capacity string
	// Draining brokers keep the replicas they have but receive no new
	// replica and are never made preferred leader by Assign or Repair; they
	// count for nothing in rule 1 (a partition whose only on-demand replica
	// is draining breaks rule 1 if another on-demand broker exists).
	Draining bool
}

// Partition is one existing partition's assignment.
type Partition struct {
	Topic     string
	Partition int32
	Replicas  []int32 // first = preferred leader
}

// Violation is one partition's breach of rule 1 or 2, or a replica that is
// not on a known broker (Rule 0).
type Violation struct {
	Topic     string
	Partition int32
	// Rule is 1 (no on-demand replica), 2 (zones) or 0 (a replica on a
	// broker that is not given, or listed twice).
	Rule   int
	Reason string
}

// Violations returns every partition's breaches of rules 1 and 2 and its
// replicas on unknown brokers, by topic, partition and rule. Rules are
// judged on the replicas as they are, except that a replica on an unknown
// broker is not also reported as a zone missing from the partition.
func Violations(brokers []Broker, parts []Partition) []Violation {
	l := newLayout(brokers, 0)
	var out []Violation
	for _, p := range parts {
		if len(p.Replicas) == 0 {
			continue // nothing to place
		}
		members, bad := l.resolve(p.Replicas)
		for _, s := range bad {
			out = append(out, Violation{p.Topic, p.Partition, 0, l.badReason(p.Replicas, s)})
		}
		r := len(p.Replicas)
		if reason := l.capacityProblem(members); reason != "" {
			out = append(out, Violation{p.Topic, p.Partition, 1, reason})
		}
		for _, reason := range l.zoneProblems(members, r) {
			out = append(out, Violation{p.Topic, p.Partition, 2, reason})
		}
	}
	slices.SortStableFunc(out, func(a, b Violation) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Rule, b.Rule))
	})
	return out
}

// layout is the brokers indexed densely (by ascending id) with what the
// rules need precomputed. Broker indexes, not ids, are used everywhere
// below; -1 stands for a replica on an unknown broker.
type layout struct {
	ids      []int32
	index    map[int32]int
	zone     []int    // zone number of each broker
	zones    []string // zone names by number, ascending
	onDemand []bool
	draining []bool
	// rank orders equally good brokers: a permutation derived from the seed.
	rank     []int
	eligible []int // non-draining brokers, ascending id

	zoneEligible     []int // eligible brokers per zone
	zoneOnDemand     []int // eligible on-demand brokers per zone
	liveZones        int   // zones with an eligible broker
	onDemandEligible int   // eligible on-demand brokers

	caps []int // caps[r]: rule 2's bound m for replication factor r

	// Scratch space for fits, one entry per zone.
	cnt []int
}

func newLayout(brokers []Broker, seed uint64) *layout {
	bs := slices.Clone(brokers)
	slices.SortStableFunc(bs, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	bs = slices.CompactFunc(bs, func(a, b Broker) bool { return a.ID == b.ID }) // first of each id wins
	n := len(bs)
	l := &layout{
		ids:      make([]int32, n),
		index:    make(map[int32]int, n),
		zone:     make([]int, n),
		onDemand: make([]bool, n),
		draining: make([]bool, n),
		rank:     make([]int, n),
	}
	for _, b := range bs {
		l.zones = append(l.zones, b.Rack)
	}
	slices.Sort(l.zones)
	l.zones = slices.Compact(l.zones)
	l.zoneEligible = make([]int, len(l.zones))
	l.zoneOnDemand = make([]int, len(l.zones))
	l.cnt = make([]int, len(l.zones))
	for i, b := range bs {
		z, _ := slices.BinarySearch(l.zones, b.Rack)
		l.ids[i], l.index[b.ID], l.zone[i] = b.ID, i, z
		l.onDemand[i], l.draining[i] = b.Capacity == onDemand, b.Draining
		if b.Draining {
			continue
		}
		l.eligible = append(l.eligible, i)
		l.zoneEligible[z]++
		if l.onDemand[i] {
			l.zoneOnDemand[z]++
			l.onDemandEligible++
		}
	}
	for _, c := range l.zoneEligible {
		if c > 0 {
			l.liveZones++
		}
	}
	perm := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Perm(n)
	copy(l.rank, perm)
	return l
}

// good reports whether broker b counts for rule 1: eligible and on-demand.
func (l *layout) good(b int) bool { return l.onDemand[b] && !l.draining[b] }

// cap returns rule 2's bound on the replicas of one partition in one zone
// at replication factor r: the smallest m such that the zones' eligible
// brokers, at most m per zone, number at least r; r when there are fewer
// than r eligible brokers.
func (l *layout) cap(r int) int {
	for len(l.caps) <= r {
		l.caps = append(l.caps, l.computeCap(len(l.caps)))
	}
	return l.caps[r]
}

func (l *layout) computeCap(r int) int {
	if r <= 0 || len(l.eligible) < r {
		return max(r, 0)
	}
	for m := (r + l.liveZones - 1) / l.liveZones; ; m++ {
		room := 0
		for _, c := range l.zoneEligible {
			room += min(m, c)
		}
		if room >= r {
			return m
		}
	}
}

// need returns how many zones a partition with r replicas must span.
func (l *layout) need(r int) int { return min(r, l.liveZones) }

// resolve maps replica ids to broker indexes: members are the distinct
// known brokers in list order, bad the positions of replicas on unknown
// brokers or listed twice.
func (l *layout) resolve(replicas []int32) (members []int, bad []int) {
	members = make([]int, 0, len(replicas))
	for s, id := range replicas {
		b, ok := l.index[id]
		if !ok || slices.Contains(members, b) {
			bad = append(bad, s)
			continue
		}
		members = append(members, b)
	}
	return members, bad
}

func (l *layout) badReason(replicas []int32, s int) string {
	if _, ok := l.index[replicas[s]]; ok {
		return fmt.Sprintf("broker %d listed twice", replicas[s])
	}
	return fmt.Sprintf("replica on dead broker %d", replicas[s])
}

// hasOnDemand reports whether members meet rule 1.
func (l *layout) hasOnDemand(members []int) bool {
	if l.onDemandEligible == 0 {
		return true
	}
	for _, b := range members {
		if l.good(b) {
			return true
		}
	}
	return false
}

// valid reports whether members, distinct known brokers, meet rules 1 and
// 2 for a partition with r replicas. members holds r brokers when complete.
func (l *layout) valid(members []int, r int) bool {
	if !l.hasOnDemand(members) {
		return false
	}
	m, distinct := l.cap(r), 0
	for i, b := range members {
		same, first := 0, true
		for j, c := range members {
			if l.zone[c] == l.zone[b] {
				same++
				first = first && j >= i
			}
		}
		if same > m {
			return false
		}
		if first {
			distinct++
		}
	}
	return distinct >= l.need(r)
}

// capacityProblem describes members' breach of rule 1, "" if none.
func (l *layout) capacityProblem(members []int) string {
	if l.hasOnDemand(members) {
		return ""
	}
	for _, b := range members {
		if l.onDemand[b] {
			return fmt.Sprintf("only on-demand replica is on draining broker %d", l.ids[b])
		}
	}
	return "no on-demand replica"
}

// zoneProblems describes members' breaches of rule 2 for a partition with r
// replicas. The replicas missing from members (on unknown brokers) count
// as spanning a zone each: replacing them is the fix, reported apart.
func (l *layout) zoneProblems(members []int, r int) []string {
	clear(l.cnt)
	distinct := 0
	for _, b := range members {
		if l.cnt[l.zone[b]] == 0 {
			distinct++
		}
		l.cnt[l.zone[b]]++
	}
	var out []string
	for z, c := range l.cnt {
		if c > l.cap(r) {
			out = append(out, fmt.Sprintf("zone %s holds %d of %d", zoneName(l.zones[z]), c, r))
		}
	}
	if need := l.need(r); distinct+r-len(members) < need {
		out = append(out, fmt.Sprintf("replicas span %d zones, %d available", distinct, need))
	}
	return out
}

func zoneName(z string) string {
	if z == "" {
		return `""`
	}
	return z
}

// pool counts, per zone, the eligible brokers that may still be added to a
// partition: avail[z] of them, availOD[z] of which are on-demand.
type pool struct {
	avail, availOD []int
}

// newPool returns the pool of eligible brokers not in taken.
func (l *layout) newPool(taken []int) pool {
	p := pool{slices.Clone(l.zoneEligible), slices.Clone(l.zoneOnDemand)}
	for _, b := range taken {
		p.take(l, b)
	}
	return p
}

// take removes b from the pool (a no-op for draining brokers, never in it).
func (p pool) take(l *layout, b int) {
	if l.draining[b] {
		return
	}
	p.avail[l.zone[b]]--
	if l.onDemand[b] {
		p.availOD[l.zone[b]]--
	}
}

// put returns b to the pool.
func (p pool) put(l *layout, b int) {
	if l.draining[b] {
		return
	}
	p.avail[l.zone[b]]++
	if l.onDemand[b] {
		p.availOD[l.zone[b]]++
	}
}

// fits reports whether members, distinct known brokers, can be completed
// to r replicas meeting rules 1 and 2 by adding brokers from p. It decides
// from counts alone: zones first (each zone below the bound m can take
// min(m - held, available) more; the missing zones need one addition each),
// and for rule 1 it tries each zone that can take an on-demand broker.
func (l *layout) fits(members []int, r int, p pool) bool {
	add := r - len(members)
	if add < 0 {
		return false
	}
	cnt := l.cnt
	clear(cnt)
	for _, b := range members {
		cnt[l.zone[b]]++
	}
	if l.hasOnDemand(members) {
		return l.fitsZones(cnt, add, r, p.avail)
	}
	m := l.cap(r)
	for z := range cnt {
		if p.availOD[z] == 0 || cnt[z] >= m {
			continue
		}
		cnt[z]++
		p.avail[z]--
		ok := l.fitsZones(cnt, add-1, r, p.avail)
		cnt[z]--
		p.avail[z]++
		if ok {
			return true
		}
	}
	return false
}

// fitsZones reports whether a partition holding cnt[z] replicas per zone can
// take add more, from avail[z] per zone, and meet rule 2.
func (l *layout) fitsZones(cnt []int, add, r int, avail []int) bool {
	if add < 0 {
		return false
	}
	m := l.cap(r)
	distinct, fresh, room := 0, 0, 0
	for z, c := range cnt {
		if c > m {
			return false
		}
		if c > 0 {
			distinct++
		} else if avail[z] > 0 {
			fresh++
		}
		room += max(0, min(m-c, avail[z]))
	}
	missing := max(0, l.need(r)-distinct)
	return room >= add && fresh >= missing && add >= missing
}

// better orders brokers for a new replica: fewer replicas first, then by
// the seed's permutation.
func (l *layout) better(load []int, a, b int) int {
	return cmp.Or(cmp.Compare(load[a], load[b]), cmp.Compare(l.rank[a], l.rank[b]))
}

// betterLeader orders brokers for preferred leadership: fewer leaderships,
// on-demand first, fewer replicas, then by the seed's permutation.
func (l *layout) betterLeader(leaders, load []int, a, b int) int {
	return cmp.Or(cmp.Compare(leaders[a], leaders[b]), -cmpBool(l.onDemand[a], l.onDemand[b]),
		cmp.Compare(load[a], load[b]), cmp.Compare(l.rank[a], l.rank[b]))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// mean formats the mean count per eligible broker of a per-broker count.
func (l *layout) mean(count []int) string {
	total := 0
	for _, b := range l.eligible {
		total += count[b]
	}
	if len(l.eligible) == 0 {
		return "0"
	}
	s := fmt.Sprintf("%.1f", float64(total)/float64(len(l.eligible)))
	return strings.TrimSuffix(s, ".0")
}
