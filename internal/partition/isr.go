package partition

import (
	"slices"
	"time"
)

// This file holds the leader's replication decisions as pure functions of
// their inputs (offsets, ISR, a clock reading), so that tests can drive
// them with tables and a fake clock.

// follower is what a leader knows about one of its followers, from that
// follower's fetches (Kafka's Replica state).
type follower struct {
	// fetchOffset is the follower's log end offset from its last fetch,
	// which by our durability rule is durable on the follower; -1 until
	// it fetches in this leadership term.
	fetchOffset int64
	// lastCaughtUp is the last time the follower was known to have every
	// record the leader had (Kafka's lastCaughtUpTimeMs).
	lastCaughtUp time.Time
	// lastFetch and lastFetchLeaderEnd are the time of the previous fetch
	// and the leader's log end offset then.
	lastFetch          time.Time
	lastFetchLeaderEnd int64
	// dir is the directory id the follower named in its last fetch: the
	// copy its offsets describe ("" if it named none).
	dir string
}

// newFollower returns the state a leader starts a term with. A member of
// the ISR counts as caught up now, so that it gets a full lag period to
// fetch before it is removed (as in Kafka).
func newFollower(inISR bool, now time.Time) *follower {
	f := &follower{fetchOffset: -1, lastFetchLeaderEnd: -1}
	if inISR {
		f.lastCaughtUp = now
	}
	return f
}

// fetched records a fetch at offset, when the leader's log ended at
// leaderEnd. Kafka's rule: the follower was caught up at this fetch if it
// asked for the leader's log end; it was caught up at the previous fetch if
// it asked for at least what the leader had then, because it can only
// report what it fetched one round earlier.
func (f *follower) fetched(offset, leaderEnd int64, now time.Time) {
	switch {
	case offset >= leaderEnd:
		f.lastCaughtUp = later(f.lastCaughtUp, now)
	case f.lastFetchLeaderEnd >= 0 && offset >= f.lastFetchLeaderEnd:
		f.lastCaughtUp = later(f.lastCaughtUp, f.lastFetch)
	}
	f.fetchOffset = offset
	f.lastFetch = now
	f.lastFetchLeaderEnd = leaderEnd
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// highWatermark is the offset below which every member of isr (other than
// self, whose share is durable) has the records durably: the smallest of
// the leader's durable offset and the ISR followers' fetch offsets. A
// member that has not fetched yet in this term (-1), is unknown, or
// fetched for another copy than the one dirs records for its membership
// (a fresh disk under its id), holds it at -1, which a watermark ignores.
func highWatermark(durable int64, self int32, isr []int32, followers map[int32]*follower, dirs map[int32]string) int64 {
	hw := durable
	for _, id := range isr {
		if id == self {
			continue
		}
		f := followers[id]
		if f == nil || f.dir != dirs[id] {
			return -1
		}
		hw = min(hw, f.fetchOffset)
	}
	return hw
}

// mayCommit reports whether a leader may advance its high watermark at
// all (Kafka's "strict min ISR", KIP-966): the ISR it has written holds at
// least min.insync.replicas members (capped at the replication factor), no
// eligible leader replica waits to be cleared, and the state records the
// leader's own copy. Otherwise a record could be acknowledged that a
// replica the controller may elect does not have.
func mayCommit(isr, elr []int32, replicas int, minISR int, selfRecorded bool) bool {
	return len(isr) >= effectiveMinISR(minISR, replicas) && len(elr) == 0 && selfRecorded
}

// effectiveMinISR is min.insync.replicas capped at the replication factor,
// the rule of cluster.PartitionState.EffectiveMinISR, which the writers of
// partition states apply (this package sits below cluster).
func effectiveMinISR(minISR, replicas int) int { return max(1, min(minISR, replicas)) }

// outOfSync returns the members of isr (other than self) that have not
// been caught up for longer than lagMax: the ISR shrink.
func outOfSync(self int32, isr []int32, followers map[int32]*follower, now time.Time, rules ISRRules) []int32 {
	var out []int32
	for _, id := range isr {
		if id == self {
			continue
		}
		f := followers[id]
		switch {
		case f == nil || now.Sub(f.lastCaughtUp) > rules.LagMax:
			out = append(out, id)
		case rules.Leaving != nil && !f.lastFetch.IsZero() && now.Sub(f.lastFetch) > rules.LeavingSilence && rules.Leaving(id):
			// Silent since its last fetch of this term. One that has not
			// fetched yet may be switching over from leading; its lag
			// (above) and its session cover it.
			out = append(out, id)
		}
	}
	return out
}

// lostCopy reports whether a follower fetches for another copy than the
// one the state records for it: its broker came back on a new disk.
func lostCopy(f *follower, recorded string) bool {
	return f != nil && f.fetchOffset >= 0 && recorded != "" && f.dir != recorded
}

// canJoin reports whether a follower outside the ISR may rejoin it: it has
// reached the high watermark, and the start of the leader's current epoch,
// so that it holds no record of an older epoch the leader discarded (as in
// Kafka's isFollowerInSync).
func canJoin(f *follower, hw, epochStart int64) bool {
	return f != nil && f.fetchOffset >= 0 && f.fetchOffset >= hw && f.fetchOffset >= epochStart
}

// withISRChange applies a change to an ISR: members in remove leave, those
// in add join (once), order kept.
func withISRChange(isr, remove, add []int32) []int32 {
	out := make([]int32, 0, len(isr)+len(add))
	for _, id := range isr {
		if !slices.Contains(remove, id) {
			out = append(out, id)
		}
	}
	for _, id := range add {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
