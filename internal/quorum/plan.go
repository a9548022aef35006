package quorum

import (
	"cmp"
	"slices"
	"time"
)

// Member is an etcd member as the planner sees it.
type Member struct {
	ID      uint64
	Name    string
	Learner bool
	// Host is the live broker running the member, -1 if none does.
	Host int32
	// DownSince is when the member was first seen without a host; zero
	// while it has one.
	DownSince time.Time
}

// Broker is a live broker as the planner sees it.
type Broker struct {
	ID   int32
	Rack string
	// OnDemand and Spot are broker.capacity; both false when unknown.
	OnDemand, Spot bool
	// Draining brokers are leaving: a member on one moves away.
	Draining bool
	// CanHost: the broker has peer URLs others can reach (it may run a
	// member of a multi-member cluster).
	CanHost bool
	// Member is the id of the member it runs, 0 if none.
	Member uint64
}

// ActionKind is what one planning step does.
type ActionKind int

// Actions, one membership change each.
const (
	// None: the quorum is as it should be, or a change must wait.
	None ActionKind = iota
	// Remove takes Member out of the cluster.
	Remove
	// Add adds a learner on Broker, which then starts it.
	Add
	// Promote makes the learner Member a voter, once it has caught up.
	Promote
)

func (k ActionKind) String() string {
	switch k {
	case Remove:
		return "remove"
	case Add:
		return "add"
	case Promote:
		return "promote"
	}
	return "none"
}

// Action is the next membership change.
type Action struct {
	Kind   ActionKind
	Member uint64 // Remove, Promote
	Broker int32  // Add
	Reason string
}

// Plan returns the next membership change of a cluster with members,
// given the live brokers, the number of voters wanted, how long a member
// may be without a host before it is replaced, and the time now. One
// change at a time, in this order:
//
//  1. A learner is dealt with first: promoted once its broker runs it,
//     removed if none has run it within grace. Nothing else happens while
//     one exists.
//  2. A voter without a host for grace is removed, before its replacement
//     is added: of the two orders, this is the one that never has more
//     voters down than the cluster had before the change (etcd's advice
//     for replacing a failed member), and it frees the dead member's peer
//     URL for a replacement on the same address.
//  3. With fewer voters than wanted, a learner is added on the best broker
//     that can host one and runs no member: on-demand before unknown
//     before spot, a zone no voter is in before one that has one, then
//     the lowest id.
//  4. With as many voters as wanted, a voter on a draining broker, on spot
//     capacity while an on-demand broker could host it, or sharing a zone
//     while another zone is free, is replaced: a learner is added on the
//     better broker first (step 5 then removes the voter it replaces), so
//     that the cluster never has fewer live voters than wanted.
//  5. With more voters than wanted, the worst voter is removed: the one
//     without a host, then on a draining broker, then on spot, then
//     sharing a zone; among equals the highest broker id.
//
// Nothing changes while no majority of voters is hosted (no change could
// commit), and removing a voter never leaves fewer than one.
func Plan(members []Member, brokers []Broker, want int, grace time.Duration, now time.Time) Action {
	byID := make(map[int32]Broker, len(brokers))
	for _, b := range brokers {
		byID[b.ID] = b
	}
	var voters []Member
	for _, m := range members {
		if m.Learner {
			if m.Host >= 0 {
				return Action{Kind: Promote, Member: m.ID, Reason: "learner started"}
			}
			if !m.DownSince.IsZero() && now.Sub(m.DownSince) >= grace {
				return Action{Kind: Remove, Member: m.ID, Reason: "learner never started"}
			}
			return Action{Reason: "waiting for a learner to start"}
		}
		voters = append(voters, m)
	}
	hosted := 0
	for _, m := range voters {
		if m.Host >= 0 {
			hosted++
		}
	}
	if hosted <= len(voters)/2 {
		// No quorum that could commit a change: wait for members to return.
		return Action{Reason: "no quorum of live voters"}
	}
	if len(voters) > 1 {
		for _, m := range voters {
			if m.Host < 0 && !m.DownSince.IsZero() && now.Sub(m.DownSince) >= grace {
				return Action{Kind: Remove, Member: m.ID, Reason: "no live broker runs it"}
			}
		}
	}
	cands := candidates(brokers, voters, byID)
	switch {
	case len(voters) < want:
		if len(cands) > 0 {
			return Action{Kind: Add, Broker: cands[0].ID, Reason: "fewer voters than wanted"}
		}
	case len(voters) == want && len(cands) > 0:
		w := worst(voters, byID)
		if better(cands[0], w, voters, byID) {
			return Action{Kind: Add, Broker: cands[0].ID, Reason: "a better broker for a voter"}
		}
	case len(voters) > want:
		// Only once every voter left after the removal runs: a voter that
		// is down goes first, by worst's order.
		return Action{Kind: Remove, Member: worst(voters, byID).ID, Reason: "more voters than wanted"}
	}
	return Action{}
}

// candidates returns the brokers that could host a new member, best
// first.
func candidates(brokers []Broker, voters []Member, byID map[int32]Broker) []Broker {
	racks := map[string]bool{}
	for _, v := range voters {
		if b, ok := byID[v.Host]; ok {
			racks[b.Rack] = true
		}
	}
	var out []Broker
	for _, b := range brokers {
		if b.CanHost && !b.Draining && b.Member == 0 && !hosts(voters, b.ID) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Broker) int {
		return cmp.Or(
			cmp.Compare(capacityRank(a), capacityRank(b)),
			cmp.Compare(boolRank(racks[a.Rack]), boolRank(racks[b.Rack])),
			cmp.Compare(a.ID, b.ID))
	})
	return out
}

func hosts(voters []Member, id int32) bool {
	return slices.ContainsFunc(voters, func(m Member) bool { return m.Host == id })
}

// capacityRank orders capacities from the best place for a member.
func capacityRank(b Broker) int {
	switch {
	case b.OnDemand:
		return 0
	case b.Spot:
		return 2
	}
	return 1
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// badness scores where a voter runs: higher is worse.
func badness(v Member, voters []Member, byID map[int32]Broker) [4]int {
	b, live := byID[v.Host]
	if !live {
		return [4]int{1, 0, 0, 0}
	}
	shared := 0
	for _, o := range voters {
		if ob, ok := byID[o.Host]; ok && o.ID != v.ID && ob.Rack == b.Rack {
			shared = 1
		}
	}
	return [4]int{0, boolRank(b.Draining), capacityRank(b), shared}
}

// worst returns the voter that runs in the worst place, the highest
// broker id among equals.
func worst(voters []Member, byID map[int32]Broker) Member {
	return slices.MaxFunc(voters, func(a, b Member) int {
		ba, bb := badness(a, voters, byID), badness(b, voters, byID)
		return cmp.Or(slices.Compare(ba[:], bb[:]), cmp.Compare(a.Host, b.Host))
	})
}

// better reports whether moving voter w to broker c improves the quorum:
// w leaves a draining broker, or c has better capacity, or as good a
// capacity in a zone no other voter is in while w shares its zone.
func better(c Broker, w Member, voters []Member, byID map[int32]Broker) bool {
	wb, live := byID[w.Host]
	if !live {
		return false // a voter without a host is replaced by step 2
	}
	if wb.Draining {
		return true
	}
	if capacityRank(c) != capacityRank(wb) {
		return capacityRank(c) < capacityRank(wb)
	}
	if badness(w, voters, byID)[3] == 0 {
		return false
	}
	for _, o := range voters {
		if ob, ok := byID[o.Host]; ok && o.ID != w.ID && ob.Rack == c.Rack {
			return false
		}
	}
	return true
}
