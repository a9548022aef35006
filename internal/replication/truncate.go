package replication

// Undefined is Kafka's undefined epoch and offset in OffsetsForLeaderEpoch
// answers.
const Undefined = -1

// localLog is what the truncation decision needs from the follower's own
// log.
type localLog struct {
	// endOffsetFor answers OffsetsForLeaderEpoch from the local epoch
	// history (log.EpochCache.EndOffsetFor).
	endOffsetFor func(epoch int32) (int32, int64)
	end          int64 // log end offset
	hw           int64 // high watermark
}

// truncation is a decision: truncate the log to offset, and if again is
// set, ask the leader about epoch next before fetching.
type truncation struct {
	offset int64
	again  bool
	epoch  int32
}

// decideTruncation applies KIP-101/KIP-279 to the leader's answer
// (leaderEpoch, leaderEnd) to an OffsetsForLeaderEpoch query:
//
//   - the leader cannot answer (undefined epoch or offset): truncate to
//     the high watermark, everything above it may have diverged;
//   - the leader has the epoch the follower has too: the logs agree up to
//     the smaller of the two end offsets of that epoch;
//   - the follower never had the leader's epoch: everything after the
//     follower's largest epoch below it diverged; truncate to where that
//     epoch ends locally and ask again about it (KIP-279), since the leader
//     may have ended it earlier;
//   - the follower has no epoch history: trust the leader's end offset.
//
// The result never exceeds the local log end.
func decideTruncation(local localLog, leaderEpoch int32, leaderEnd int64) truncation {
	if leaderEpoch == Undefined || leaderEnd == Undefined {
		return truncation{offset: min(local.hw, local.end)}
	}
	epoch, end := local.endOffsetFor(leaderEpoch)
	switch {
	case epoch == Undefined:
		return truncation{offset: min(leaderEnd, local.end)}
	case epoch == leaderEpoch:
		return truncation{offset: min(leaderEnd, end, local.end)}
	default:
		return truncation{offset: min(end, local.end), again: true, epoch: epoch}
	}
}
