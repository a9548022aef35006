package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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
func (b *Broker) handleFetch(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.FetchRequest)
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
	total, failed := b.fillFetch(r, parts)
	if failed || total >= int(r.MinBytes) || maxWait <= 0 || len(parts) == 0 {
		return wire.Respond(resp)
	}
	return wire.Later(func(ctx context.Context) kmsg.Response {
		poke := make(chan struct{}, 1)
		for _, fp := range parts {
			defer fp.p.SubscribeHighWatermark(poke)()
		}
		timer := time.NewTimer(maxWait)
		defer timer.Stop()
		// Data may have arrived between the first read and the
		// subscription: read again before sleeping.
		for {
			if total, failed = b.fillFetch(r, parts); failed || total >= int(r.MinBytes) {
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
// as in Kafka).
func (b *Broker) fillFetch(r *kmsg.FetchRequest, parts []fetchPart) (total int, failed bool) {
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
		if limit <= 0 && total > 0 {
			sp.HighWatermark = fp.p.HighWatermark()
			sp.LastStableOffset = sp.HighWatermark
			sp.LogStartOffset = fp.p.LogStartOffset()
			continue
		}
		res, err := fp.p.Read(fp.req.FetchOffset, max(limit, 1), fp.req.CurrentLeaderEpoch)
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
