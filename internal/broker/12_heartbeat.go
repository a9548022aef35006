package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleHeartbeat(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.HeartbeatRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		shard, err := b.groupShard(r.Group)
		if err == nil {
			err = shard.Heartbeat(ctx, group.HeartbeatRequest{
				Group:      r.Group,
				MemberID:   r.MemberID,
				InstanceID: deref(r.InstanceID),
				Generation: r.Generation,
			})
		}
		resp.ErrorCode = errorCode(err)
		return resp
	})
}
