package broker

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/wire"
)

// Election types of ElectLeaders (KIP-460).
const (
	electPreferred = 0
	electUnclean   = 1
)

// handleElectLeaders moves leadership back to preferred replicas, as
// kafka-leader-election.sh --election-type preferred does. Only the active
// controller answers; other brokers say NOT_CONTROLLER and clients retry
// against the controller named in Metadata.
func (b *Broker) handleElectLeaders(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ElectLeadersRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
		ctx, cancel := context.WithTimeout(ctx, time.Duration(max(r.TimeoutMillis, 1))*time.Millisecond)
		defer cancel()
		parts := b.electionTargets(r.Topics)
		var results []controller.ElectionResult
		var err error
		switch {
		case r.Version >= 1 && r.ElectionType == electUnclean:
			err = kerrf(kerr.InvalidRequest, "elections of unclean leaders on request are not supported; set unclean.leader.election.enable on the topic")
		case r.Version >= 1 && r.ElectionType != electPreferred:
			err = kerrf(kerr.InvalidRequest, "unknown election type %d", r.ElectionType)
		default:
			results, err = b.controller.ElectPreferredLeaders(ctx, parts)
		}
		if err != nil {
			if r.Version >= 1 {
				resp.ErrorCode = errorCode(err)
				return resp
			}
			// v0 has no top-level error: every partition carries it.
			for _, p := range parts {
				results = append(results, controller.ElectionResult{TopicPartition: p, Err: err})
			}
		}
		byTopic := map[string]int{}
		for _, res := range results {
			i, ok := byTopic[res.Topic]
			if !ok {
				i = len(resp.Topics)
				byTopic[res.Topic] = i
				rt := kmsg.NewElectLeadersResponseTopic()
				rt.Topic = res.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = res.Partition
			if res.Err != nil {
				setError(&rp.ErrorCode, &rp.ErrorMessage, res.Err)
			}
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
		}
		return resp
	})
}

// electionTargets lists the partitions of a request; no topics means every
// partition of every topic.
func (b *Broker) electionTargets(topics []kmsg.ElectLeadersRequestTopic) []controller.TopicPartition {
	var parts []controller.TopicPartition
	if topics == nil {
		snap := b.meta.Load()
		for _, t := range sortedTopics(snap) {
			for i := range t.Partitions {
				parts = append(parts, controller.TopicPartition{Topic: t.Name, Partition: int32(i)})
			}
		}
		return parts
	}
	for _, t := range topics {
		for _, p := range t.Partitions {
			parts = append(parts, controller.TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	slices.SortFunc(parts, func(a, b controller.TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return parts
}
