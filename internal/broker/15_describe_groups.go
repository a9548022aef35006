package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleDescribeGroups(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeGroupsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, id := range r.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group = id
			rg.AuthorizedOperations = -2147483648 // not computed (KIP-430)
			shard, err := b.groupShard(id)
			if err == nil {
				d, derr := shard.Describe(id)
				if derr == nil {
					rg.State, rg.ProtocolType, rg.Protocol = d.State, d.ProtocolType, d.Protocol
					for _, m := range d.Members {
						rm := kmsg.NewDescribeGroupsResponseGroupMember()
						rm.MemberID, rm.InstanceID = m.MemberID, optional(m.InstanceID)
						rm.ClientID, rm.ClientHost = m.ClientID, m.ClientHost
						rm.ProtocolMetadata, rm.MemberAssignment = nonNil(m.Metadata), nonNil(m.Assignment)
						rg.Members = append(rg.Members, rm)
					}
				}
				err = derr
			}
			if err != nil {
				setError(&rg.ErrorCode, &rg.ErrorMessage, err)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	})
}

// nonNil returns b, or an empty slice for nil: some clients cannot read a
// null where the protocol has non-nullable bytes.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
