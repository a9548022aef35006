package broker

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/placement"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleCreatePartitions(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.CreatePartitionsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
		ctx, cancel := context.WithTimeout(ctx, time.Duration(max(r.TimeoutMillis, 1))*time.Millisecond)
		defer cancel()
		for _, rt := range r.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic = rt.Topic
			if err := b.createPartitions(ctx, rt, r.ValidateOnly); err != nil {
				setError(&st.ErrorCode, &st.ErrorMessage, err)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	})
}

// createPartitions raises a topic's partition count, placing the new
// partitions like a new topic's with the topic's replication factor, or as
// the request assigns them.
func (b *Broker) createPartitions(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	snap := b.meta.Load()
	t := snap.Topics[rt.Topic]
	if t == nil {
		return kerrf(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
	}
	have := int32(len(t.Partitions))
	if rt.Count <= have {
		return kerrf(kerr.InvalidPartitions, "topic %q has %d partitions; the count can only grow", rt.Topic, have)
	}
	add := int(rt.Count - have)
	var assignment [][]int32
	if rt.Assignment != nil {
		if len(rt.Assignment) != add {
			return kerrf(kerr.InvalidReplicaAssignment, "%d assignments for %d new partitions", len(rt.Assignment), add)
		}
		for _, a := range rt.Assignment {
			assignment = append(assignment, a.Replicas)
		}
		if err := validateAssignment(assignment, snap); err != nil {
			return err
		}
	} else {
		var err error
		brokers, parts := controller.PlacementInput(snap)
		assignment, err = placement.Assign(brokers, parts, add, int(replicationFactor(t)), mrand.Uint64())
		if err != nil {
			return kerrf(kerr.InvalidReplicationFactor, "%v", err)
		}
	}
	if validateOnly {
		return nil
	}
	var states []cluster.PartitionState
	for _, replicas := range assignment {
		states = append(states, cluster.NewPartitionState(replicas, snap.Brokers))
	}
	rev, err := b.store.CreatePartitions(ctx, rt.Topic, have, states)
	if err != nil {
		return fmt.Errorf("adding partitions to %q: %w", rt.Topic, err)
	}
	if err := b.replicas.WaitApplied(ctx, rev); err != nil {
		return kerrf(kerr.RequestTimedOut, "partitions added to %q but not yet served: %v", rt.Topic, err)
	}
	return nil
}
