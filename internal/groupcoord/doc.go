// Package groupcoord runs the consumer group coordinator over the
// partitions of the internal topic __consumer_offsets. A group's
// coordinator is the leader of partition group.Partition(groupID); when
// this broker becomes leader of such a partition, the Coordinator loads a
// group.Shard from the partition's log in the background (requests for its
// groups get COORDINATOR_LOAD_IN_PROGRESS meanwhile), and when the broker
// stops leading it, the shard is closed and its clients are told
// NOT_COORDINATOR so that they look the coordinator up again.
//
// The shard persists every state change as records appended to its
// partition and acknowledged by the same rule as a produce request with
// acks=all, so a committed offset survives whatever an acknowledged record
// survives. The Coordinator keeps each partition small: when a log has
// grown well past the live state it holds, the shard rewrites that state
// at the end of the log and the segments before it are deleted. It also
// expires offsets (offsets.retention.minutes) on a timer.
package groupcoord
