package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleSyncGroup(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.SyncGroupRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		sr := group.SyncRequest{
			Group:        r.Group,
			MemberID:     r.MemberID,
			InstanceID:   deref(r.InstanceID),
			Generation:   r.Generation,
			ProtocolType: deref(r.ProtocolType),
			Protocol:     deref(r.Protocol),
		}
		if len(r.GroupAssignment) > 0 {
			sr.Assignments = make(map[string][]byte, len(r.GroupAssignment))
			for _, a := range r.GroupAssignment {
				sr.Assignments[a.MemberID] = a.MemberAssignment
			}
		}
		shard, err := b.groupShard(r.Group)
		var res group.SyncResult
		if err == nil {
			res, err = shard.Sync(ctx, sr)
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			resp.MemberAssignment = []byte{}
			return resp
		}
		resp.ProtocolType = &res.ProtocolType
		resp.Protocol = &res.Protocol
		resp.MemberAssignment = res.Assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		return resp
	})
}
