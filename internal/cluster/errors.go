package cluster

import "errors"

// Sentinel errors. Functions wrap them with details (%w), so test them with
// errors.Is. The handlers translate them to Kafka error codes; the mapping
// noted on each is the intended one.
var (
	// ErrTopicExists: the topic already exists (TOPIC_ALREADY_EXISTS).
	ErrTopicExists = errors.New("cluster: topic already exists")

	// ErrUnknownTopic: no such topic (UNKNOWN_TOPIC_OR_PARTITION, or
	// UNKNOWN_TOPIC_ID for requests by id).
	ErrUnknownTopic = errors.New("cluster: unknown topic")

	// ErrUnknownPartition: the topic exists, the partition does not, or its
	// state has not been written yet (UNKNOWN_TOPIC_OR_PARTITION).
	ErrUnknownPartition = errors.New("cluster: unknown partition")

	// ErrInvalidTopic: the name breaks Kafka's topic name rules
	// (INVALID_TOPIC_EXCEPTION).
	ErrInvalidTopic = errors.New("cluster: invalid topic name")

	// ErrInvalidPartitions: a partition count or partition list that cannot
	// be applied, for example a CreatePartitions computed against a stale
	// partition count (INVALID_PARTITIONS).
	ErrInvalidPartitions = errors.New("cluster: invalid partitions")

	// ErrBrokerIDInUse: another live lease holds the broker id, in a
	// registration that may be this broker's own earlier process (it
	// shares a log directory with us, or records none). The broker may wait
	// for that lease to expire and register again.
	ErrBrokerIDInUse = errors.New("cluster: broker id in use")

	// ErrBrokerIDConflict: another live broker holds the broker id on log
	// directories none of which are ours. Two brokers are configured with
	// one id (or a replacement took over this directory's id): waiting
	// would not help, and the broker must not start.
	ErrBrokerIDConflict = errors.New("cluster: broker id held by another broker")

	// ErrClusterMismatch: a log directory belongs to another cluster (Kafka's
	// InconsistentClusterIdException). Starting would mix two clusters' data.
	ErrClusterMismatch = errors.New("cluster: cluster id mismatch")

	// ErrBrokerIDMismatch: log directories, or a directory and the
	// configuration, disagree about the broker id (Kafka's
	// InconsistentBrokerIdException).
	ErrBrokerIDMismatch = errors.New("cluster: broker id mismatch")

	// ErrSessionLost: the broker's lease expired, was revoked, or could not
	// be renewed in time. The broker must stop acting as a member of the
	// cluster (stop leading partitions) until it registers again.
	ErrSessionLost = errors.New("cluster: session lost")

	// ErrSessionClosed: the session was closed by its owner.
	ErrSessionClosed = errors.New("cluster: session closed")

	// ErrConditionFailed: a write's extra conditions did not hold
	// ([Store.UpdatePartitionIf]); for the controller, it has been deposed.
	ErrConditionFailed = errors.New("cluster: write condition failed")

	// ErrStale: a batched write found a partition changed since the state
	// it was decided from ([Store.WritePartitions]); nothing was written.
	ErrStale = errors.New("cluster: partition state changed since it was read")

	// ErrMalformed: a value in etcd that this version cannot decode.
	ErrMalformed = errors.New("cluster: malformed value")
)
