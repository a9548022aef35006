package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

// Special timestamps of ListOffsets.
const (
	listLatest        = -1 // the high watermark (or last stable offset)
	listEarliest      = -2 // the log start offset
	listMaxTimestamp  = -3 // the record with the largest timestamp (KIP-734)
	listEarliestLocal = -4 // the local log start offset (KIP-405); all data is local
)

func (b *Broker) handleListOffsets(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			if err := b.listOffset(rt.Topic, rp, &sp); err != nil {
				sp.ErrorCode = errorCode(err)
				sp.Timestamp, sp.Offset = -1, -1
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Respond(resp)
}

func (b *Broker) listOffset(topic string, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	p, err := b.leaderPartition(topic, rp.Partition)
	if err != nil {
		return err
	}
	epoch, _ := p.Leader()
	sp.LeaderEpoch = epoch
	sp.Timestamp = -1
	switch rp.Timestamp {
	case listLatest:
		sp.Offset = p.HighWatermark()
	case listEarliest, listEarliestLocal:
		sp.Offset = p.LogStartOffset()
	case listMaxTimestamp:
		ts, off, err := p.MaxTimestamp(rp.CurrentLeaderEpoch)
		if err != nil {
			return err
		}
		sp.Timestamp, sp.Offset = ts, off
	default:
		off, ts, found, err := p.OffsetForTimestamp(rp.Timestamp, rp.CurrentLeaderEpoch)
		if err != nil {
			return err
		}
		if !found {
			// No record at or after the timestamp: Kafka answers
			// with no offset, and consumers reset to the end.
			sp.Offset, sp.Timestamp = -1, -1
			return nil
		}
		sp.Timestamp, sp.Offset = ts, off
	}
	return nil
}
