package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleDeleteGroups(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DeleteGroupsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		// Groups are deleted shard by shard, each shard's in one call.
		byShard := make(map[*group.Shard][]string)
		errs := make(map[string]error)
		for _, id := range r.Groups {
			shard, err := b.groupShard(id)
			if err != nil {
				errs[id] = err
				continue
			}
			byShard[shard] = append(byShard[shard], id)
		}
		for shard, ids := range byShard {
			for id, err := range shard.Delete(ctx, ids) {
				errs[id] = err
			}
		}
		for _, id := range r.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = id
			rg.ErrorCode = errorCode(errs[id])
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	})
}
