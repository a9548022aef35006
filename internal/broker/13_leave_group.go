package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleLeaveGroup(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.LeaveGroupRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		var leaving []group.LeavingMember
		if r.Version < 3 {
			leaving = []group.LeavingMember{{MemberID: r.MemberID}}
		}
		for _, m := range r.Members {
			leaving = append(leaving, group.LeavingMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID), Reason: deref(m.Reason)})
		}
		shard, err := b.groupShard(r.Group)
		var errs []error
		if err == nil {
			errs, err = shard.Leave(ctx, r.Group, leaving)
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			return resp
		}
		if r.Version < 3 {
			resp.ErrorCode = errorCode(errs[0])
			return resp
		}
		for i, m := range r.Members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
			rm.ErrorCode = errorCode(errs[i])
			resp.Members = append(resp.Members, rm)
		}
		return resp
	})
}
