package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleAPIVersions(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ApiVersionsRequest)
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	if a := apiByKey[req.APIKey]; req.APIVersion > a.maxVersion {
		// The wire layer decoded nothing of a version it does not
		// know; answer at version 0 so the client can read it.
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	}
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.minVersion, a.maxVersion
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return wire.Respond(resp)
}
