package controller

import (
	"errors"
	"slices"

	"github.com/spotstream/spotstream/internal/cluster"
)

// Errors of preferred leader elections, one per partition. The handlers
// translate them to Kafka error codes (noted on each).
var (
	// ErrNotController: this broker is not the active controller
	// (NOT_CONTROLLER). The client asks the controller the metadata names.
	ErrNotController = errors.New("controller: not the active controller")

	// ErrElectionNotNeeded: the preferred replica already leads
	// (ELECTION_NOT_NEEDED).
	ErrElectionNotNeeded = errors.New("controller: election not needed")

	// ErrPreferredNotAvailable: the preferred replica is not live or not in
	// the ISR (PREFERRED_LEADER_NOT_AVAILABLE).
	ErrPreferredNotAvailable = errors.New("controller: preferred leader not available")
)

// kind is what an election did to a partition.
type kind int

const (
	kindNone    kind = iota // nothing to do
	kindClean               // a live ISR member leads
	kindOffline             // no live ISR member: Leader -1
	kindUnclean             // a live replica outside the ISR leads
	kindMoved               // leadership left a draining broker for an ISR member
	kindShrunk              // dead or draining followers left the ISR
)

func (k kind) String() string {
	switch k {
	case kindClean:
		return "clean"
	case kindOffline:
		return "offline"
	case kindUnclean:
		return "unclean"
	case kindMoved:
		return "moved"
	case kindShrunk:
		return "shrunk"
	}
	return "none"
}

// needsLeader reports whether p may need a change: it has no leader, or
// its leader or an ISR member is dead or draining. It is the cheap test run
// on every partition of every snapshot; electLeader decides what to write.
func needsLeader(p *cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) bool {
	if !p.Available() || len(p.Replicas) == 0 {
		return false
	}
	if p.Leader == cluster.NoLeader {
		return true
	}
	for _, id := range append([]int32{p.Leader}, p.ISR...) {
		if b, live := brokers[id]; !live || b.State == cluster.StateDraining {
			return true
		}
	}
	return false
}

// active reports whether id is a live broker that is not draining.
func active(brokers map[int32]cluster.BrokerInfo, id int32) bool {
	b, live := brokers[id]
	return live && b.State != cluster.StateDraining
}

// settle handles a partition whose leader is live: leadership moves off a
// draining leader to an active ISR member (as Kafka's controlled shutdown
// does), and dead or draining followers leave the ISR at once rather than
// after replica.lag.time.max.ms, as Kafka's controller fences a broker
// whose session ended: acks=all producers must not wait for a broker that
// is gone. Shrinking the ISR never endangers an acknowledged record: the
// remaining members, the leader among them, hold every one of them.
func settle(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) (cluster.PartitionState, kind) {
	next := p.Clone()
	k := kindNone
	if !active(brokers, p.Leader) {
		l := pick(p.Replicas, brokers, func(id int32) bool {
			return id != p.Leader && active(brokers, id) && slices.Contains(p.ISR, id)
		})
		if l >= 0 {
			next.Leader = l
			next.LeaderEpoch++
			k = kindMoved
		}
		// Else nowhere to go: the draining broker keeps leading.
	}
	if isr := activeISR(p.ISR, next.Leader, brokers); len(isr) != len(p.ISR) {
		next.ISR = isr
		if k == kindNone {
			k = kindShrunk
		}
	}
	return next, k
}

// activeISR returns isr, in order, without its dead and draining members,
// except leader, which stays.
func activeISR(isr []int32, leader int32, brokers map[int32]cluster.BrokerInfo) []int32 {
	out := make([]int32, 0, len(isr))
	for _, id := range isr {
		if id == leader || active(brokers, id) {
			out = append(out, id)
		}
	}
	return out
}

// electLeader returns the state p should have, given the live brokers and
// whether the topic allows unclean elections, and what kind of election
// that is. For kindNone, p is returned unchanged and nothing is to be
// written. It never modifies p's slices.
//
// Called on the state about to be replaced (inside UpdatePartitionIf), so
// a leader that came back or was replaced meanwhile means kindNone.
func electLeader(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo, unclean bool) (cluster.PartitionState, kind) {
	if len(p.Replicas) == 0 {
		return p, kindNone
	}
	if _, live := brokers[p.Leader]; live && p.Leader != cluster.NoLeader {
		return settle(p, brokers)
	}
	isr := p.ISR
	if p.Leader != cluster.NoLeader {
		// The dead leader leaves the ISR, unless it is the last member: an
		// ISR names who holds every committed record, and the last leader
		// does. Only the leader: followers are their leader's business.
		if rest := without(p.ISR, p.Leader); len(rest) > 0 {
			isr = rest
		} else {
			isr = []int32{p.Leader}
		}
	}
	next := p.Clone()
	next.LeaderEpoch++
	if l := pick(p.Replicas, brokers, func(id int32) bool { return slices.Contains(isr, id) }); l >= 0 {
		next.Leader = l
		next.ISR = activeISR(isr, l, brokers)
		return next, kindClean
	}
	if unclean {
		if l := pick(p.Replicas, brokers, func(int32) bool { return true }); l >= 0 {
			next.Leader = l
			next.ISR = []int32{l}
			return next, kindUnclean
		}
	}
	if p.Leader == cluster.NoLeader {
		// Offline already: wait for a replica to come back.
		return p, kindNone
	}
	next.Leader = cluster.NoLeader
	next.ISR = slices.Clone(isr)
	return next, kindOffline
}

// electPreferred returns p with its preferred replica (the first of
// Replicas) as leader, or ErrElectionNotNeeded or ErrPreferredNotAvailable.
func electPreferred(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) (cluster.PartitionState, error) {
	if len(p.Replicas) == 0 {
		return p, ErrPreferredNotAvailable
	}
	preferred := p.Replicas[0]
	if p.Leader == preferred {
		return p, ErrElectionNotNeeded
	}
	if _, live := brokers[preferred]; !live || !slices.Contains(p.ISR, preferred) {
		return p, ErrPreferredNotAvailable
	}
	next := p.Clone()
	next.Leader = preferred
	next.LeaderEpoch++
	return next, nil
}

// pick returns the first replica, in order, that is live and eligible, or
// -1. A draining broker is leaving: it is picked only if no other replica
// qualifies, since a partition led by it is better than an offline one.
func pick(replicas []int32, brokers map[int32]cluster.BrokerInfo, eligible func(int32) bool) int32 {
	fallback := int32(-1)
	for _, id := range replicas {
		b, live := brokers[id]
		if !live || !eligible(id) {
			continue
		}
		if b.State != cluster.StateDraining {
			return id
		}
		if fallback < 0 {
			fallback = id
		}
	}
	return fallback
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
