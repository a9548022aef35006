package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleOffsetDelete(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetDeleteRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		var tps []group.TopicPartition
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, group.TopicPartition{Topic: t.Topic, Partition: p.Partition})
			}
		}
		shard, err := b.groupShard(r.Group)
		var results map[group.TopicPartition]error
		if err == nil {
			results, err = shard.DeleteOffsets(ctx, r.Group, tps)
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = errorCode(results[group.TopicPartition{Topic: t.Topic, Partition: p.Partition}])
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}
