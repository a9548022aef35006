package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/wire"
)

// handleListPartitionReassignments lists the ongoing reassignments of the
// asked partitions, or of all of them when the request names no topics
// (KIP-455). Like Kafka, only the controller answers, and partitions that
// are unknown or not being reassigned are left out.
func (b *Broker) handleListPartitionReassignments(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := func() kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		var parts []controller.TopicPartition
		if r.Topics != nil {
			parts = []controller.TopicPartition{} // non-nil: only these
			for _, rt := range r.Topics {
				for _, p := range rt.Partitions {
					parts = append(parts, controller.TopicPartition{Topic: rt.Topic, Partition: p})
				}
			}
		}
		ongoing, err := b.controller.ListReassignments(parts)
		if err != nil {
			setError(&resp.ErrorCode, &resp.ErrorMessage, reassignmentError(err))
			return resp
		}
		for _, o := range ongoing {
			if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != o.Topic {
				rt := kmsg.NewListPartitionReassignmentsResponseTopic()
				rt.Topic = o.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition = o.Partition
			rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = o.Replicas, o.Adding, o.Removing
			rt := &resp.Topics[len(resp.Topics)-1]
			rt.Partitions = append(rt.Partitions, rp)
		}
		return resp
	}()
	// It reads the controller's snapshot: nothing to wait for.
	return wire.Respond(resp)
}
