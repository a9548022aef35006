package broker

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/placement"
)

// maxTopicNameLength is Kafka's limit: the partition directory name
// (topic, '-', partition, and a suffix used for deletion) must fit in 255.
const maxTopicNameLength = 249

// validTopicName applies Kafka's topic naming rules.
func validTopicName(name string) error {
	switch {
	case name == "":
		return kerrf(kerr.InvalidTopicException, "topic name is empty")
	case name == "." || name == "..":
		return kerrf(kerr.InvalidTopicException, "topic name cannot be %q", name)
	case len(name) > maxTopicNameLength:
		return kerrf(kerr.InvalidTopicException, "topic name is %d characters, more than %d", len(name), maxTopicNameLength)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return kerrf(kerr.InvalidTopicException, "topic name %q contains %q; allowed are ASCII letters, digits, '.', '_' and '-'", name, c)
		}
	}
	return nil
}

// collisionName folds the characters that metric names cannot tell apart,
// as Kafka does: topics "a.b" and "a_b" cannot both exist.
func collisionName(name string) string { return strings.ReplaceAll(name, ".", "_") }

// topicRequest is a topic to create, from CreateTopics or auto-creation.
type topicRequest struct {
	name       string
	partitions int32 // -1 = num.partitions
	rf         int16 // -1 = default.replication.factor
	// assignment, when set, gives each partition's replicas explicitly.
	assignment [][]int32
	configs    map[string]string
}

// createTopic validates, places and creates a topic, then waits until this
// broker's replica manager has applied it, so that the caller's next request
// finds it. With validateOnly it stops before writing.
func (b *Broker) createTopic(ctx context.Context, tr topicRequest, validateOnly bool) (*cluster.Topic, error) {
	if err := validTopicName(tr.name); err != nil {
		return nil, err
	}
	snap := b.meta.Load()
	if snap.Topics[tr.name] != nil {
		return nil, kerrf(kerr.TopicAlreadyExists, "topic %q already exists", tr.name)
	}
	for name := range snap.Topics {
		if collisionName(name) == collisionName(tr.name) {
			return nil, kerrf(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are folded)", tr.name, name)
		}
	}
	if err := config.ValidateTopicConfigs(tr.configs); err != nil {
		return nil, err
	}

	assignment := tr.assignment
	if assignment == nil {
		n, rf := tr.partitions, tr.rf
		if n == -1 {
			n = b.cfg.NumPartitions
		}
		if rf == -1 {
			rf = b.cfg.DefaultReplicationFactor
		}
		if n <= 0 {
			return nil, kerrf(kerr.InvalidPartitions, "number of partitions must be positive, not %d", n)
		}
		if rf <= 0 {
			return nil, kerrf(kerr.InvalidReplicationFactor, "replication factor must be positive, not %d", rf)
		}
		var err error
		brokers, parts := controller.PlacementInput(snap)
		assignment, err = placement.Assign(brokers, parts, int(n), int(rf), mrand.Uint64())
		if err != nil {
			return nil, kerrf(kerr.InvalidReplicationFactor, "%v", err)
		}
	} else if err := validateAssignment(assignment, snap); err != nil {
		return nil, err
	}
	if validateOnly {
		t := &cluster.Topic{Name: tr.name, Configs: tr.configs}
		for _, replicas := range assignment {
			t.Partitions = append(t.Partitions, cluster.PartitionState{Replicas: replicas})
		}
		return t, nil
	}

	spec := cluster.TopicSpec{Name: tr.name, ID: newTopicID(), Configs: tr.configs}
	for _, replicas := range assignment {
		spec.Partitions = append(spec.Partitions, cluster.NewPartitionState(replicas, snap.Brokers))
	}
	rev, err := b.store.CreateTopic(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("creating topic %q: %w", tr.name, err)
	}
	b.log.Info("created topic", "topic", tr.name, "partitions", len(assignment), "replication_factor", len(assignment[0]))
	if err := b.replicas.WaitApplied(ctx, rev); err != nil {
		return nil, kerrf(kerr.RequestTimedOut, "topic %q created but not yet served: %v", tr.name, err)
	}
	return b.meta.Load().Topics[tr.name], nil
}

// validateAssignment checks an explicit replica assignment.
func validateAssignment(assignment [][]int32, snap *cluster.Snapshot) error {
	if len(assignment) == 0 {
		return kerrf(kerr.InvalidReplicaAssignment, "assignment has no partitions")
	}
	rf := len(assignment[0])
	for p, replicas := range assignment {
		if len(replicas) == 0 || len(replicas) != rf {
			return kerrf(kerr.InvalidReplicaAssignment, "partition %d has %d replicas; every partition needs the same non-zero number", p, len(replicas))
		}
		seen := make(map[int32]bool, len(replicas))
		for _, id := range replicas {
			if seen[id] {
				return kerrf(kerr.InvalidReplicaAssignment, "partition %d lists broker %d twice", p, id)
			}
			seen[id] = true
			if _, ok := snap.Brokers[id]; !ok {
				return kerrf(kerr.InvalidReplicaAssignment, "partition %d: broker %d is not registered", p, id)
			}
		}
	}
	return nil
}

// newTopicID returns a random topic id; Kafka reserves the all-zero id.
func newTopicID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		rand.Read(id[:])
	}
	return id
}

// leaderPartition returns the local leader replica of a partition, or the
// error a client should see: the topic or partition is unknown, or this
// broker does not lead it.
func (b *Broker) leaderPartition(topic string, index int32) (*partition.Partition, error) {
	if p := b.replicas.Get(partition.ID{Topic: topic, Partition: index}); p != nil {
		if _, leader := p.Leader(); leader {
			return p, nil
		}
		return nil, partition.ErrNotLeader
	}
	t := b.meta.Load().Topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition
	}
	return nil, partition.ErrNotLeader
}
