package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

// handleInitProducerID gives an idempotent producer a fresh producer id.
// Ids come in blocks from the coordination service, so they are unique
// across brokers and restarts; a producer that asks again (KIP-360, after an
// error it cannot resolve with its epoch) simply gets a new id, which is what
// Kafka does for producers without a transactional id.
func (b *Broker) handleInitProducerID(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if r.TransactionalID != nil {
			// Transactions are not implemented; saying so plainly
			// beats a retriable error a client would loop on.
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return resp
		}
		id, err := b.producerIDs.next(ctx)
		if err != nil {
			b.log.Warn("allocating producer id", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
		return resp
	})
}
