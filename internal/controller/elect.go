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
	kindMoved               // leadership left a drained broker for an ISR member
	kindShrunk              // dead or stopping followers left the ISR
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

// policy is what a topic's configuration says about elections.
type policy struct {
	// unclean is unclean.leader.election.enable.
	unclean bool
	// minISR is min.insync.replicas: members leaving an ISR that would
	// then be smaller become eligible leader replicas.
	minISR int
}

// needsLeader reports whether p may need a change: it has no leader, its
// leader's copy is not live or its broker is drained, an ISR member is
// dead or stopping, or an ISR or ELR member's copy is gone. It is the
// cheap test run on every partition of every snapshot; electLeader
// decides what to write.
func needsLeader(p *cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) bool {
	if !p.Available() || len(p.Replicas) == 0 {
		return false
	}
	if p.Leader == cluster.NoLeader || !p.CopyLive(p.Leader, brokers) {
		return true
	}
	if b := brokers[p.Leader]; !b.Leads() {
		return true
	}
	for _, id := range p.ISR {
		if b, live := brokers[id]; !live || b.Stopping() {
			return true
		}
	}
	for _, ids := range [][]int32{p.ISR, p.ELR} {
		for _, id := range ids {
			if p.CopyGone(id, brokers) {
				return true
			}
		}
	}
	return false
}

// goneCopies returns the ISR and ELR members whose brokers are registered
// without the directory that holds their copy: new disks under old ids.
func goneCopies(p *cluster.PartitionState, brokers map[int32]cluster.BrokerInfo) []int32 {
	var gone []int32
	for _, ids := range [][]int32{p.ISR, p.ELR} {
		for _, id := range ids {
			if p.CopyGone(id, brokers) && !slices.Contains(gone, id) {
				gone = append(gone, id)
			}
		}
	}
	return gone
}

// active reports whether id is a live broker that may lead: not drained.
func active(brokers map[int32]cluster.BrokerInfo, id int32) bool {
	b, live := brokers[id]
	return live && b.Leads()
}

// settle handles a partition whose leader's copy is live: leadership moves
// off a drained leader to an active ISR member (as Kafka's controlled
// shutdown does), and dead or stopping followers leave the ISR at once
// rather than after replica.lag.time.max.ms, as Kafka's controller fences
// a broker whose session ended: acks=all producers must not wait for a
// broker that is gone. A drained follower that is not stopping stays: it
// still replicates, so the ISR does not shrink before the broker goes
// (its leader removes it as soon as it falls silent, package partition).
// Those leaving become eligible when the ISR falls below
// min.insync.replicas (cluster.PartitionState.LeaveISR), and copies that
// are gone leave for good. Shrinking the ISR never endangers an
// acknowledged record: the remaining members, the leader among them, hold
// every one of them.
func settle(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo, pol policy) (cluster.PartitionState, kind) {
	next := p.Clone()
	k := kindNone
	if gone := goneCopies(&p, brokers); len(gone) > 0 {
		next.LoseCopies(gone)
		k = kindShrunk
	}
	if !active(brokers, p.Leader) {
		l := pick(p.Replicas, brokers, func(id int32) bool {
			return id != p.Leader && active(brokers, id) && slices.Contains(next.ISR, id)
		})
		if l >= 0 {
			next.ElectFrom(l, false)
			k = kindMoved
		}
		// Else nowhere to go: the drained broker keeps leading.
	}
	if out := leaving(next.ISR, next.Leader, brokers); len(out) > 0 {
		next.LeaveISR(out, pol.minISR)
		if k == kindNone {
			k = kindShrunk
		}
	}
	return next, k
}

// leaving returns the members of isr, other than leader, that are dead or
// stopping.
func leaving(isr []int32, leader int32, brokers map[int32]cluster.BrokerInfo) []int32 {
	var out []int32
	for _, id := range isr {
		if b, live := brokers[id]; id != leader && (!live || b.Stopping()) {
			out = append(out, id)
		}
	}
	return out
}

// electLeader returns the state p should have, given the live brokers and
// the topic's policy, and what kind of election that is. For kindNone, p
// is returned unchanged and nothing is to be written. It never modifies
// p's slices.
//
// The candidates, in order: a live ISR member, then a live eligible
// leader replica (ELR), each only with the copy the state records for it
// (a broker back on a fresh disk under the same id is neither); then, if
// the policy allows unclean elections, any live replica. Within each
// group, replicas come in assignment order, drained brokers last.
//
// Called on the state about to be replaced (inside UpdatePartitionIf), so
// a leader that came back or was replaced meanwhile means kindNone.
func electLeader(p cluster.PartitionState, brokers map[int32]cluster.BrokerInfo, pol policy) (cluster.PartitionState, kind) {
	if len(p.Replicas) == 0 {
		return p, kindNone
	}
	if p.Leader != cluster.NoLeader && p.CopyLive(p.Leader, brokers) {
		return settle(p, brokers, pol)
	}
	next := p.Clone()
	changed := false
	if gone := goneCopies(&p, brokers); len(gone) > 0 {
		next.LoseCopies(gone)
		changed = true
	}
	if p.Leader != cluster.NoLeader && slices.Contains(next.ISR, p.Leader) {
		// The dead leader leaves the ISR; it stays eligible when the ISR
		// is left too small to acknowledge anything without it.
		next.LeaveISR([]int32{p.Leader}, pol.minISR)
	}
	inISR := func(id int32) bool { return slices.Contains(next.ISR, id) && next.CopyLive(id, brokers) }
	inELR := func(id int32) bool { return slices.Contains(next.ELR, id) && next.CopyLive(id, brokers) }
	for _, eligible := range []func(int32) bool{inISR, inELR} {
		if l := pick(p.Replicas, brokers, eligible); l >= 0 {
			next.ElectFrom(l, false)
			if out := leaving(next.ISR, l, brokers); len(out) > 0 {
				next.LeaveISR(out, pol.minISR)
			}
			return next, kindClean
		}
	}
	if pol.unclean {
		if l := pick(p.Replicas, brokers, func(int32) bool { return true }); l >= 0 {
			next.ElectFrom(l, true)
			return next, kindUnclean
		}
	}
	if p.Leader == cluster.NoLeader && !changed {
		// Offline already: wait for an eligible replica to come back.
		return p, kindNone
	}
	next.Leader = cluster.NoLeader
	next.LeaderEpoch++
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
	if !p.CopyLive(preferred, brokers) || !slices.Contains(p.ISR, preferred) {
		return p, ErrPreferredNotAvailable
	}
	next := p.Clone()
	next.Leader = preferred
	next.LeaderEpoch++
	return next, nil
}

// pick returns the first replica, in order, that is live and eligible, or
// -1. A drained broker is leaving: it is picked only if no other replica
// qualifies, since a partition led by it is better than an offline one.
func pick(replicas []int32, brokers map[int32]cluster.BrokerInfo, eligible func(int32) bool) int32 {
	fallback := int32(-1)
	for _, id := range replicas {
		b, live := brokers[id]
		if !live || !eligible(id) {
			continue
		}
		if b.Leads() {
			return id
		}
		if fallback < 0 {
			fallback = id
		}
	}
	return fallback
}
