package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/record"
	"github.com/spotstream/spotstream/internal/wire"
)

// produceWait is one appended batch whose acknowledgement waits for the
// high watermark (acks=all) or the durable offset (acks=1).
type produceWait struct {
	p    *partition.Partition
	res  partition.AppendResult
	resp *kmsg.ProduceResponseTopicPartition
}

// handleProduce appends each partition's batch on the reader goroutine, so
// that batches from one connection keep their order, and acknowledges them
// from the writer goroutine once they are durable.
func (b *Broker) handleProduce(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	now := time.Now().UnixMilli()

	var waits []produceWait
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			sp := &st.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			p, res, err := b.produceOne(r, rt.Topic, rp, now)
			if err != nil {
				setError(&sp.ErrorCode, &sp.ErrorMessage, err)
				continue
			}
			sp.BaseOffset = res.BaseOffset
			sp.LogAppendTime = res.LogAppendTime
			sp.LogStartOffset = res.LogStartOffset
			if r.Acks != 0 {
				// sp stays valid: each topic's partition slice is
				// allocated once, before any pointer into it is kept.
				waits = append(waits, produceWait{p: p, res: res, resp: sp})
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.Acks == 0 {
		return wire.NoResponse
	}
	if len(waits) == 0 {
		return wire.Respond(resp)
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	return wire.Later(func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, w := range waits {
			// acks=all: the high watermark passed the batch, with at
			// least min.insync.replicas in sync; acks=1: durable here.
			err := w.p.WaitAcked(ctx, w.res, r.Acks == -1)
			switch {
			case err == nil:
			case ctx.Err() != nil:
				w.resp.ErrorCode = kerr.RequestTimedOut.Code
				w.resp.BaseOffset = -1
			default:
				setError(&w.resp.ErrorCode, &w.resp.ErrorMessage, err)
				w.resp.BaseOffset = -1
			}
		}
		return resp
	})
}

// produceOne validates and appends one partition's batch.
func (b *Broker) produceOne(r *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition, now int64) (*partition.Partition, partition.AppendResult, error) {
	var none partition.AppendResult
	if r.Acks != 0 && r.Acks != 1 && r.Acks != -1 {
		return nil, none, kerrf(kerr.InvalidRequiredAcks, "acks must be 0, 1 or -1, not %d", r.Acks)
	}
	if r.TransactionID != nil {
		return nil, none, kerrf(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported")
	}
	if isInternalTopic(topic) {
		return nil, none, kerrf(kerr.InvalidTopicException, "cannot produce to internal topic %q", topic)
	}
	p, err := b.leaderPartition(topic, rp.Partition)
	if err != nil {
		return nil, none, err
	}
	cfg := p.Config()
	if len(rp.Records) > int(cfg.MaxMessageBytes) {
		return nil, none, kerrf(kerr.MessageTooLarge, "batch of %d bytes exceeds max.message.bytes %d", len(rp.Records), cfg.MaxMessageBytes)
	}
	h, err := record.ReadHeader(rp.Records)
	if err != nil {
		return nil, none, err
	}
	if h.Size() < len(rp.Records) {
		return nil, none, kerrf(kerr.InvalidRecord, "produce requests must carry exactly one record batch per partition")
	}
	if h, err = record.Validate(rp.Records); err != nil {
		return nil, none, err
	}
	if h.Transactional() || h.Control() {
		return nil, none, kerrf(kerr.InvalidRecord, "transactional and control batches are not supported")
	}
	if r.Acks == -1 && p.ISRSize() < cfg.MinInsyncReplicas {
		return nil, none, kerrf(kerr.NotEnoughReplicas, "%d in-sync replicas, min.insync.replicas is %d", p.ISRSize(), cfg.MinInsyncReplicas)
	}
	res, err := p.Append(rp.Records, h, now)
	if err != nil {
		return nil, none, fmt.Errorf("produce %s-%d: %w", topic, rp.Partition, err)
	}
	return p, res, nil
}
