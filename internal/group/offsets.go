package group

import (
	"context"
	"sort"
	"time"
)

// CommittedOffset is a committed offset as OffsetFetch returns it.
type CommittedOffset struct {
	Offset      int64
	LeaderEpoch int32 // -1: unknown
	Metadata    string
}

// OffsetCommit is one partition of an OffsetCommit request.
type OffsetCommit struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// CommitRequest is an OffsetCommit request.
type CommitRequest struct {
	Group, MemberID, InstanceID string
	// Generation is -1 for a commit from outside group management (a
	// simple consumer or an admin), accepted only while the group is
	// empty or does not exist.
	Generation int32
	Offsets    []OffsetCommit
	// RetentionOverride is retention_time of OffsetCommit v2-v4; zero or
	// negative means none (the broker passes -1 through unchanged). Such a
	// commit is written as OffsetCommitValue v1, which has an expiry time
	// but no leader epoch, as Kafka does.
	RetentionOverride time.Duration
}

// CommitOffsets handles an OffsetCommit request. The offsets are written as
// one batch and become visible to FetchOffsets only once the batch is
// committed. A non-nil error applies to every partition; otherwise the map
// holds the partitions that failed on their own (ErrOffsetMetadataTooLarge),
// and the others were committed.
func (s *Shard) CommitOffsets(ctx context.Context, req CommitRequest) (map[TopicPartition]error, error) {
	s.mu.Lock()
	notify, perr, err := s.commit(req)
	s.mu.Unlock()
	if err != nil || notify == nil {
		return perr, err
	}
	return perr, awaitWrite(ctx, notify)
}

func (s *Shard) commit(req CommitRequest) (chan error, map[TopicPartition]error, error) {
	if err := s.usable(); err != nil {
		return nil, nil, err
	}
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			return nil, nil, ErrIllegalGeneration
		}
		// Kafka lets a client that does not use group management keep
		// its offsets under a group of its own.
		g = newGroup(req.Group)
		s.groups[req.Group] = g
	}
	if g.state == stateDead {
		return nil, nil, ErrCoordinatorNotAvailable
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != "" {
		m, err := g.validateMember(req.MemberID, req.InstanceID)
		if err != nil {
			return nil, nil, err
		}
		if req.Generation != g.generation {
			return nil, nil, ErrIllegalGeneration
		}
		switch g.state {
		case stateCompleting:
			// The member has its JoinGroup response but not its
			// assignment: it has nothing to commit yet.
			return nil, nil, ErrRebalanceInProgress
		case stateStable, statePreparing:
			// Committing counts as a sign of life; while preparing the
			// heartbeat response tells the member to rejoin.
			s.resetSession(g, m, m.sessionTimeout)
		}
	} else if g.state != stateEmpty {
		return nil, nil, ErrUnknownMemberID // only members commit to a live group
	}

	now := s.cfg.Now()
	var expire time.Time
	if req.RetentionOverride > 0 {
		expire = now.Add(req.RetentionOverride)
	}
	perr := make(map[TopicPartition]error)
	var recs []Record
	var tps []TopicPartition
	var vals []*offset
	for _, oc := range req.Offsets {
		tp := TopicPartition{oc.Topic, oc.Partition}
		if len(oc.Metadata) > s.cfg.MaxMetadataBytes {
			perr[tp] = ErrOffsetMetadataTooLarge
			continue
		}
		o := &offset{
			CommittedOffset: CommittedOffset{Offset: oc.Offset, LeaderEpoch: oc.LeaderEpoch, Metadata: oc.Metadata},
			commitTime:      now,
			expireTime:      expire,
		}
		if !expire.IsZero() {
			o.LeaderEpoch = -1 // v1 values cannot carry it; memory follows the log
		}
		recs = append(recs, Record{Key: offsetKey(g.id, tp), Value: offsetValue(o)})
		tps = append(tps, tp)
		vals = append(vals, o)
	}
	if len(perr) == 0 {
		perr = nil
	}
	if len(recs) == 0 {
		s.maybeForget(g)
		return nil, perr, nil
	}
	for _, tp := range tps {
		g.pendingCommits[tp]++
	}
	apply := func(base int64, err error) error {
		for i, tp := range tps {
			if g.pendingCommits[tp]--; g.pendingCommits[tp] <= 0 {
				delete(g.pendingCommits, tp)
			}
			if err == nil {
				vals[i].logOffset = base + int64(i)
				g.setOffset(tp, vals[i])
			}
		}
		s.maybeForget(g)
		return err
	}
	notify := make(chan error, 1)
	if err := s.appendBatch(recs, apply, notify); err != nil {
		_ = apply(-1, err)
		return nil, nil, err
	}
	return notify, perr, nil
}

// setOffset applies o unless the group holds a value from a later record.
func (g *group) setOffset(tp TopicPartition, o *offset) {
	if cur := g.offsets[tp]; cur != nil && cur.logOffset > o.logOffset {
		return
	}
	g.offsets[tp] = o
}

// FetchOffsets returns the group's committed offsets for partitions, or all
// of them when partitions is nil. Partitions without an offset, and unknown
// groups, are simply absent from the result; the broker reports -1 for them.
func (s *Shard) FetchOffsets(groupID string, partitions []TopicPartition) (map[TopicPartition]CommittedOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	return s.fetch(groupID, partitions), nil
}

// fetch reads committed offsets. Called with mu held.
func (s *Shard) fetch(groupID string, partitions []TopicPartition) map[TopicPartition]CommittedOffset {
	res := make(map[TopicPartition]CommittedOffset)
	g := s.groups[groupID]
	if g == nil || g.state == stateDead {
		return res
	}
	if partitions == nil {
		for tp, o := range g.offsets {
			res[tp] = o.CommittedOffset
		}
		return res
	}
	for _, tp := range partitions {
		if o := g.offsets[tp]; o != nil {
			res[tp] = o.CommittedOffset
		}
	}
	return res
}

// DeleteOffsets handles an OffsetDelete request. A live consumer group keeps
// the offsets of the topics its members subscribe to
// (ErrGroupSubscribedToTopic for those partitions); other live groups refuse
// altogether (ErrNonEmptyGroup). The returned map has an entry for every
// requested partition, nil when deleted.
func (s *Shard) DeleteOffsets(ctx context.Context, groupID string, partitions []TopicPartition) (map[TopicPartition]error, error) {
	s.mu.Lock()
	res := make(map[TopicPartition]error, len(partitions))
	g := s.groups[groupID]
	var eligible []TopicPartition
	err := s.usable()
	switch {
	case err != nil:
	case g == nil || g.state == stateDead:
		err = ErrGroupIDNotFound
	case g.state == stateEmpty:
		eligible = partitions
	case g.protocolType == consumerProtocolType:
		for _, tp := range partitions {
			if g.subscribed[tp.Topic] {
				res[tp] = ErrGroupSubscribedToTopic
			} else {
				eligible = append(eligible, tp)
			}
		}
	default:
		err = ErrNonEmptyGroup
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	for _, tp := range eligible {
		res[tp] = nil
	}
	notify, err := s.deleteOffsets(g, eligible)
	s.mu.Unlock()
	if err == nil && notify != nil {
		err = awaitWrite(ctx, notify)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// deleteOffsets writes tombstones for those of tps the group has an offset
// for, or a commit in flight, and removes the offsets once they are
// committed. It returns nil, nil when there is nothing to write. Called with
// mu held.
func (s *Shard) deleteOffsets(g *group, tps []TopicPartition) (chan error, error) {
	var recs []Record
	var gone []TopicPartition
	for _, tp := range tps {
		if g.offsets[tp] != nil || g.pendingCommits[tp] > 0 {
			recs = append(recs, Record{Key: offsetKey(g.id, tp)})
			gone = append(gone, tp)
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	notify := make(chan error, 1)
	err := s.appendBatch(recs, func(base int64, err error) error {
		if err == nil {
			for i, tp := range gone {
				g.deleteOffset(tp, base+int64(i))
			}
			s.maybeForget(g)
		}
		return err
	}, notify)
	return notify, err
}

// deleteOffset applies a tombstone at logOffset for tp.
func (g *group) deleteOffset(tp TopicPartition, logOffset int64) {
	if cur := g.offsets[tp]; cur != nil && cur.logOffset < logOffset {
		delete(g.offsets, tp)
	}
}

// Delete handles a DeleteGroups request: each empty group is marked Dead,
// tombstones for its metadata and offsets are written in one batch, and the
// group is forgotten once they are committed. It returns one entry per
// requested group, nil when deleted.
func (s *Shard) Delete(ctx context.Context, groupIDs []string) map[string]error {
	res := make(map[string]error, len(groupIDs))
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		for _, id := range groupIDs {
			res[id] = err
		}
		return res
	}
	var doomed []*group
	for _, id := range groupIDs {
		g := s.groups[id]
		switch {
		case g == nil || g.state == stateDead:
			res[id] = ErrGroupIDNotFound
		case g.state != stateEmpty:
			res[id] = ErrNonEmptyGroup
		default:
			g.state = stateDead // not a transition: a failed delete restores Empty as it was
			doomed = append(doomed, g)
		}
	}
	notify, err := s.bury(doomed)
	s.mu.Unlock()
	if err == nil && notify != nil {
		err = awaitWrite(ctx, notify)
	}
	for _, g := range doomed {
		res[g.id] = err
	}
	return res
}

// bury writes the tombstones of groups already marked Dead and forgets them
// once committed; on failure they become Empty again. Called with mu held.
func (s *Shard) bury(doomed []*group) (chan error, error) {
	if len(doomed) == 0 {
		return nil, nil
	}
	var recs []Record
	for _, g := range doomed {
		for _, tp := range sortedPartitions(g) {
			recs = append(recs, Record{Key: offsetKey(g.id, tp)})
		}
		recs = append(recs, Record{Key: groupKey(g.id)})
	}
	apply := func(_ int64, err error) error {
		for _, g := range doomed {
			if err != nil {
				g.state = stateEmpty
				continue
			}
			s.stopGroup(g, ErrUnknownMemberID)
			if s.groups[g.id] == g {
				delete(s.groups, g.id)
			}
		}
		return err
	}
	notify := make(chan error, 1)
	if err := s.appendBatch(recs, apply, notify); err != nil {
		_ = apply(-1, err)
		return nil, err
	}
	return notify, nil
}

// sortedPartitions lists the partitions with an offset or a commit in flight.
func sortedPartitions(g *group) []TopicPartition {
	set := make(map[TopicPartition]bool, len(g.offsets))
	for tp := range g.offsets {
		set[tp] = true
	}
	for tp := range g.pendingCommits {
		set[tp] = true
	}
	tps := make([]TopicPartition, 0, len(set))
	for tp := range set {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	return tps
}

func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// ExpireOffsets removes the offsets whose retention has passed at now
// (offsets.retention.minutes, KIP-211), and deletes the empty groups left
// without offsets. The rules, per group:
//
//   - Empty with a protocol type: retention counts from when the group
//     became empty (or from the commit, when that time is unknown);
//   - no protocol type (a simple group): retention counts from the commit;
//   - a Stable consumer group: offsets of topics no member subscribes to
//     expire retention after their commit;
//   - any other: nothing expires.
//
// A commit with a retention override expires at its own time instead, and a
// partition with a commit in flight never expires.
func (s *Shard) ExpireOffsets(ctx context.Context, now time.Time) error {
	_, _, err := s.expireOffsets(ctx, now)
	return err
}

// expireOffsets does ExpireOffsets and returns how many offsets and groups it
// removed.
func (s *Shard) expireOffsets(ctx context.Context, now time.Time) (offsets, groups int, err error) {
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return 0, 0, err
	}
	type expiry struct {
		g   *group
		tps []TopicPartition
	}
	var expired []expiry
	var doomed []*group
	var recs []Record
	for _, g := range s.sortedGroups() {
		tps := s.expiredOffsets(g, now)
		if len(tps) > 0 {
			expired = append(expired, expiry{g, tps})
			for _, tp := range tps {
				recs = append(recs, Record{Key: offsetKey(g.id, tp)})
			}
			offsets += len(tps)
		}
		if g.state == stateEmpty && len(g.offsets) == len(tps) && len(g.pendingCommits) == 0 &&
			len(g.pending) == 0 {
			g.state = stateDead // restored to Empty, timestamp intact, if the write fails
			doomed = append(doomed, g)
			recs = append(recs, Record{Key: groupKey(g.id)})
		}
	}
	if len(recs) == 0 {
		s.mu.Unlock()
		return 0, 0, nil
	}
	apply := func(base int64, err error) error {
		for _, g := range doomed {
			if err != nil {
				g.state = stateEmpty
			} else if s.groups[g.id] == g {
				s.stopGroup(g, ErrUnknownMemberID)
				delete(s.groups, g.id)
			}
		}
		if err != nil {
			return err
		}
		for _, e := range expired {
			for _, tp := range e.tps {
				e.g.deleteOffset(tp, base)
			}
		}
		return nil
	}
	notify := make(chan error, 1)
	if err := s.appendBatch(recs, apply, notify); err != nil {
		_ = apply(-1, err)
		s.mu.Unlock()
		return 0, 0, err
	}
	s.mu.Unlock()
	if err := awaitWrite(ctx, notify); err != nil {
		return 0, 0, err
	}
	s.logger.Info("group: expired offsets", "offsets", offsets, "groups", len(doomed))
	return offsets, len(doomed), nil
}

// expiredOffsets lists the group's offsets expired at now, per the rules of
// ExpireOffsets. Called with mu held.
func (s *Shard) expiredOffsets(g *group, now time.Time) []TopicPartition {
	var base func(o *offset) time.Time
	var keep map[string]bool
	switch {
	case g.protocolType != "" && g.state == stateEmpty:
		base = func(o *offset) time.Time {
			if !g.stateTime.IsZero() {
				return g.stateTime
			}
			return o.commitTime
		}
	case g.protocolType == "" && g.state != stateDead:
		base = func(o *offset) time.Time { return o.commitTime }
	case g.protocolType == consumerProtocolType && g.state == stateStable && g.subscribed != nil:
		base = func(o *offset) time.Time { return o.commitTime }
		keep = g.subscribed
	default:
		return nil
	}
	var tps []TopicPartition
	for tp, o := range g.offsets {
		if keep[tp.Topic] || g.pendingCommits[tp] > 0 {
			continue
		}
		if !o.expireTime.IsZero() {
			if !now.Before(o.expireTime) {
				tps = append(tps, tp)
			}
		} else if now.Sub(base(o)) >= s.cfg.OffsetsRetention {
			tps = append(tps, tp)
		}
	}
	sortTPs(tps)
	return tps
}
