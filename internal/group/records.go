package group

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record versions written; see the package doc.
const (
	offsetKeyVersion           = 1
	offsetValueVersion         = 3
	offsetValueExpiringVersion = 1 // the only one with an expiry time
	groupKeyVersion            = 2
	groupValueVersion          = 3
	maxValueVersion            = 4 // the newest Load reads
)

func offsetKey(groupID string, tp TopicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: groupID, Topic: tp.Topic, Partition: tp.Partition}
	return k.AppendTo(nil)
}

func offsetValue(o *offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset = o.Offset
	v.LeaderEpoch = o.LeaderEpoch
	v.Metadata = o.Metadata
	v.CommitTimestamp = millis(o.commitTime)
	if !o.expireTime.IsZero() {
		v.Version = offsetValueExpiringVersion
		v.ExpireTimestamp = millis(o.expireTime)
	}
	return v.AppendTo(nil)
}

func groupKey(groupID string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: groupID}
	return k.AppendTo(nil)
}

// groupValue encodes the group with the given assignment; each member's
// subscription is its metadata for the selected protocol, as in Kafka.
func groupValue(g *group, assignment map[string][]byte, stateTime time.Time) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = millis(stateTime)
	for _, m := range g.order {
		mv := kmsg.NewGroupMetadataValueMember()
		mv.MemberID = m.id
		if m.instanceID != "" {
			mv.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		mv.ClientID = m.clientID
		mv.ClientHost = m.clientHost
		mv.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		mv.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		mv.Subscription = m.metadata(g.protocol)
		mv.Assignment = assignment[m.id]
		v.Members = append(v.Members, mv)
	}
	return v.AppendTo(nil)
}

// millis is t in Unix milliseconds, -1 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// fromMillis is the inverse of millis.
func fromMillis(ms int64) time.Time {
	if ms < 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// version reads the int16 version that starts every key and value.
func version(b []byte) (int16, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("group: record of %d bytes has no version", len(b))
	}
	return int16(binary.BigEndian.Uint16(b)), nil
}

// Load replays one record of the partition, read at offset; value is nil for
// a tombstone. Call it for every record in log order before Start. A record
// older than what the shard holds for the same key is ignored. Records of
// unknown versions give an error wrapping ErrUnknownRecordVersion that names
// the version; the broker logs and skips them.
func (s *Shard) Load(key, value []byte, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrNotCoordinator
	}
	if s.started {
		return errors.New("group: Load after Start")
	}
	kv, err := version(key)
	if err != nil {
		return fmt.Errorf("group: key at offset %d: %w", offset, err)
	}
	if value != nil {
		vv, err := version(value)
		if err != nil {
			return fmt.Errorf("group: value at offset %d: %w", offset, err)
		}
		if vv < 0 || vv > maxValueVersion {
			return fmt.Errorf("%w: value version %d (key version %d) at offset %d", ErrUnknownRecordVersion, vv, kv, offset)
		}
		// Decoded byte fields alias their input; the caller may reuse it.
		value = bytes.Clone(value)
	}
	switch kv {
	case 0, 1:
		return s.loadOffset(key, value, offset)
	case 2:
		return s.loadGroup(key, value, offset)
	}
	return fmt.Errorf("%w: key version %d at offset %d", ErrUnknownRecordVersion, kv, offset)
}

func (s *Shard) loadOffset(key, value []byte, logOffset int64) error {
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("group: decoding the offset commit key at offset %d: %w", logOffset, err)
	}
	tp := TopicPartition{k.Topic, k.Partition}
	g := s.groups[k.Group]
	if value == nil {
		if g != nil {
			g.deleteOffset(tp, logOffset)
			s.maybeForget(g)
		}
		return nil
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("group: decoding the offset commit of %s/%s/%d at offset %d: %w",
			k.Group, k.Topic, k.Partition, logOffset, err)
	}
	o := &offset{
		CommittedOffset: CommittedOffset{Offset: v.Offset, LeaderEpoch: -1, Metadata: v.Metadata},
		commitTime:      fromMillis(v.CommitTimestamp),
		logOffset:       logOffset,
	}
	if v.Version >= 3 {
		o.LeaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 {
		o.expireTime = fromMillis(v.ExpireTimestamp)
	}
	if g == nil {
		g = newGroup(k.Group)
		s.groups[k.Group] = g
	}
	g.setOffset(tp, o)
	return nil
}

func (s *Shard) loadGroup(key, value []byte, logOffset int64) error {
	var k kmsg.GroupMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("group: decoding the group metadata key at offset %d: %w", logOffset, err)
	}
	g := s.groups[k.Group]
	if g != nil && g.metaOffset > logOffset {
		return nil
	}
	if value == nil {
		if g != nil {
			offsets, pending := g.offsets, g.pendingCommits
			*g = *newGroup(g.id)
			g.offsets, g.pendingCommits = offsets, pending
			g.metaOffset = logOffset
			s.maybeForget(g)
		}
		return nil
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("group: decoding the metadata of group %q at offset %d: %w", k.Group, logOffset, err)
	}
	if g == nil {
		g = newGroup(k.Group)
		s.groups[k.Group] = g
	}
	g.load(&v)
	g.metaValue, g.metaOffset = value, logOffset
	return nil
}

// load replaces the group's membership with the record's. The group is
// Stable when it has members, as Kafka loads it; their session timers start
// with the shard.
func (g *group) load(v *kmsg.GroupMetadataValue) {
	g.members = make(map[string]*member)
	g.order = nil
	g.static = make(map[string]string)
	clear(g.pendingSync)
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	g.protocol = ""
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	for _, mv := range v.Members {
		m := &member{
			id:             mv.MemberID,
			clientID:       mv.ClientID,
			clientHost:     mv.ClientHost,
			sessionTimeout: time.Duration(mv.SessionTimeoutMillis) * time.Millisecond,
			protocols:      []Protocol{{Name: g.protocol, Metadata: mv.Subscription}},
			assignment:     mv.Assignment,
		}
		m.rebalanceTimeout = time.Duration(mv.RebalanceTimeoutMillis) * time.Millisecond
		if v.Version == 0 || mv.RebalanceTimeoutMillis < 0 {
			m.rebalanceTimeout = m.sessionTimeout // v0 predates the field
		}
		if mv.InstanceID != nil {
			m.instanceID = *mv.InstanceID
		}
		g.add(m, v.ProtocolType)
	}
	g.leader = ""
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	} else if len(g.order) > 0 {
		g.leader = g.order[0].id
	}
	st := stateEmpty
	if len(g.order) > 0 {
		st = stateStable
	}
	g.prevState, g.state = st, st
	g.stateTime = time.Time{}
	if v.Version >= 2 {
		g.stateTime = fromMillis(v.CurrentStateTimestamp)
	}
	g.subscribed = g.computeSubscribed()
}

// Snapshot returns records that reproduce the shard's state: each group's
// latest metadata record and its committed offsets, in group order, followed
// by the batches appended but not yet committed. Replaying them gives what
// replaying the whole log gives. Rewrite is the way to put them in the log.
func (s *Shard) Snapshot() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.snapshot()
}

// snapshot is Snapshot with mu held.
func (s *Shard) snapshot() []Record {
	var recs []Record
	for _, g := range s.sortedGroups() {
		if g.metaValue != nil {
			recs = append(recs, Record{Key: groupKey(g.id), Value: g.metaValue})
		}
		tps := make([]TopicPartition, 0, len(g.offsets))
		for tp := range g.offsets {
			tps = append(tps, tp)
		}
		sortTPs(tps)
		for _, tp := range tps {
			recs = append(recs, Record{Key: offsetKey(g.id, tp), Value: offsetValue(g.offsets[tp])})
		}
	}
	for _, w := range s.queue {
		recs = append(recs, w.recs...)
	}
	return recs
}

// rewriteBatchBytes bounds the batches Rewrite appends, to stay well under
// the partition's largest batch.
const rewriteBatchBytes = 512 << 10

// Rewrite appends the Snapshot at the end of the log, in batches of at most
// rewriteBatchBytes, waits until they are committed and returns the offset
// of the first: every record before it is superseded, so the broker may drop
// the segments before that offset. The shard keeps serving meanwhile; what
// it appends afterwards lands after the snapshot. With no state at all, the
// snapshot is a single harmless tombstone (for the metadata of group ""), so
// that there is an offset to return.
func (s *Shard) Rewrite(ctx context.Context) (int64, error) {
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	recs := s.snapshot()
	if len(recs) == 0 {
		recs = []Record{{Key: groupKey("")}}
	}
	var chunks [][]Record
	for start, size := 0, 0; start < len(recs); {
		end := start
		for size = 0; end < len(recs) && (end == start || size+len(recs[end].Key)+len(recs[end].Value) <= rewriteBatchBytes); end++ {
			size += len(recs[end].Key) + len(recs[end].Value)
		}
		chunks = append(chunks, recs[start:end])
		start = end
	}
	var first int64 = -1
	var failed error // the first chunk's failure, reported by the last
	notify := make(chan error, 1)
	for i, chunk := range chunks {
		var n chan error
		if i == len(chunks)-1 {
			n = notify
		}
		base, err := s.appendRewrite(chunk, &failed, n)
		if err != nil {
			s.mu.Unlock()
			return 0, err
		}
		if first < 0 {
			first = base
		}
	}
	s.mu.Unlock()
	if err := awaitWrite(ctx, notify); err != nil {
		return 0, err
	}
	return first, nil
}

// appendRewrite appends one batch of a Rewrite. Called with mu held.
func (s *Shard) appendRewrite(recs []Record, failed *error, notify chan error) (int64, error) {
	var base int64
	err := s.appendBatch(recs, func(b int64, err error) error {
		if err != nil && *failed == nil {
			*failed = err
		}
		return *failed
	}, notify)
	if err == nil {
		base = s.queue[len(s.queue)-1].base
	}
	return base, err
}
