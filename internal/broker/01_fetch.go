package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/wire"
)

// fetchPart is one requested partition and where its answer goes.
type fetchPart struct {
	p    *partition.Partition // nil when err is set
	req  *kmsg.FetchRequestTopicPartition
	resp *kmsg.FetchResponseTopicPartition
	err  error
}

// handleFetch answers at once when there is enough data, an error, or no
// wait allowed; otherwise it long-polls on the writer goroutine until the
// high watermark of any requested partition moves enough data in, the wait
// ends, or the broker shuts down.
//
// A fetch from a follower (replica id >= 0) reads up to the log end, not
// only below the high watermark; its fetch offsets report what the
// follower holds durably, which advances the high watermark (see
// partition.ReadReplica). Its long poll wakes when the log end advances.
func (b *Broker) handleFetch(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.FetchRequest)
	replica := r.ReplicaID
	if r.Version >= 15 {
		replica = r.ReplicaState.ID
	}
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	snap := b.meta.Load()

	var parts []fetchPart
	resp.Topics = make([]kmsg.FetchResponseTopic, len(r.Topics))
	for ti := range r.Topics {
		rt := &r.Topics[ti]
		st := &resp.Topics[ti]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var topicErr error
		if r.Version >= 13 {
			if t := snap.TopicsByID[rt.TopicID]; t != nil {
				st.Topic = t.Name
			} else {
				topicErr = kerr.UnknownTopicID
			}
		}
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			sp := &st.Partitions[pi]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			fp := fetchPart{req: rp, resp: sp, err: topicErr}
			if fp.err == nil {
				fp.p, fp.err = b.leaderPartition(st.Topic, rp.Partition)
			}
			parts = append(parts, fp)
		}
	}

	maxWait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	total, failed := b.fillFetch(r, replica, parts)
	if failed || total >= int(r.MinBytes) || maxWait <= 0 || len(parts) == 0 {
		return wire.Respond(resp)
	}
	return wire.Later(func(ctx context.Context) kmsg.Response {
		poke := make(chan struct{}, 1)
		for _, fp := range parts {
			if replica >= 0 {
				defer fp.p.SubscribeLogEnd(poke)()
			} else {
				defer fp.p.SubscribeHighWatermark(poke)()
			}
		}
		timer := time.NewTimer(maxWait)
		defer timer.Stop()
		// Data may have arrived between the first read and the
		// subscription: read again before sleeping.
		for {
			if total, failed = b.fillFetch(r, replica, parts); failed || total >= int(r.MinBytes) {
				return resp
			}
			select {
			case <-poke:
			case <-timer.C:
				return resp
			case <-b.stopping:
				return resp
			case <-ctx.Done():
				return nil
			}
		}
	})
}

// noRecords is the record set of a partition with nothing to return.
var noRecords = []byte{}

// fillFetch reads every partition into its response slot and returns the
// bytes gathered and whether any partition failed (which ends a long poll,
// as in Kafka). replica is the follower's broker id, or -1 for a consumer.
func (b *Broker) fillFetch(r *kmsg.FetchRequest, replica int32, parts []fetchPart) (total int, failed bool) {
	now := time.Now()
	var dirs directoryIDs
	budget := int(r.MaxBytes)
	if r.Version < 3 || budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	for _, fp := range parts {
		sp := fp.resp
		// Empty, not null: librdkafka rejects a null record set.
		sp.RecordBatches = noRecords
		if fp.err != nil {
			sp.ErrorCode = errorCode(fp.err)
			failed = true
			continue
		}
		limit := min(int(fp.req.PartitionMaxBytes), budget-total)
		if limit <= 0 && total > 0 && replica >= 0 {
			// No room for records, but the follower's fetch offset
			// still counts towards the high watermark and the ISR.
			res, err := fp.p.ReadReplica(replica, dirs.of(fp.req.ReplicaDirectoryID), fp.req.FetchOffset, 0, fp.req.CurrentLeaderEpoch, now)
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.HighWatermark, res.LogStartOffset
			if err != nil {
				sp.ErrorCode = errorCode(err)
				failed = true
			}
			continue
		}
		if limit <= 0 && total > 0 {
			sp.HighWatermark = fp.p.HighWatermark()
			sp.LastStableOffset = sp.HighWatermark
			sp.LogStartOffset = fp.p.LogStartOffset()
			continue
		}
		var res partition.ReadResult
		var err error
		if replica >= 0 {
			res, err = fp.p.ReadReplica(replica, dirs.of(fp.req.ReplicaDirectoryID), fp.req.FetchOffset, max(limit, 1), fp.req.CurrentLeaderEpoch, now)
		} else {
			res, err = fp.p.Read(fp.req.FetchOffset, max(limit, 1), fp.req.CurrentLeaderEpoch)
		}
		sp.HighWatermark = res.HighWatermark
		sp.LastStableOffset = res.HighWatermark
		sp.LogStartOffset = res.LogStartOffset
		if err != nil {
			sp.ErrorCode = errorCode(err)
			failed = true
			continue
		}
		sp.ErrorCode = 0
		// Only the first partition with data may exceed the limits
		// (KIP-74), so that a batch larger than them still moves.
		if total > 0 && len(res.Records) > limit {
			continue
		}
		if len(res.Records) > 0 {
			sp.RecordBatches = res.Records
			total += len(res.Records)
		}
	}
	return total, failed
}

// directoryIDs gives the string form of followers' directory ids
// (KIP-853's ReplicaDirectoryId), formatting each once per fetch: a
// follower names the same directory for every partition of a log
// directory, so one fetch of many partitions formats one or two ids.
type directoryIDs struct {
	last [16]byte
	form string
}

// of returns id's string form, "" for the zero id (not named).
func (d *directoryIDs) of(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	if id != d.last || d.form == "" {
		d.last, d.form = id, cluster.FormatID(id)
	}
	return d.form
}
