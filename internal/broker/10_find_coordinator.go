package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/groupcoord"
	"github.com/spotstream/spotstream/internal/wire"
)

// Coordinator key types of FindCoordinator.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (b *Broker) handleFindCoordinator(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		keys := r.CoordinatorKeys
		if r.Version < 4 {
			keys = []string{r.CoordinatorKey}
		}
		for _, key := range keys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			if err := b.findCoordinator(ctx, r.CoordinatorType, key, &c); err != nil {
				c.NodeID, c.Host, c.Port = -1, "", -1
				setError(&c.ErrorCode, &c.ErrorMessage, err)
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		if r.Version < 4 {
			c := resp.Coordinators[0]
			resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
			resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
			resp.Coordinators = nil
		}
		return resp
	})
}

// findCoordinator fills c with the broker coordinating key: the leader of
// the group's partition of __consumer_offsets, created on first use.
func (b *Broker) findCoordinator(ctx context.Context, keyType int8, key string, c *kmsg.FindCoordinatorResponseCoordinator) error {
	switch keyType {
	case coordinatorGroup:
	case coordinatorTransaction:
		return kerrf(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported")
	default:
		return kerrf(kerr.InvalidRequest, "unknown coordinator key type %d", keyType)
	}
	if key == "" {
		return kerrf(kerr.InvalidGroupID, "empty group id")
	}
	topic, err := b.ensureOffsetsTopic(ctx)
	if err != nil {
		return err
	}
	p := groupcoord.PartitionFor(key, int32(len(topic.Partitions)))
	leader := topic.Partitions[p].Leader
	info, ok := b.meta.Load().Brokers[leader]
	if leader < 0 || !ok {
		return kerrf(kerr.CoordinatorNotAvailable, "partition %d of %s has no live leader", p, groupcoord.Topic)
	}
	c.NodeID, c.Host, c.Port = info.ID, info.Host, info.Port
	return nil
}
