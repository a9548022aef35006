package replication

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/partition"
)

// fetchKey identifies a partition in a fetch response, which names topics
// by id from Fetch v13 and by name before.
type fetchKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

// fetch runs one fetch round: one Fetch request for parts, the append of
// what came back, and the wait until it is durable, so that the next
// round's fetch offsets (the log end offsets) are durable on this broker.
func (f *fetcher) fetch(ctx context.Context, conn Requester, parts []*followed) error {
	cfg := &f.m.cfg
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = cfg.BrokerID
	req.ReplicaState.ID = cfg.BrokerID
	req.ReplicaState.Epoch = -1 // no broker epochs (KIP-903) here
	req.MaxWaitMillis = int32(cfg.MaxWait.Milliseconds())
	req.MinBytes = cfg.MinBytes
	req.MaxBytes = cfg.MaxBytes
	req.SessionID, req.SessionEpoch = 0, -1 // full fetches, no session
	byKey := map[fetchKey]*followed{}
	topics := map[string]int{}
	offsets := map[*followed]int64{}
	for _, fp := range parts {
		id := fp.p.ID()
		ti, ok := topics[id.Topic]
		if !ok {
			ti = len(req.Topics)
			topics[id.Topic] = ti
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = id.Topic, fp.p.TopicID()
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = id.Partition
		rp.CurrentLeaderEpoch = fp.epoch
		// Every round waits for durability before the next, so the log
		// end offset is durable: it is what the leader may count.
		rp.FetchOffset = fp.p.LogEndOffset()
		rp.LogStartOffset = fp.p.LogStartOffset()
		rp.PartitionMaxBytes = cfg.PartitionMaxBytes
		rp.ReplicaDirectoryID = fp.dir // KIP-853's field, a tagged one from v12
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, rp)
		offsets[fp] = rp.FetchOffset
		byKey[fetchKey{topic: id.Topic, partition: id.Partition}] = fp
		byKey[fetchKey{topicID: fp.p.TopicID(), partition: id.Partition}] = fp
	}
	raw, err := conn.Request(ctx, req)
	if err != nil {
		return fmt.Errorf("replication: fetch: %w", err)
	}
	resp := raw.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		for _, fp := range parts {
			f.delay(fp, "fetch", err)
		}
		return nil
	}
	type appended struct {
		fp  *followed
		end int64
		hw  int64
	}
	var waits []appended
	for _, rt := range resp.Topics {
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			key := fetchKey{topic: rt.Topic, partition: rp.Partition}
			if resp.Version >= 13 {
				key = fetchKey{topicID: rt.TopicID, partition: rp.Partition}
			}
			fp := byKey[key]
			if fp == nil || !f.stillFollowed(fp) {
				continue
			}
			end, ok := f.handlePartition(fp, rp, offsets[fp])
			if ok {
				waits = append(waits, appended{fp: fp, end: end, hw: rp.HighWatermark})
			}
		}
	}
	// One group-commit round of the log directory covers every
	// partition appended above; wait for it before reporting.
	for _, w := range waits {
		if !w.fp.p.WaitDurable(ctx, w.end) {
			return nil // ctx ended or the partition closed
		}
		w.fp.p.FollowLeaderHighWatermark(w.hw)
	}
	return nil
}

// handlePartition applies one partition's answer. It returns the log end
// offset to wait for durability of, and whether there is one.
func (f *fetcher) handlePartition(fp *followed, rp *kmsg.FetchResponseTopicPartition, fetchOffset int64) (int64, bool) {
	err := kerr.ErrorForCode(rp.ErrorCode)
	switch {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		// The leader's log does not cover our fetch offset. If we are
		// past its end, our log diverged: find where, again. If we are
		// before its start, the leader deleted what we lack.
		if fetchOffset < rp.LogStartOffset {
			// The leader deleted what we lack: start over at its log
			// start (Kafka's truncateFullyAndStartAt).
			if err := fp.p.ResetFromLeader(fp.epoch, rp.LogStartOffset); err != nil {
				f.delay(fp, "resetting to the leader's log start", err)
			}
			return 0, false
		}
		fp.truncate = true
		return 0, false
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
		// UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_*: the leader's view and
		// ours differ; retry after a backoff, by which time the
		// metadata has usually settled (the replica manager re-points
		// this partition when it changes).
		f.delay(fp, "fetch", err)
		return 0, false
	}
	end := fetchOffset
	if len(rp.RecordBatches) > 0 {
		var err error
		end, err = fp.p.AppendFromLeader(fp.epoch, rp.RecordBatches)
		switch {
		case errors.Is(err, partition.ErrNotFollowing) || errors.Is(err, partition.ErrClosed):
			f.drop(fp)
			return 0, false
		case err != nil:
			// Batches that do not continue our log: find where we
			// diverge before fetching again.
			fp.truncate = true
			f.delay(fp, "appending fetched batches", err)
			return 0, false
		}
	}
	if err := fp.p.FollowLeaderLogStart(rp.LogStartOffset); err != nil {
		f.log.Warn("replication: following the leader's log start", "partition", fp.p.ID().String(), "err", err)
	}
	return end, true
}
