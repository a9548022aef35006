package cluster

import "slices"

// This file holds the rules that keep a partition's ISR, eligible leader
// replicas (ELR) and directory records telling the truth about who holds
// every acknowledged record. Every writer of a partition state (the
// leader's ISR changes, the controller's elections, reassignments) changes
// membership only through these methods.
//
// The invariant: every acknowledged record is on every ISR member and on
// every ELR member, in the copy that Dirs names for it. It holds because
//
//   - a leader advances its high watermark (and so acknowledges acks=all
//     writes) only while the ISR has at least min.insync.replicas members,
//     capped at the replication factor, and the ELR is empty (Kafka's
//     "strict min ISR" of KIP-966);
//   - a member that leaves the ISR while fewer than that many remain has
//     every acknowledged record, and none can be acknowledged until the
//     ISR is large enough again: it becomes eligible (ELR);
//   - when the ISR is large enough again, acknowledgements resume without
//     the ELR members, so the ELR is emptied in the same write;
//   - a copy that is gone (its broker came back with other directories)
//     leaves both sets at once.

// EffectiveMinISR is the ISR size below which a partition acknowledges
// nothing and keeps departing members eligible: min.insync.replicas,
// capped at the replication factor (a topic of one replica with
// min.insync.replicas=2 still commits, as in Kafka).
func (p *PartitionState) EffectiveMinISR(minISR int) int {
	return max(1, min(minISR, len(p.Replicas)))
}

// LeaveISR takes ids out of the ISR because they fell behind, died or are
// draining. If fewer than EffectiveMinISR members remain, those leaving
// join the ELR: they hold every acknowledged record, and nothing more can
// be acknowledged without them.
func (p *PartitionState) LeaveISR(ids []int32, minISR int) {
	var left []int32
	for _, id := range ids {
		if slices.Contains(p.ISR, id) {
			left = append(left, id)
		}
	}
	if len(left) == 0 {
		return
	}
	p.ISR = deleteIDs(p.ISR, left)
	if len(p.ISR) < p.EffectiveMinISR(minISR) {
		for _, id := range left {
			if !slices.Contains(p.ELR, id) {
				p.ELR = append(p.ELR, id)
			}
		}
	}
}

// LoseCopies records that the copies Dirs names for ids are gone: their
// brokers came back on other directories. They leave the ISR and the ELR
// without becoming eligible, and their directory records are dropped; a
// broker rejoins as a new replica once it has caught up.
func (p *PartitionState) LoseCopies(ids []int32) {
	p.ISR = deleteIDs(p.ISR, ids)
	p.ELR = deleteIDs(p.ELR, ids)
	for _, id := range ids {
		delete(p.Dirs, id)
	}
}

// JoinISR adds id, whose copy lives in directory dir, to the ISR: it has
// caught up with the leader. It leaves the ELR, and once the ISR reaches
// EffectiveMinISR the ELR is emptied (see SettleELR).
func (p *PartitionState) JoinISR(id int32, dir string, minISR int) {
	if !slices.Contains(p.ISR, id) {
		p.ISR = append(p.ISR, id)
	}
	p.ELR = deleteIDs(p.ELR, []int32{id})
	p.RecordDir(id, dir)
	p.SettleELR(minISR)
}

// RecordDir records the directory of id's copy ("" records nothing).
func (p *PartitionState) RecordDir(id int32, dir string) {
	if dir == "" {
		return
	}
	if p.Dirs == nil {
		p.Dirs = map[int32]string{}
	}
	p.Dirs[id] = dir
}

// SettleELR empties the ELR when the ISR has at least EffectiveMinISR
// members: acknowledgements may resume, and ELR members would miss them.
// It reports whether it changed anything.
func (p *PartitionState) SettleELR(minISR int) bool {
	if len(p.ELR) == 0 || len(p.ISR) < p.EffectiveMinISR(minISR) {
		return false
	}
	p.ELR = nil
	return true
}

// ElectFrom makes id the leader at the next leader epoch. A member of the
// ISR or the ELR keeps every acknowledged record (a clean election); the
// ELR member moves into the ISR. With unclean, id may be any replica: the
// ISR becomes id alone and the ELR is emptied, since nobody is known to
// hold every acknowledged record any more.
func (p *PartitionState) ElectFrom(id int32, unclean bool) {
	p.Leader = id
	p.LeaderEpoch++
	if unclean {
		p.ISR = []int32{id}
		p.ELR = nil
		return
	}
	if !slices.Contains(p.ISR, id) {
		p.ISR = append(p.ISR, id)
	}
	p.ELR = deleteIDs(p.ELR, []int32{id})
}

// PruneToReplicas drops ISR, ELR and directory entries of brokers that are
// no longer replicas (a reassignment completed or was cancelled).
func (p *PartitionState) PruneToReplicas() {
	keep := func(id int32) bool { return slices.Contains(p.Replicas, id) }
	p.ISR = slices.DeleteFunc(p.ISR, func(id int32) bool { return !keep(id) })
	p.ELR = slices.DeleteFunc(p.ELR, func(id int32) bool { return !keep(id) })
	p.Temporary = slices.DeleteFunc(p.Temporary, func(id int32) bool { return !keep(id) })
	if len(p.Temporary) == 0 {
		p.Temporary = nil
	}
	for id := range p.Dirs {
		if !keep(id) {
			delete(p.Dirs, id)
		}
	}
	if len(p.ELR) == 0 {
		p.ELR = nil
	}
}

// CopyLive reports whether broker id is live (in brokers) with the copy
// the state records for it: its registration lists the directory in
// Dirs, or Dirs has no entry for it.
func (p *PartitionState) CopyLive(id int32, brokers map[int32]BrokerInfo) bool {
	b, live := brokers[id]
	return live && b.HasDirectory(p.Dirs[id])
}

// CopyGone reports whether broker id is registered but without the
// directory the state records for its copy: a new disk under an old id.
func (p *PartitionState) CopyGone(id int32, brokers map[int32]BrokerInfo) bool {
	b, live := brokers[id]
	return live && !b.HasDirectory(p.Dirs[id])
}

// deleteIDs returns ids without the members of drop, in a new slice (nil
// when empty), so that callers never alias a snapshot's slices.
func deleteIDs(ids, drop []int32) []int32 {
	var out []int32
	for _, id := range ids {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

// NewPartitionState returns the state of a new partition on replicas: the
// first leads, all are in sync (all are empty), and the copy of each
// replica whose broker registers a single log directory is recorded there,
// so that its leader need not write the record before its first commit.
// The copies of brokers with several directories are recorded by their
// leader once their fetches name them.
func NewPartitionState(replicas []int32, brokers map[int32]BrokerInfo) PartitionState {
	p := PartitionState{Replicas: slices.Clone(replicas), Leader: replicas[0], ISR: slices.Clone(replicas)}
	for _, id := range replicas {
		if b, ok := brokers[id]; ok && len(b.Directories) == 1 {
			p.RecordDir(id, b.Directories[0])
		}
	}
	return p
}
