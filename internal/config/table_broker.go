package config

const (
	maxInt  = "2147483647"
	maxLong = "9223372036854775807"
)

// Group names, in documentation order.
const (
	groupIdentity    = "Identity and placement"
	groupListeners   = "Listeners"
	groupStorage     = "Log storage"
	groupRetention   = "Retention"
	groupDurability  = "Durability"
	groupRecords     = "Records"
	groupTopics      = "Topic defaults"
	groupReplication = "Replication"
	groupMembership  = "Cluster membership"
	groupNetwork     = "Network"
	groupGroups      = "Consumer groups and offsets"
	groupProducers   = "Producers and transactions"
	groupCoordinator = "Coordination (etcd)"
	groupMonitoring  = "Monitoring"
)

var groupOrder = []string{
	groupIdentity, groupListeners, groupStorage, groupRetention, groupDurability,
	groupRecords, groupTopics, groupReplication, groupMembership, groupNetwork,
	groupGroups, groupProducers, groupCoordinator, groupMonitoring,
}

// Synonym groups of broker keys, highest precedence first.
var (
	rollSynonyms      = []string{"log.roll.ms", "log.roll.hours"}
	retentionSynonyms = []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	flushMsSynonyms   = []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
)

// brokerKeys is the table of broker keys. Keep docs short, in our own words,
// and written for operators.
var brokerKeys = []Key{
	// Identity and placement.
	{Name: "broker.id", Type: Int, Default: "-1", rule: atLeast(-1), group: groupIdentity,
		Doc: "Unique id of this broker in the cluster, at most reserved.broker.max.id. -1 claims an id above reserved.broker.max.id from the coordinator on first start: the lowest id whose last broker was in the same broker.rack and is gone (a replacement takes over a dead broker's replicas), else a new one. The id is recorded in meta.properties in the log directories, so an instance that mounts the same volume comes back as the same broker."},
	{Name: "node.id", Type: Int, Default: "-1", rule: atLeast(-1), group: groupIdentity,
		Doc: "Kafka's KRaft name for broker.id, accepted as an alias. If both are set they must be equal."},
	{Name: "reserved.broker.max.id", Type: Int, Default: "1000", rule: atLeast(0), group: groupIdentity,
		Doc: "The highest id broker.id may be set to. Brokers with broker.id=-1 claim ids above it, so configured and claimed ids never collide, whatever order brokers start in. Use the same value on every broker."},
	{Name: "broker.rack", Type: String, Null: true, group: groupIdentity,
		Doc: "The failure domain of this broker, normally its availability zone. Replicas of a partition are spread over as many racks as possible (see the placement rules in docs/architecture.md)."},
	{Name: "broker.capacity", Type: String, Default: "", Ours: true, rule: oneOf("", CapacityOnDemand, CapacitySpot), group: groupIdentity,
		Doc: "The kind of machine this broker runs on: on-demand or spot. Empty means unknown. Set from the instance metadata service when cloud.provider is set. Every partition keeps a replica on on-demand capacity whenever the cluster has any, and the embedded etcd quorum prefers on-demand brokers."},
	{Name: "cloud.provider", Type: String, Default: "", Ours: true, rule: oneOf("", "aws"), group: groupIdentity,
		Doc: "Where the broker learns about the machine it runs on. aws: from the EC2 instance metadata service (IMDSv2) at cloud.metadata.endpoint, its availability zone becomes broker.rack and its life cycle (spot or on-demand) broker.capacity, unless those are set. Empty: nothing is contacted. A metadata service that does not answer is logged and the broker starts without it."},
	{Name: "cloud.metadata.endpoint", Type: String, Default: "http://169.254.169.254", Ours: true, group: groupIdentity,
		rule: describedAs("http://host[:port]"),
		Doc:  "Address of the instance metadata service read when cloud.provider is set. Only tests and unusual networks change it."},

	// Listeners.
	{Name: "listeners", Type: List, Default: "PLAINTEXT://127.0.0.1:9092", KafkaDefault: "PLAINTEXT://:9092", group: groupListeners,
		rule: describedAs("comma-separated NAME://host:port; an empty host means all interfaces, port 0 an ephemeral port"),
		Doc:  "The addresses this broker accepts Kafka connections on. spotstream listens on loopback by default so that a broker started without configuration is not exposed; use an empty host (PLAINTEXT://:9092) for all interfaces."},
	{Name: "advertised.listeners", Type: List, Null: true, group: groupListeners,
		rule: describedAs("comma-separated NAME://host:port, names taken from listeners"),
		Doc:  "The addresses published to clients and other brokers, when they differ from listeners (NAT, containers). Unset means listeners. A listener with an empty host is advertised under the machine's host name; 0.0.0.0 and :: cannot be advertised."},
	{Name: "listener.security.protocol.map", Type: String, Default: "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", group: groupListeners,
		rule: describedAs("comma-separated NAME:PROTOCOL"),
		Doc:  "The security protocol of each listener name. Only PLAINTEXT is supported for now: a listener mapped to SSL, SASL_PLAINTEXT or SASL_SSL is an error."},
	{Name: "inter.broker.listener.name", Type: String, Null: true, group: groupListeners,
		Doc: "The listener other brokers use to reach this one. Unset means the listener named by security.inter.broker.protocol (PLAINTEXT) or, if there is only one listener, that one."},
	{Name: "security.inter.broker.protocol", Type: String, Default: "PLAINTEXT", rule: oneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"), group: groupListeners,
		Doc: "Kafka's older way to choose the inter-broker listener, by protocol. Do not set it together with inter.broker.listener.name."},
	{Name: "controller.listener.names", Type: List, Null: true, group: groupListeners,
		Doc: "Listener names that Kafka reserves for its KRaft controllers. spotstream has no KRaft controllers and does not open these listeners, so a Kafka combined-mode server.properties works unchanged."},

	// Log storage.
	{Name: "log.dirs", Type: List, Null: true, group: groupStorage,
		Doc: "The directories that hold partition data, comma-separated. Unset means log.dir. Relative paths are relative to the broker's working directory."},
	{Name: "log.dir", Type: String, Default: "./spotstream-data", KafkaDefault: "/tmp/kafka-logs", group: groupStorage,
		Doc: "The data directory used when log.dirs is not set; relative to the working directory."},
	{Name: "log.segment.bytes", Type: Int, Default: "1073741824", rule: atLeast(1024), group: groupStorage,
		Doc: "Size at which a partition's active segment is closed and a new one started. Kafka's lower bound is higher (1 MiB since Kafka 4.0); spotstream accepts 1024 so that tests can roll small segments."},
	{Name: "log.roll.ms", Type: Long, Null: true, rule: atLeast(1), Synonyms: rollSynonyms, group: groupStorage,
		Doc: "Age after which the active segment is rolled even if not full. Unset means log.roll.hours."},
	{Name: "log.roll.hours", Type: Int, Default: "168", rule: atLeast(1), Synonyms: rollSynonyms, unitMs: 3600000, group: groupStorage,
		Doc: "log.roll.ms in hours; used when log.roll.ms is not set."},
	{Name: "log.index.interval.bytes", Type: Int, Default: "4096", rule: atLeast(0), group: groupStorage,
		Doc: "How many bytes of batches are appended between two entries of the sparse offset and time indexes."},
	{Name: "log.preallocate", Type: Boolean, Default: "true", KafkaDefault: "false", group: groupStorage,
		Doc: "Allocate each new segment file at its full size when it is created. On by default, unlike Kafka, because syncing a preallocated file is cheaper than syncing a growing one (see Durability)."},

	// Retention.
	{Name: "log.retention.ms", Type: Long, Null: true, rule: atLeast(-1), Synonyms: retentionSynonyms, group: groupRetention,
		Doc: "How long a closed segment is kept before deletion, judged by its newest record. -1 keeps data forever. Unset means log.retention.minutes, then log.retention.hours."},
	{Name: "log.retention.minutes", Type: Int, Null: true, rule: atLeast(-1), Synonyms: retentionSynonyms, unitMs: 60000, group: groupRetention,
		Doc: "log.retention.ms in minutes; used when log.retention.ms is not set."},
	{Name: "log.retention.hours", Type: Int, Default: "168", rule: atLeast(-1), Synonyms: retentionSynonyms, unitMs: 3600000, group: groupRetention,
		Doc: "log.retention.ms in hours; used when neither log.retention.ms nor log.retention.minutes is set."},
	{Name: "log.retention.bytes", Type: Long, Default: "-1", rule: atLeast(-1), group: groupRetention,
		Doc: "Largest size a partition may reach before its oldest segments are deleted. -1 means no size limit."},
	{Name: "log.retention.check.interval.ms", Type: Long, Default: "300000", rule: atLeast(1), group: groupRetention,
		Doc: "How often segments are checked for deletion."},
	{Name: "log.cleanup.policy", Type: List, Default: "delete", rule: oneOf("delete", "compact"), group: groupRetention,
		Doc: "What happens to old segments: delete removes them by retention.ms and retention.bytes; compact keeps the newest record of each key. Both may be listed."},

	// Durability.
	{Name: "log.flush.on.ack", Type: Boolean, Default: "true", Ours: true, group: groupDurability,
		Doc: "true: produce requests with acks=1 or acks=all are answered only after their batches are on disk (group-committed fdatasync). false: Kafka's behaviour, where acknowledged data may still be only in memory and durability comes from replication and the log.flush.interval keys."},
	{Name: "log.flush.interval.messages", Type: Long, Default: maxLong, rule: atLeast(1), group: groupDurability,
		Doc: "Force a sync of a partition after this many records have been appended to it since the last one."},
	{Name: "log.flush.interval.ms", Type: Long, Null: true, rule: atLeast(0), Synonyms: flushMsSynonyms, group: groupDurability,
		Doc: "Force a sync of a partition when its oldest unsynced record is this old. Unset means log.flush.scheduler.interval.ms."},
	{Name: "log.flush.scheduler.interval.ms", Type: Long, Default: maxLong, rule: atLeast(1), Synonyms: flushMsSynonyms, group: groupDurability,
		Doc: "How often partitions are checked against log.flush.interval.ms, and that interval's value when it is unset."},

	// Records.
	{Name: "message.max.bytes", Type: Int, Default: "1048588", rule: atLeast(0), group: groupRecords,
		Doc: "Largest record batch a producer may send, in bytes after compression."},
	{Name: "compression.type", Type: String, Default: "producer", rule: oneOf("producer"), group: groupRecords,
		Doc: "Only producer is accepted: batches are stored exactly as the producer compressed them. Kafka's other values (uncompressed, gzip, snappy, lz4, zstd) would require recompressing batches, which spotstream never does."},
	{Name: "log.message.timestamp.type", Type: String, Default: "CreateTime", rule: oneOf("CreateTime", "LogAppendTime"), group: groupRecords,
		Doc: "CreateTime keeps the timestamps the producer set; LogAppendTime replaces them with the broker's clock when the batch is appended."},
	{Name: "log.message.timestamp.before.max.ms", Type: Long, Default: maxLong, rule: atLeast(0), group: groupRecords,
		Doc: "With CreateTime, reject a batch whose timestamp is more than this far behind the broker's clock."},
	{Name: "log.message.timestamp.after.max.ms", Type: Long, Default: "3600000", rule: atLeast(0), group: groupRecords,
		Doc: "With CreateTime, reject a batch whose timestamp is more than this far ahead of the broker's clock."},

	// Topic defaults.
	{Name: "num.partitions", Type: Int, Default: "1", rule: atLeast(1), group: groupTopics,
		Doc: "Partition count of topics created without one, including automatically created topics."},
	{Name: "default.replication.factor", Type: Int, Default: "1", rule: between(1, 32767), group: groupTopics,
		Doc: "Replication factor of topics created without one, including automatically created topics."},
	{Name: "auto.create.topics.enable", Type: Boolean, Default: "true", group: groupTopics,
		Doc: "Create a topic when a client asks for metadata of, or produces to, a topic that does not exist."},
	{Name: "delete.topic.enable", Type: Boolean, Default: "true", group: groupTopics,
		Doc: "Allow DeleteTopics. When false, deleting a topic fails."},
	{Name: "min.insync.replicas", Type: Int, Default: "1", rule: atLeast(1), group: groupTopics,
		Doc: "Smallest in-sync replica set with which an acks=all write is accepted; below it, producers get NOT_ENOUGH_REPLICAS. With replication factor 3, 2 survives the loss of one replica without losing acknowledged data."},
	{Name: "unclean.leader.election.enable", Type: Boolean, Default: "false", group: groupTopics,
		Doc: "Let a replica that is not in sync become leader when no in-sync replica is alive. This restores availability at the price of losing acknowledged records."},

	// Replication.
	{Name: "replica.lag.time.max.ms", Type: Long, Default: "30000", rule: atLeast(1), group: groupReplication,
		Doc: "A follower that has not caught up with the leader's log end for this long is removed from the in-sync replicas."},
	{Name: "replica.fetch.max.bytes", Type: Int, Default: "1048576", rule: atLeast(0), group: groupReplication,
		Doc: "How many bytes a follower asks for per partition in one fetch. A larger first batch is still returned whole."},
	{Name: "replica.fetch.response.max.bytes", Type: Int, Default: "10485760", rule: atLeast(0), group: groupReplication,
		Doc: "How many bytes a follower asks for in one fetch, over all partitions."},
	{Name: "replica.fetch.wait.max.ms", Type: Int, Default: "500", rule: atLeast(0), group: groupReplication,
		Doc: "How long the leader may hold a follower's fetch waiting for data. Must not exceed replica.lag.time.max.ms."},
	{Name: "replica.fetch.min.bytes", Type: Int, Default: "1", rule: atLeast(0), group: groupReplication,
		Doc: "How many bytes the leader waits for before answering a follower's fetch early."},

	// Cluster membership.
	{Name: "broker.session.timeout.ms", Type: Int, Default: "9000", rule: atLeast(1000), group: groupMembership,
		Doc: "How long the cluster keeps a broker that stopped heartbeating before treating it as dead. It is the TTL of the broker's etcd lease, rounded up to whole seconds."},
	{Name: "broker.heartbeat.interval.ms", Type: Int, Default: "2000", rule: atLeast(1), group: groupMembership,
		Doc: "How often the broker renews its lease. Must be less than broker.session.timeout.ms."},
	{Name: "controlled.shutdown.enable", Type: Boolean, Default: "true", group: groupMembership,
		Doc: "On shutdown (SIGTERM), move partition leadership to other brokers and leave every ISR before stopping, so clients see at most NOT_LEADER errors and acks=all producers never wait for a stopped broker."},
	{Name: "broker.replacement.grace.ms", Type: Int, Default: "600000", rule: atLeast(0), Ours: true, group: groupMembership,
		Doc: "How long a dead broker keeps its replicas before the controller copies them onto live brokers. The broker leaves every ISR at once (acks=all never waits for it); the grace only spares a full copy when a replacement comes back with the same id and volume, which on spot capacity takes a few minutes. Ten minutes covers an instance replacement by an auto scaling group with room to spare, while a second loss in that window is still unlikely; 0 re-replicates at once."},
	{Name: "auto.leader.rebalance.enable", Type: Boolean, Default: "true", group: groupMembership,
		Doc: "Move leadership back to each partition's preferred replica (its first) when a broker leads too few of the partitions it is preferred for, as Kafka does. Checked every leader.imbalance.check.interval.seconds, only while no broker is dead or drained."},
	{Name: "leader.imbalance.per.broker.percentage", Type: Int, Default: "10", rule: atLeast(0), group: groupMembership,
		Doc: "The share of a broker's preferred leaderships that others may hold before the automatic rebalance gives them back."},
	{Name: "leader.imbalance.check.interval.seconds", Type: Int, Default: "300", rule: atLeast(1), group: groupMembership,
		Doc: "How often the controller checks the leader imbalance (auto.leader.rebalance.enable)."},
	{Name: "placement.repair.max.moves", Type: Int, Default: "50", rule: atLeast(0), Ours: true, group: groupMembership,
		Doc: "How many partition reassignments the controller's placement repair (re-replication after broker.replacement.grace.ms, zone and capacity rules, balance) runs at once, counting reassignments started by hand. Bounds the copying that repair adds to client traffic; 0 turns repair off."},
	{Name: "broker.drain", Type: String, Default: "", Ours: true, rule: oneOf("", "none", "leadership", "full"), group: groupMembership,
		Doc: "Dynamic, per broker only: drains the broker while it keeps running (spotstream broker drain). leadership moves its partition leaderships to other in-sync replicas and gives it no new ones; full also gives it no new replicas and adds a temporary replica wherever its loss would leave fewer live replicas than min.insync.replicas. It stays in the ISRs while alive. Survives restarts until cleared (spotstream broker undrain)."},
	{Name: "cloud.rebalance.recommendation.action", Type: String, Default: "drain-leadership", Ours: true, rule: oneOf("drain-leadership", "drain", "ignore"), group: groupMembership,
		Doc: "What a rebalance recommendation from the instance metadata service (cloud.provider) does: drain-leadership moves leadership away only (the instance is at risk, not yet leaving), drain drains fully as an interruption notice does, ignore logs it. An interruption notice always drains fully."},

	// Network.
	{Name: "socket.request.max.bytes", Type: Int, Default: "104857600", rule: atLeast(1), group: groupNetwork,
		Doc: "Largest request the broker reads; a connection sending a larger one is closed."},
	{Name: "socket.send.buffer.bytes", Type: Int, Default: "102400", rule: minusOneOrAtLeast(1), group: groupNetwork,
		Doc: "SO_SNDBUF of client connections; -1 keeps the operating system's default."},
	{Name: "socket.receive.buffer.bytes", Type: Int, Default: "102400", rule: minusOneOrAtLeast(1), group: groupNetwork,
		Doc: "SO_RCVBUF of client connections; -1 keeps the operating system's default."},
	{Name: "max.connections", Type: Int, Default: maxInt, rule: atLeast(0), group: groupNetwork,
		Doc: "Most client connections accepted at once; further ones wait until a connection closes."},
	{Name: "connections.max.idle.ms", Type: Long, Default: "600000", rule: atLeast(-1), group: groupNetwork,
		Doc: "Close connections that have been idle this long; -1 never closes them."},

	// Consumer groups and offsets.
	{Name: "offsets.topic.num.partitions", Type: Int, Default: "50", rule: atLeast(1), group: groupGroups,
		Doc: "Partition count of __consumer_offsets. It cannot change once the topic exists."},
	{Name: "offsets.topic.replication.factor", Type: Short, Default: "3", rule: atLeast(1), group: groupGroups,
		Doc: "Replication factor of __consumer_offsets. As in Kafka, the topic is not created until this many brokers are alive (FindCoordinator answers COORDINATOR_NOT_AVAILABLE meanwhile). Unset on a broker running its own single-member etcd (no coordinator.endpoints, no coordinator.initial.cluster), it is 1: that cluster has one broker by construction."},
	{Name: "offsets.retention.minutes", Type: Int, Default: "10080", rule: atLeast(1), group: groupGroups,
		Doc: "How long the committed offsets of an empty group are kept."},
	{Name: "offsets.retention.check.interval.ms", Type: Long, Default: "600000", rule: atLeast(1), group: groupGroups,
		Doc: "How often expired offsets are looked for."},
	{Name: "group.initial.rebalance.delay.ms", Type: Int, Default: "3000", rule: atLeast(0), group: groupGroups,
		Doc: "How long the first rebalance of a new group waits for more members to join."},
	{Name: "group.min.session.timeout.ms", Type: Int, Default: "6000", rule: atLeast(0), group: groupGroups,
		Doc: "Smallest session timeout a consumer may ask for."},
	{Name: "group.max.session.timeout.ms", Type: Int, Default: "1800000", rule: atLeast(0), group: groupGroups,
		Doc: "Largest session timeout a consumer may ask for."},
	{Name: "group.max.size", Type: Int, Default: maxInt, rule: atLeast(1), group: groupGroups,
		Doc: "Most members one consumer group may have."},

	// Producers and transactions.
	{Name: "producer.id.expiration.ms", Type: Int, Default: "86400000", rule: atLeast(1), group: groupProducers,
		Doc: "How long the idempotence state of a producer id is kept after its last write."},
	{Name: "transactional.id.expiration.ms", Type: Int, Default: "604800000", rule: atLeast(1), group: groupProducers,
		Doc: "How long a transactional id is kept after its last transaction."},

	// Coordination.
	{Name: "coordinator.endpoints", Type: List, Default: "", Ours: true, group: groupCoordinator,
		rule: describedAs("comma-separated http://host:port or unix:///absolute/path"),
		Doc:  "Client URLs of the etcd cluster: an external one, or the embedded members of other brokers (any one live member suffices; the client follows the membership). Empty runs an etcd member inside this broker instead (the coordinator.* keys below describe it). With coordinator.listen.peer.urls also set, the broker runs no member at first but may host one: the controller adds a member here when the embedded quorum needs one."},
	{Name: "coordinator.namespace", Type: String, Default: "spotstream", Ours: true, group: groupCoordinator,
		rule: describedAs("letters, digits, '.', '_' and '-'"),
		Doc:  "Every etcd key of this cluster lives under /<namespace>/, so several clusters can share one etcd with different namespaces."},
	{Name: "coordinator.dir", Type: String, Null: true, Ours: true, group: groupCoordinator,
		Doc: "Data directory of the embedded etcd member. Unset means the directory coordinator inside the first log directory."},
	{Name: "coordinator.name", Type: String, Null: true, Ours: true, group: groupCoordinator,
		rule: describedAs("letters, digits, '.', '_' and '-'"),
		Doc:  "Name of the embedded etcd member. Unset means spotstream-<broker.id>, or the host name when broker.id is -1."},
	{Name: "coordinator.listen.client.urls", Type: List, Null: true, Ours: true, group: groupCoordinator,
		rule: describedAs("comma-separated http://ip:port or unix:///absolute/path"),
		Doc:  "Where the embedded member serves etcd clients. Unset means a unix socket in coordinator.dir (or in a private temporary directory when that path is too long for a socket), so brokers on one machine never compete for a port. A TCP address must be one clients can reach, not 0.0.0.0."},
	{Name: "coordinator.listen.peer.urls", Type: List, Null: true, Ours: true, group: groupCoordinator,
		rule: describedAs("comma-separated http://ip:port; unix:///absolute/path for a single member"),
		Doc:  "Where the embedded member talks to the other members. Unset means this member's URLs in coordinator.initial.cluster, or for a single member a unix socket beside the client socket. Set together with coordinator.endpoints (and coordinator.listen.client.urls), it makes the broker able to host a member of the embedded quorum when the controller asks."},
	{Name: "coordinator.initial.cluster", Type: List, Default: "", Ours: true, group: groupCoordinator,
		rule: describedAs("comma-separated name=http://host:port"),
		Doc:  "The members of a new embedded etcd cluster, as name=peerURL pairs including this member. Empty starts a single-member cluster. Only read when the member starts with an empty coordinator.dir."},
	{Name: "coordinator.initial.cluster.state", Type: String, Default: "new", Ours: true, rule: oneOf("new", "existing"), group: groupCoordinator,
		Doc: "new bootstraps the cluster in coordinator.initial.cluster; existing joins a running cluster to which this member was added with etcdctl member add."},
	{Name: "coordinator.quorum.replace.grace.ms", Type: Int, Default: "60000", rule: atLeast(0), Ours: true, group: groupCoordinator,
		Doc: "How long a member of the embedded etcd quorum may run on no live broker before the controller removes it and adds a member on another broker that can host one. Long enough to ride out a broker's restart (a member that is removed meanwhile clears its data and rejoins as a new member), short enough that a reclaimed spot broker's member is replaced before another loss could stop the quorum."},
	{Name: "coordinator.dial.timeout.ms", Type: Int, Default: "5000", rule: atLeast(1), Ours: true, group: groupCoordinator,
		Doc: "How long to wait for a connection to etcd."},
	{Name: "coordinator.request.timeout.ms", Type: Int, Default: "5000", rule: atLeast(1), Ours: true, group: groupCoordinator,
		Doc: "How long one etcd request may take before it fails."},

	// Monitoring.
	{Name: "metrics.listener", Type: String, Default: "", Ours: true, group: groupMonitoring,
		rule: describedAs("host:port, or empty"),
		Doc:  "Address of an HTTP listener serving Prometheus metrics on /metrics and Go profiles on /debug/pprof/, for example 127.0.0.1:9644. Empty disables it; bind it to a private address."},
}

// Capacity types accepted by broker.capacity.
const (
	CapacityOnDemand = "on-demand"
	CapacitySpot     = "spot"
)
