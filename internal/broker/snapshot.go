package broker

import (
	"cmp"
	"maps"
	"slices"

	"github.com/spotstream/spotstream/internal/cluster"
)

// sortedBrokers returns the live brokers by id.
func sortedBrokers(snap *cluster.Snapshot) []cluster.BrokerInfo {
	return slices.SortedFunc(maps.Values(snap.Brokers), func(a, b cluster.BrokerInfo) int { return cmp.Compare(a.ID, b.ID) })
}

// sortedTopics returns the topics by name.
func sortedTopics(snap *cluster.Snapshot) []*cluster.Topic {
	return slices.SortedFunc(maps.Values(snap.Topics), func(a, b *cluster.Topic) int { return cmp.Compare(a.Name, b.Name) })
}

// controllerID is the broker clients send controller requests to: the
// elected controller. While there is none (between the old controller's
// lease expiring and the next campaign winning), the lowest live id: every
// broker still serves the admin requests, and an answer of -1 would stall
// admin clients for that moment.
func controllerID(snap *cluster.Snapshot) int32 {
	if snap.ControllerID >= 0 {
		return snap.ControllerID
	}
	if bs := sortedBrokers(snap); len(bs) > 0 {
		return bs[0].ID
	}
	return -1
}

// replicationFactor is the replica count of a topic's first partition.
func replicationFactor(t *cluster.Topic) int16 {
	if len(t.Partitions) == 0 {
		return 0
	}
	return int16(len(t.Partitions[0].Replicas))
}
