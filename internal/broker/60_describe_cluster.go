package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

// endpointTypeBroker is DescribeCluster's endpoint type for brokers (KIP-919).
const endpointTypeBroker = 1

func (b *Broker) handleDescribeCluster(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = endpointTypeBroker
	if r.Version >= 1 && r.EndpointType != endpointTypeBroker {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return wire.Respond(resp)
	}
	snap := b.meta.Load()
	resp.ClusterID = snap.ClusterID
	resp.ControllerID = controllerID(snap)
	for _, bi := range sortedBrokers(snap) {
		mb := kmsg.NewDescribeClusterResponseBroker()
		mb.NodeID, mb.Host, mb.Port = bi.ID, bi.Host, bi.Port
		if bi.Rack != "" {
			rack := bi.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	return wire.Respond(resp)
}
