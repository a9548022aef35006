// Package controller is the cluster's controller: one broker, elected
// through etcd, that makes the leadership decisions the brokers cannot make
// for themselves. It elects partition leaders when a leader's
// broker dies, is drained, or an offline partition's replica comes back,
// moves leadership to preferred replicas on request (Kafka's
// ElectLeaders), carries out reassignments, and keeps replicas placed by
// zone and capacity while brokers come and go.
//
// # Election
//
// Every broker runs a [Controller]. It campaigns with etcd's
// concurrency.Election on [cluster.Store.ControllerKey], under the broker's
// own registration lease, with its broker id as the value
// ([cluster.ControllerValue]). The candidate with the lowest create
// revision wins; the others wait in line. Because the candidate key lives
// under the registration lease, the controller and the broker's membership
// end together: a broker whose lease expires loses both in the same etcd
// revision, and the next candidate takes over. Every broker's
// [cluster.Cache] reads the candidate keys, so [cluster.Snapshot.ControllerID]
// names the controller everywhere, without asking etcd.
//
// The campaign's concurrency.Session is a handle on the lease, not its
// keeper: it is orphaned as soon as it is made, so that only
// [cluster.Session] renews the lease. A second keepalive would go on
// renewing it after cluster.Session gave up (its 3/4 TTL fence), keeping a
// fenced broker's registration, and leadership, alive.
//
// # Leader election
//
// The active controller follows the cache's snapshots. On each one (and in
// full when it becomes controller) it looks at every partition, and
// elects a leader for those whose leader's copy is not live (its
// registration is gone from the snapshot, or it registered again without
// the directory the state records for its copy: a fresh disk) and for
// offline ones (leader -1). A replica counts as live only with its
// recorded copy ([cluster.PartitionState.CopyLive]).
//
//   - clean: the first replica, in Replicas order, that is live and in the
//     ISR, else live and an eligible leader replica (ELR; brokers draining
//     are taken only when no other will do). The dead leader leaves the
//     ISR, for the ELR if the ISR is left below min.insync.replicas
//     ([cluster.PartitionState.LeaveISR]); LeaderEpoch+1.
//   - offline: no live ISR or ELR member. Leader -1, LeaderEpoch+1. The
//     ISR and ELR name who holds every committed record; the partition
//     waits for one of them to come back, which is then elected.
//   - unclean: as offline, but the topic's unclean.leader.election.enable
//     (else the broker default) is true. The first live replica leads,
//     alone in the ISR, the ELR emptied, LeaderEpoch+1; records it never
//     received are lost, and the controller says so in a warning.
//
// Copies that are gone (ISR or ELR members registered without their
// recorded directory) leave both sets at once, on every snapshot.
//
// A follower's death is not the controller's business: its leader shrinks
// the ISR (replica.lag.time.max.ms).
//
// Each election is a [cluster.Store.UpdatePartitionIf]: a compare-and-swap
// on the partition key, whose fn decides again on the state it is about to
// replace (another writer, a leader shrinking its ISR, may have changed
// it), with one more condition: the controller's election key still exists
// with the create revision it won with. A deposed controller (its lease
// expired, its key deleted) cannot write, however late its request reaches
// etcd. Deciding from the current state makes the controller idempotent: a
// snapshot seen twice, or a stale one, writes nothing new.
//
// # Reassignment
//
// [Controller.AlterReassignments] starts, replaces or cancels partition
// reassignments (KIP-455); the state of a move lives in the partition
// state (Adding, Removing), so a new controller carries on with it. On
// every snapshot the controller completes the moves whose new replicas
// are all in the ISR: Replicas becomes the target, the ISR loses the
// removed replicas, and a removed leader hands over to the first live
// in-sync target replica (LeaderEpoch+1). Brokers that left Replicas
// delete their copies (package replica). See reassign.go.
//
// # Drains, temporary replicas and placement repair
//
// Drained brokers lose their leaderships (settle) but stay in the ISRs;
// fully drained ones get temporary replicas beside them where their loss
// would leave a partition below min.insync.replicas (drain.go). Dead
// brokers keep their replicas for broker.replacement.grace.ms, then
// package placement re-places them, and it repairs rule violations and
// imbalance once the cluster is settled, all through reassignments, at
// most placement.repair.max.moves at once (repair.go). Each snapshot is
// reconciled in stages (reconcileAll): elections and temporary replicas,
// then completions, releases, adoptions and repair.
//
// # Why two leaders never accept writes for the same epoch
//
// The controller elects a new leader only for a partition whose leader has
// no registration in the snapshot, that is after etcd expired (or revoked)
// the leader's lease: etcd deletes the registration only then. The old
// leader's broker stops acting before that point: cluster.Session ends
// (Done) when no renewal succeeded for 3/4 of the TTL, while etcd expires
// the lease only after the whole TTL without renewal, and the broker then
// stops serving and exits (broker.Run, lost session). A broker cut off
// from etcd is thus fenced by its own clock, before the controller may
// act; a broker that can reach etcd learns of the loss from etcd itself.
// The new leader's LeaderEpoch is higher than any the old leader had, and
// replicas reject requests that carry an older epoch (FENCED_LEADER_EPOCH,
// NOT_LEADER_OR_FOLLOWER from partition.checkEpoch), so whatever the old
// leader's clients still send is refused. The same holds for controllers:
// a controller's writes are conditional on its election key, which lives
// under the same lease.
//
// The argument leans on clocks running at about the same rate for a TTL
// (a quarter of it is the margin), as Kafka's and etcd's leases do. An
// operator revoking a live broker's lease skips that margin: the old
// leader learns of it from its registration watch, a moment after the
// controller. Acknowledged records are still safe in that moment: the old
// leader acknowledges acks=all records only once every ISR member fetched
// them, the new leader comes from that ISR, and the old leader cannot
// shrink the ISR, because that write compares the leader epoch the
// controller just bumped. A
// broker restarted within its TTL that adopts its previous lease
// ([cluster.Store.Register]) also inherits its previous candidacy; that is
// safe because the previous process is gone.
//
// # Goroutines
//
// [Controller.Run] runs on its caller's goroutine and owns one helper
// goroutine (it ends Run's context when the broker session ends). Each
// reconciliation starts a few workers that write in parallel, so that a
// failover of hundreds of partitions is a few round trips long, and waits
// for them before it returns. Nothing here takes a lock across a call.
package controller
