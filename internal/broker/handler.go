package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

// api is one served Kafka API: the versions it speaks and its handler.
type api struct {
	key        int16
	minVersion int16
	maxVersion int16
	handle     func(b *Broker, req *wire.Request) wire.Reply
}

// apis lists every API the broker serves. The version ranges are what the
// handlers implement, capped where a newer version would change semantics we
// do not have (for example Produce v12+ for transactions V2). Minimums follow
// Kafka 4 (KIP-896) where old versions need a message format we do not store.
var apis []api

// apiByKey indexes apis by key.
var apiByKey map[int16]*api

// The table is filled in init because the ApiVersions handler reads it,
// which a package-level initializer cannot express.
func init() {
	apis = []api{
		{0, 3, 11, (*Broker).handleProduce},
		{1, 4, 16, (*Broker).handleFetch},
		{2, 1, 8, (*Broker).handleListOffsets},
		{3, 0, 12, (*Broker).handleMetadata},
		{8, 0, 8, (*Broker).handleOffsetCommit},
		{9, 0, 8, (*Broker).handleOffsetFetch},
		{10, 0, 4, (*Broker).handleFindCoordinator},
		{11, 0, 9, (*Broker).handleJoinGroup},
		{12, 0, 4, (*Broker).handleHeartbeat},
		{13, 0, 5, (*Broker).handleLeaveGroup},
		{14, 0, 5, (*Broker).handleSyncGroup},
		{15, 0, 5, (*Broker).handleDescribeGroups},
		{16, 0, 4, (*Broker).handleListGroups},
		{18, 0, 4, (*Broker).handleAPIVersions},
		{19, 2, 7, (*Broker).handleCreateTopics},
		{20, 1, 6, (*Broker).handleDeleteTopics},
		{22, 0, 5, (*Broker).handleInitProducerID},
		{23, 2, 4, (*Broker).handleOffsetForLeaderEpoch},
		{32, 1, 4, (*Broker).handleDescribeConfigs},
		{33, 0, 2, (*Broker).handleAlterConfigs},
		{37, 0, 3, (*Broker).handleCreatePartitions},
		{42, 0, 2, (*Broker).handleDeleteGroups},
		{43, 0, 2, (*Broker).handleElectLeaders},
		{44, 0, 1, (*Broker).handleIncrementalAlterConfigs},
		{45, 0, 1, (*Broker).handleAlterPartitionReassignments},
		{46, 0, 0, (*Broker).handleListPartitionReassignments},
		{47, 0, 0, (*Broker).handleOffsetDelete},
		{55, 0, 2, (*Broker).handleDescribeQuorum},
		{60, 0, 1, (*Broker).handleDescribeCluster},
	}
	apiByKey = make(map[int16]*api, len(apis))
	for i := range apis {
		a := &apis[i]
		if max := kmsg.RequestForKey(a.key).MaxVersion(); a.maxVersion > max {
			panic("broker: api " + kmsg.NameForKey(a.key) + " version above what kmsg encodes")
		}
		apiByKey[a.key] = a
	}
}

// Versions implements [wire.Handler].
func (b *Broker) Versions(key int16) (minVersion, maxVersion int16, ok bool) {
	a := apiByKey[key]
	if a == nil {
		return 0, 0, false
	}
	return a.minVersion, a.maxVersion, true
}

// Handle implements [wire.Handler].
func (b *Broker) Handle(req *wire.Request) wire.Reply {
	b.metrics.requests.WithLabelValues(kmsg.NameForKey(req.APIKey)).Inc()
	return apiByKey[req.APIKey].handle(b, req)
}
