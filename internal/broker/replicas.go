package broker

import "github.com/spotstream/spotstream/internal/partition"

// LocalLog reports the log end offset and high watermark of this broker's
// replica of a partition, leader or follower, and false when it hosts
// none. Tests compare replicas with it; clients only ever see leaders.
func (b *Broker) LocalLog(topic string, index int32) (logEnd, highWatermark int64, ok bool) {
	p := b.replicas.Get(partition.ID{Topic: topic, Partition: index})
	if p == nil {
		return 0, 0, false
	}
	return p.LogEndOffset(), p.HighWatermark(), true
}
