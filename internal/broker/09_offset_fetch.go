package broker

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleOffsetFetch(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		if r.Version >= 8 {
			for _, g := range r.Groups {
				var asked []fetchTopic
				if g.Topics != nil {
					for _, t := range g.Topics {
						asked = append(asked, fetchTopic{t.Topic, t.Partitions})
					}
				}
				topics, err := b.fetchOffsets(g.Group, asked, g.Topics == nil)
				rg := kmsg.NewOffsetFetchResponseGroup()
				rg.Group = g.Group
				rg.ErrorCode = errorCode(err)
				for _, t := range topics {
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.Topic = t.topic
					for _, p := range t.partitions {
						rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p.partition, p.Offset, p.LeaderEpoch, &p.Metadata
						rt.Partitions = append(rt.Partitions, rp)
					}
					rg.Topics = append(rg.Topics, rt)
				}
				resp.Groups = append(resp.Groups, rg)
			}
			return resp
		}
		var asked []fetchTopic
		for _, t := range r.Topics {
			asked = append(asked, fetchTopic{t.Topic, t.Partitions})
		}
		topics, err := b.fetchOffsets(r.Group, asked, r.Topics == nil && r.Version >= 2)
		resp.ErrorCode = errorCode(err)
		if err != nil && r.Version < 2 {
			// No group-level error field: every asked partition carries it.
			topics = unknownOffsets(asked)
		}
		for _, t := range topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.topic
			for _, p := range t.partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p.partition, p.Offset, p.LeaderEpoch, &p.Metadata
				if r.Version < 2 {
					// Before v2 the group-level error goes in every
					// partition.
					rp.ErrorCode = resp.ErrorCode
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}

// fetchTopic is one topic of an OffsetFetch request.
type fetchTopic struct {
	topic      string
	partitions []int32
}

// fetchedTopic is one topic of an OffsetFetch answer.
type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

type fetchedPartition struct {
	partition int32
	group.CommittedOffset
}

// fetchOffsets returns the committed offsets of the asked partitions (-1
// where there is none), or of every partition the group has committed when
// all is set.
func (b *Broker) fetchOffsets(groupID string, asked []fetchTopic, all bool) ([]fetchedTopic, error) {
	shard, err := b.groupShard(groupID)
	if err != nil {
		return nil, err
	}
	var want []group.TopicPartition
	for _, t := range asked {
		for _, p := range t.partitions {
			want = append(want, group.TopicPartition{Topic: t.topic, Partition: p})
		}
	}
	if all {
		want = nil
	}
	committed, err := shard.FetchOffsets(groupID, want)
	if err != nil {
		return nil, err
	}
	if all {
		byTopic := make(map[string][]int32)
		for tp := range committed {
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
		}
		asked = asked[:0]
		for topic, parts := range byTopic {
			slices.Sort(parts)
			asked = append(asked, fetchTopic{topic, parts})
		}
		slices.SortFunc(asked, func(a, b fetchTopic) int { return strings.Compare(a.topic, b.topic) })
	}
	out := make([]fetchedTopic, 0, len(asked))
	for _, t := range asked {
		ft := fetchedTopic{topic: t.topic}
		for _, p := range t.partitions {
			c, ok := committed[group.TopicPartition{Topic: t.topic, Partition: p}]
			if !ok {
				c = group.CommittedOffset{Offset: -1, LeaderEpoch: -1}
			}
			ft.partitions = append(ft.partitions, fetchedPartition{partition: p, CommittedOffset: c})
		}
		out = append(out, ft)
	}
	return out, nil
}

// unknownOffsets answers every asked partition with no committed offset.
func unknownOffsets(asked []fetchTopic) []fetchedTopic {
	out := make([]fetchedTopic, 0, len(asked))
	for _, t := range asked {
		ft := fetchedTopic{topic: t.topic}
		for _, p := range t.partitions {
			ft.partitions = append(ft.partitions, fetchedPartition{partition: p, CommittedOffset: group.CommittedOffset{Offset: -1, LeaderEpoch: -1}})
		}
		out = append(out, ft)
	}
	return out
}
