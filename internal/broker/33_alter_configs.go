package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

// handleAlterConfigs is the legacy AlterConfigs: the configs given for a
// resource replace all of its overrides (a topic's, or one layer of
// dynamic broker configs), so a key left out reverts to its default. It
// shares the machinery of IncrementalAlterConfigs, as a change of SETs with
// replace set.
func (b *Broker) handleAlterConfigs(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	changes := make([]configChange, len(r.Resources))
	for i, rr := range r.Resources {
		c := configChange{typ: rr.ResourceType, name: rr.ResourceName, replace: true}
		for _, rc := range rr.Configs {
			if rc.Value == nil {
				// A null value cannot be stored; leaving the key out is how
				// AlterConfigs removes an override.
				c.err = kerrf(kerr.InvalidRequest, "config %q has a null value; omit it to remove the override", rc.Name)
				continue
			}
			c.ops = append(c.ops, configOp{name: rc.Name, op: kmsg.IncrementalAlterConfigOpSet, value: *rc.Value})
		}
		changes[i] = c
	}
	return wire.Later(func(ctx context.Context) kmsg.Response {
		errs := b.alterConfigs(ctx, changes, r.ValidateOnly)
		resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
		for i, c := range changes {
			sr := kmsg.NewAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = c.typ, c.name
			if errs[i] != nil {
				setError(&sr.ErrorCode, &sr.ErrorMessage, errs[i])
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	})
}
