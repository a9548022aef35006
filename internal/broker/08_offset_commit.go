package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleOffsetCommit(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetCommitRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		cr := group.CommitRequest{
			Group:             r.Group,
			MemberID:          r.MemberID,
			InstanceID:        deref(r.InstanceID),
			Generation:        r.Generation,
			RetentionOverride: -1,
		}
		if r.Version == 0 {
			cr.Generation = -1 // v0 has no generation: a simple commit
		}
		if r.Version >= 2 && r.Version <= 4 && r.RetentionTimeMillis >= 0 {
			cr.RetentionOverride = millis64(r.RetentionTimeMillis)
		}
		// Partitions of unknown topics fail alone; the rest commit.
		snap := b.meta.Load()
		perPartition := make(map[group.TopicPartition]error)
		for _, t := range r.Topics {
			topic := snap.Topics[t.Topic]
			for _, p := range t.Partitions {
				tp := group.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				if topic == nil || p.Partition < 0 || int(p.Partition) >= len(topic.Partitions) {
					perPartition[tp] = kerrf(kerr.UnknownTopicOrPartition, "%s-%d", t.Topic, p.Partition)
					continue
				}
				leaderEpoch := p.LeaderEpoch
				if r.Version < 6 {
					leaderEpoch = -1
				}
				cr.Offsets = append(cr.Offsets, group.OffsetCommit{
					Topic: t.Topic, Partition: p.Partition, Offset: p.Offset,
					LeaderEpoch: leaderEpoch, Metadata: deref(p.Metadata),
				})
			}
		}
		shard, err := b.groupShard(r.Group)
		if err == nil && len(cr.Offsets) > 0 {
			var results map[group.TopicPartition]error
			results, err = shard.CommitOffsets(ctx, cr)
			for tp, perr := range results {
				perPartition[tp] = perr
			}
		}
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				perr := err
				if e, ok := perPartition[group.TopicPartition{Topic: t.Topic, Partition: p.Partition}]; ok {
					perr = e
				}
				rp.ErrorCode = errorCode(perr)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}

func millis64(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
