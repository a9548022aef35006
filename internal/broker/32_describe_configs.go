package broker

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleDescribeConfigs(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	snap := b.meta.Load()
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []config.Entry
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if t := snap.Topics[rr.ResourceName]; t != nil {
				entries = b.cfg.DescribeTopic(t.Configs)
			} else {
				err = kerrf(kerr.UnknownTopicOrPartition, "topic %q does not exist", rr.ResourceName)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(b.id)) {
				err = kerrf(kerr.InvalidRequest, "this is broker %d, not %q", b.id, rr.ResourceName)
			} else {
				entries = b.withIdentity(b.cfg.Describe())
			}
		default:
			err = kerrf(kerr.InvalidRequest, "resource type %v is not supported", rr.ResourceType)
		}
		if err != nil {
			setError(&sr.ErrorCode, &sr.ErrorMessage, err)
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		for _, e := range entries {
			if rr.ConfigNames != nil && !slices.Contains(rr.ConfigNames, e.Name) {
				continue
			}
			sr.Configs = append(sr.Configs, describedConfig(e, r))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return wire.Respond(resp)
}

// withIdentity reports broker.rack and broker.capacity as they are in
// effect: when left unset, the broker learned them from the instance
// metadata service (cloud.provider) and registered them, and tools such as
// spotstream cluster status should see what placement sees.
func (b *Broker) withIdentity(entries []config.Entry) []config.Entry {
	reg, ok := b.meta.Load().Brokers[b.id]
	if !ok {
		return entries
	}
	for i := range entries {
		e := &entries[i]
		var v string
		switch e.Name {
		case "broker.rack":
			v = reg.Rack
		case "broker.capacity":
			v = reg.Capacity
		default:
			continue
		}
		if v != "" && (e.Value == nil || *e.Value == "") {
			e.Value, e.Source, e.Synonyms = &v, config.SourceStaticBroker, nil
		}
	}
	return entries
}

func describedConfig(e config.Entry, r *kmsg.DescribeConfigsRequest) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	c.Value = e.Value
	c.ReadOnly = e.ReadOnly
	c.Source = kmsg.ConfigSource(e.Source)
	c.IsDefault = e.Source == config.SourceDefault
	c.IsSensitive = e.Sensitive
	if e.Sensitive {
		c.Value = nil
	}
	c.ConfigType = kmsg.ConfigType(e.Type)
	if r.IncludeDocumentation {
		doc := e.Doc
		c.Documentation = &doc
	}
	if r.IncludeSynonyms {
		for _, s := range e.Synonyms {
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name, syn.Value, syn.Source = s.Name, s.Value, kmsg.ConfigSource(s.Source)
			c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
		}
	}
	return c
}
