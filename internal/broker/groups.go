package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/groupcoord"
)

// Group coordination: the handlers of the group APIs find the shard of a
// group through b.groups, which serves the partitions of
// __consumer_offsets this broker leads. The helpers here are shared by
// those handlers.

// offsetsTopicConfigs are the topic configurations of __consumer_offsets,
// as Kafka creates it: compacted (the coordinator rewrites its state and
// drops older segments itself), 100 MiB segments
// (offsets.topic.segment.bytes), batches stored as written.
var offsetsTopicConfigs = map[string]string{
	"cleanup.policy":   "compact",
	"segment.bytes":    "104857600",
	"compression.type": "producer",
}

// offsetsSegmentBytes is the segment size of __consumer_offsets, which is
// also how far a partition may grow past its live state before the
// coordinator compacts it.
const offsetsSegmentBytes = 100 << 20

// newGroupCoordinator returns the broker's group coordinator.
func (b *Broker) newGroupCoordinator() *groupcoord.Coordinator {
	return groupcoord.New(groupcoord.Config{
		PartitionCount: b.offsetsPartitionCount,
		Group: group.Config{
			InitialRebalanceDelay: b.cfg.GroupInitialRebalanceDelay,
			MinSessionTimeout:     b.cfg.GroupMinSessionTimeout,
			MaxSessionTimeout:     b.cfg.GroupMaxSessionTimeout,
			MaxSize:               int(b.cfg.GroupMaxSize),
			OffsetsRetention:      b.cfg.OffsetsRetention,
			MaxMetadataBytes:      offsetMetadataMaxBytes,
			Logger:                b.log,
		},
		RetentionCheckInterval: b.cfg.OffsetsRetentionCheckInterval,
		CompactBytes:           offsetsSegmentBytes,
		Logger:                 b.log,
	})
}

// offsetMetadataMaxBytes bounds the metadata string of a committed offset
// (Kafka's offset.metadata.max.bytes default).
const offsetMetadataMaxBytes = 4096

// offsetsPartitionCount returns the partition count of __consumer_offsets:
// the existing topic's, else the configured one.
func (b *Broker) offsetsPartitionCount() int32 {
	if t := b.meta.Load().Topics[groupcoord.Topic]; t != nil {
		return int32(len(t.Partitions))
	}
	return b.cfg.OffsetsTopicPartitions
}

// ensureOffsetsTopic creates __consumer_offsets if it does not exist, as
// Kafka does on the first FindCoordinator for a group. Creation needs
// offsets.topic.replication.factor live brokers; until then the caller
// answers COORDINATOR_NOT_AVAILABLE.
func (b *Broker) ensureOffsetsTopic(ctx context.Context) (*cluster.Topic, error) {
	if t := b.meta.Load().Topics[groupcoord.Topic]; t != nil {
		return t, nil
	}
	t, err := b.createTopic(ctx, topicRequest{
		name:       groupcoord.Topic,
		partitions: b.cfg.OffsetsTopicPartitions,
		rf:         b.cfg.OffsetsTopicReplicationFactor,
		configs:    offsetsTopicConfigs,
	}, false)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		// Another broker created it first.
		if t := b.meta.Load().Topics[groupcoord.Topic]; t != nil {
			return t, nil
		}
	}
	if err != nil {
		return nil, kerrf(kerr.CoordinatorNotAvailable, "creating %s: %v", groupcoord.Topic, err)
	}
	return t, nil
}

// groupShard returns the shard coordinating groupID on this broker. Its
// errors are NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and
// INVALID_GROUP_ID.
func (b *Broker) groupShard(groupID string) (*group.Shard, error) {
	if groupID == "" {
		return nil, kerrf(kerr.InvalidGroupID, "empty group id")
	}
	return b.groups.Shard(groupID)
}
