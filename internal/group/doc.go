// Package group is the classic consumer-group coordinator (Kafka's
// GroupCoordinator before KIP-848): JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups,
// ListGroups and DeleteGroups, as pure logic. It knows nothing of the network
// or of Kafka request types; the broker decodes requests, routes each group id
// to a [Shard] with [Partition], calls the matching method and maps the
// returned sentinel errors to Kafka error codes in its own table.
//
// # Ownership
//
// A [Shard] owns the groups whose ids hash to one partition of
// __consumer_offsets, for as long as this broker leads that partition. The
// broker creates it, replays the partition into it with [Shard.Load], calls
// [Shard.Start], and calls [Shard.Close] when leadership moves or on
// shutdown. All of a shard's state is guarded by one mutex (Shard.mu); there
// is no lock ordering to respect inside the package. The shard runs:
//
//   - one applier goroutine (started by Start, ended by Close) that waits, in
//     log order, for each batch the shard appended to be committed and then
//     applies it to the in-memory state;
//   - time.AfterFunc timers for member sessions, the rebalance (join) timeout,
//     the initial rebalance delay, the pending-sync timeout and
//     MEMBER_ID_REQUIRED pending members. Each timer is stored in exactly one
//     field; its callback takes Shard.mu and does nothing if the shard has
//     closed or the field no longer holds that timer, so a timer that lost the
//     race with Stop is harmless.
//
// # Persistence
//
// The shard writes Kafka's own __consumer_offsets records, so Kafka tools can
// read the log:
//
//	key                                   value
//	OffsetCommitKey v1 (group,topic,part) OffsetCommitValue v3 (v1 when the
//	                                      commit carries a retention time)
//	GroupMetadataKey v2 (group)           GroupMetadataValue v3
//	either key                            nil: tombstone
//
// Load reads key versions 0-2 and value versions 0-4. A group's metadata is
// written when a generation's assignment is complete (the leader's
// SyncGroup), when a static member replaces its previous member id in a
// stable group, and when the group becomes empty; offset commits are written
// per request as one batch; tombstones when offsets are deleted or expire and
// when a group is deleted.
//
// A change is applied to memory only once the batch carrying it is committed,
// and batches are applied in the order they were appended, so memory is always
// the state obtained by replaying the committed prefix of the log. Each
// applied value remembers its log offset, and Load never lets an older record
// overwrite a newer one. [Shard.Snapshot] returns records that reproduce the
// applied state followed by the batches still awaiting commit, which is what
// replaying the whole log would give.
package group
