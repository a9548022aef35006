package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/wire"
)

// handleAlterPartitionReassignments starts, replaces or cancels partition
// reassignments (KIP-455), as kafka-reassign-partitions.sh does. Only the
// active controller answers; other brokers say NOT_CONTROLLER and clients
// retry against the controller named in Metadata. The controller writes
// each partition's new state and completes the move on its own once the
// new replicas are in sync (internal/controller/reassign.go).
func (b *Broker) handleAlterPartitionReassignments(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
		ctx, cancel := context.WithTimeout(ctx, time.Duration(max(r.TimeoutMillis, 1))*time.Millisecond)
		defer cancel()

		var reqs []controller.Reassignment
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				reqs = append(reqs, controller.Reassignment{
					TopicPartition: controller.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
					Target:         rp.Replicas,
				})
			}
		}
		// Checks the controller cannot make, answered without asking it.
		errs := make([]error, len(reqs))
		var todo []controller.Reassignment
		var todoAt []int
		for i, ra := range reqs {
			errs[i] = b.checkReassignment(r, reqs, i)
			if errs[i] == nil {
				todo = append(todo, ra)
				todoAt = append(todoAt, i)
			}
		}
		results, err := b.controller.AlterReassignments(ctx, todo)
		if err != nil {
			setError(&resp.ErrorCode, &resp.ErrorMessage, reassignmentError(err))
			return resp
		}
		for j, i := range todoAt {
			errs[i] = results[j]
		}

		byTopic := map[string]int{}
		for i, ra := range reqs {
			ti, ok := byTopic[ra.Topic]
			if !ok {
				ti = len(resp.Topics)
				byTopic[ra.Topic] = ti
				rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
				rt.Topic = ra.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = ra.Partition
			if errs[i] != nil {
				setError(&rp.ErrorCode, &rp.ErrorMessage, reassignmentError(errs[i]))
			}
			resp.Topics[ti].Partitions = append(resp.Topics[ti].Partitions, rp)
		}
		return resp
	})
}

// checkReassignment checks request entry i against the request itself and
// the replication factor rule of v1 (KIP-1101: a client may forbid
// changes of the replication factor).
func (b *Broker) checkReassignment(r *kmsg.AlterPartitionAssignmentsRequest, reqs []controller.Reassignment, i int) error {
	ra := reqs[i]
	for _, prev := range reqs[:i] {
		if prev.TopicPartition == ra.TopicPartition {
			return kerrf(kerr.InvalidRequest, "partition %s-%d appears more than once in the request", ra.Topic, ra.Partition)
		}
	}
	if r.Version < 1 || r.AllowReplicationFactorChange || ra.Target == nil {
		return nil
	}
	t := b.meta.Load().Topic(ra.Topic)
	if t == nil || ra.Partition < 0 || int(ra.Partition) >= len(t.Partitions) {
		return nil // the controller reports it unknown
	}
	p := &t.Partitions[ra.Partition]
	if have := len(p.Replicas) - len(p.Adding); have != len(ra.Target) {
		return kerrf(kerr.InvalidReplicationFactor, "partition %s-%d has %d replicas, the target %d, and the request forbids changing the replication factor",
			ra.Topic, ra.Partition, have, len(ra.Target))
	}
	return nil
}

// reassignmentError maps a topic name that no topic can have to
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers reassignments of such
// names; elsewhere an invalid name is INVALID_TOPIC_EXCEPTION.
func reassignmentError(err error) error {
	if errors.Is(err, cluster.ErrInvalidTopic) {
		return kerrf(kerr.UnknownTopicOrPartition, "%v", err)
	}
	return err
}
