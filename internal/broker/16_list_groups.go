package broker

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleListGroups(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ListGroupsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
		shards, loading := b.groups.Shards()
		if loading {
			resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		}
		for _, shard := range shards {
			for _, l := range shard.List() {
				if len(r.StatesFilter) > 0 && !slices.ContainsFunc(r.StatesFilter, func(s string) bool { return strings.EqualFold(s, l.State) }) {
					continue
				}
				if len(r.TypesFilter) > 0 && !slices.ContainsFunc(r.TypesFilter, func(s string) bool { return strings.EqualFold(s, "classic") }) {
					continue // every group here is a classic group
				}
				rg := kmsg.NewListGroupsResponseGroup()
				rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = l.Group, l.ProtocolType, l.State, "classic"
				resp.Groups = append(resp.Groups, rg)
			}
		}
		slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
		return resp
	})
}
