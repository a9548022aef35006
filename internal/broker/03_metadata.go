package broker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/wire"
)

// handleMetadata answers from the metadata snapshot. Requested topics that
// do not exist are created when auto.create.topics.enable allows it; the
// answer then waits (on the writer goroutine) until this broker serves them,
// so a producer's first send does not bounce off LEADER_NOT_AVAILABLE.
func (b *Broker) handleMetadata(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.MetadataRequest)
	snap := b.meta.Load()

	var missing []string
	if r.Topics != nil && (r.Version < 4 || r.AllowAutoTopicCreation) && b.cfg.AutoCreateTopics {
		for _, rt := range r.Topics {
			// Internal topics are created by their owners, with their own
			// settings, never by a metadata request.
			if rt.Topic != nil && snap.Topics[*rt.Topic] == nil && validTopicName(*rt.Topic) == nil && !isInternalTopic(*rt.Topic) {
				missing = append(missing, *rt.Topic)
			}
		}
	}
	if len(missing) == 0 {
		return wire.Respond(b.metadataResponse(r, snap))
	}
	return wire.Later(func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, name := range missing {
			_, err := b.createTopic(ctx, topicRequest{
				name:       name,
				partitions: b.cfg.NumPartitions,
				rf:         b.cfg.DefaultReplicationFactor,
			}, false)
			if err != nil && !errors.Is(err, cluster.ErrTopicExists) {
				b.log.Warn("auto-creating topic", "topic", name, "err", err)
			}
		}
		return b.metadataResponse(r, b.meta.Load())
	})
}

func (b *Broker) metadataResponse(r *kmsg.MetadataRequest, snap *cluster.Snapshot) *kmsg.MetadataResponse {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	clusterID := snap.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = controllerID(snap)
	for _, bi := range sortedBrokers(snap) {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = bi.ID, bi.Host, bi.Port
		if bi.Rack != "" {
			rack := bi.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}

	var topics []*cluster.Topic
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		topics = sortedTopics(snap)
	}
	for _, rt := range r.Topics {
		if all {
			break
		}
		mt := kmsg.NewMetadataResponseTopic()
		var t *cluster.Topic
		switch {
		case rt.Topic != nil:
			name := *rt.Topic
			mt.Topic = &name
			if err := validTopicName(name); err != nil {
				mt.ErrorCode = kerr.InvalidTopicException.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			t = snap.Topics[name]
		default:
			mt.TopicID = rt.TopicID
			t = snap.TopicsByID[rt.TopicID]
			if t == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		if t == nil {
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		topics = append(topics, t)
	}
	for _, t := range topics {
		resp.Topics = append(resp.Topics, topicMetadata(t, snap))
	}
	return resp
}

// topicMetadata describes a topic's partitions as clients expect.
func topicMetadata(t *cluster.Topic, snap *cluster.Snapshot) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	for i, ps := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		if !ps.Available() {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
			mt.Partitions = append(mt.Partitions, mp)
			continue
		}
		mp.Leader, mp.LeaderEpoch = ps.Leader, ps.LeaderEpoch
		mp.Replicas = slices.Clone(ps.Replicas)
		mp.ISR = slices.Clone(ps.ISR)
		for _, id := range ps.Replicas {
			if _, live := snap.Brokers[id]; !live {
				mp.OfflineReplicas = append(mp.OfflineReplicas, id)
			}
		}
		if _, live := snap.Brokers[ps.Leader]; !live {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// isInternalTopic reports whether a topic belongs to the broker itself.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}
