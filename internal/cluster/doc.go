// Package cluster is spotstream's coordination layer: everything the brokers
// share lives in etcd, and this package is the only code that reads or
// writes it. etcd plays the role ZooKeeper plays for Apache Kafka; the
// consensus is etcd's, never ours.
//
// It is etcd's client side only: package etcdmember runs the embedded
// members, and package quorum decides where they run. It has three parts:
//
//   - [Store] is the client side: broker registration ([Store.Register] and
//     [Session]), topic and partition state, the producer id allocator. It
//     works the same against embedded members and an external etcd cluster.
//   - [Cache] follows the namespace with one watch and publishes immutable
//     [Snapshot] values, which the request handlers and the replica manager
//     read without touching etcd.
//   - [ReadMeta], [WriteMeta] and [CheckMeta] keep meta.properties in each
//     log directory, so that a volume remembers its broker id and cluster.
//
// # Key layout
//
// All keys live under "/<namespace>/" (namespace "spotstream" by default; a
// namespace is [A-Za-z0-9._-]+, so one namespace is never a prefix of
// another's keys). Every value is JSON, so `etcdctl get --prefix /spotstream/`
// is readable. Integers in keys are decimal without padding.
//
//	cluster/id                {"id":"<22-char base64url>"}
//	    The cluster id, created once by the first broker (create revision ==
//	    0) and never changed: 16 random bytes in base64url without padding,
//	    like Kafka's cluster ids. Never starts with '-'.
//
//	brokers/<id>              {"id":1,"host":"10.0.0.7","port":9092,
//	                           "rack":"us-east-1a","capacity":"spot",
//	                           "state":"running","directories":["<22 chars>"],
//	                           "quorum":{"peerURLs":["http://10.0.0.7:2380"],
//	                           "clientURLs":["http://10.0.0.7:2379"],
//	                           "member":"8e9e05c52164694d"},
//	                           "incarnation":"<22 chars>","epoch":812}
//	    A live broker, bound to the broker's lease (TTL from
//	    broker.session.timeout.ms): a broker that dies disappears on its own.
//	    state is "starting", "running", "draining" (drain, "leadership"
//	    or "full", says how far) or "stopping". directories are the
//	    directory ids of its log directories (directory.id in their
//	    meta.properties). quorum, present when the broker can run a member
//	    of the embedded etcd cluster, says where that member serves and
//	    which member (hex id) it runs ("" for none; package quorum
//	    updates it). incarnation is random per process. epoch grows
//	    with every registration of the id (it is the store revision observed
//	    just before registering, plus one), so it tells a restarted broker
//	    from its predecessor, like Kafka's broker epoch.
//
//	broker-ids/<id>           {"rack":"us-east-1a","directories":["<22 chars>"]}
//	    The rack and log directories of the id's latest registration,
//	    written in the transaction that creates brokers/<id> and never bound
//	    to a lease: it outlives the broker. Register reads it to claim ids
//	    (see [Store.Register]): a broker without broker.id reuses the lowest
//	    id above the reserved maximum that is not live and was last held in
//	    its rack, else takes the lowest id above the maximum that has neither
//	    a registration nor a record. A claim compares the create revision of
//	    brokers/<id> (0) and the mod revision of broker-ids/<id> as read (or
//	    its create revision, 0, for a new id). Snapshots ignore these keys.
//
//	topics/<name>             {"id":"<22-char base64url>","partitions":6,
//	                           "configs":{"retention.ms":"3600000"}}
//	    A topic: its id (16 random bytes, never all zero, in base64url) and
//	    its partition count. Topic names follow Kafka's rules, so they never
//	    contain '/'.
//
//	partitions/<topic>/<n>    {"replicas":[1,2,3],"leader":1,"leaderEpoch":4,
//	                           "isr":[1,2],"partitionEpoch":9,"elr":[3],
//	                           "dirs":{"1":"<22 chars>","2":"<22 chars>"},
//	                           "adding":[4],"removing":[3]}
//	    The state of partition n, 0 <= n < partitions. leader is -1 when the
//	    partition has none. elr are the eligible leader replicas, and dirs
//	    the directory of the copy each ISR and ELR member stands for (see
//	    isr.go for their rules); both are omitted when empty. adding and
//	    removing describe an ongoing reassignment and are omitted when
//	    empty. partitionEpoch grows with every change
//	    ([Store.UpdatePartition] bumps it).
//
//	quorum/joins/<id>         {"member":"8e9e05c52164694d","name":"broker-4-8e9e…",
//	                           "initialCluster":"m1=http://…,broker-4-8e9e…=http://…"}
//	    The controller's request to broker id to start the etcd member it
//	    added for it as a learner ([Store.PutQuorumJoin]); deleted once the
//	    member is promoted or removed. Snapshots ignore these keys.
//
//	producer-ids              {"next":4000}
//	    The first producer id not yet handed out; brokers take blocks with
//	    a compare-and-swap ([Store.AllocateProducerIDs]).
//
//	configs/brokers/<id>      {"configs":{"min.insync.replicas":"2"}}
//	configs/brokers/default   {"configs":{"unclean.leader.election.enable":"true"}}
//	    Dynamic broker configs (Kafka's AlterConfigs on a broker resource):
//	    one broker's, and the cluster-wide default layer. Values are strings
//	    as in server.properties, validated by the writer; a key is deleted
//	    when its last config is ([Store.UpdateBrokerConfigs]). Snapshots
//	    carry them in [Snapshot.DynamicBrokerConfigs].
//
//	controller/<lease>        {"id":2}
//	    A candidate of the controller election (concurrency.Election keys,
//	    one per candidate, under the candidate broker's lease, value from
//	    [ControllerValue]). The candidate with the lowest create revision
//	    is the controller: [Snapshot.ControllerID] is its broker id, and
//	    [Snapshot.ControllerEpoch] that create revision.
//
// # Writes
//
// Every write of shared state is a transaction that compares the mod
// revision of what the writer read (or create revision == 0 for a key that
// must not exist yet). A writer that loses a race re-reads and tries again,
// or reports a sentinel error ([ErrTopicExists], ...). A broker's own
// registration is guarded by its lease instead: only the lease holder may
// rewrite it.
//
// A topic with more partitions than one transaction may hold (external
// etcd's default is 128 operations, see [WithMaxTxnOps]) is written in
// several transactions: the first creates the topic key and as many
// partitions as fit, the next ones add the rest. Readers treat a partition
// whose key does not exist yet as not available (Kafka's
// LEADER_NOT_AVAILABLE). A creator that dies between transactions leaves
// such partitions behind; the controller fills them in.
//
// # Concurrency
//
// A [Store] is safe for concurrent use; it holds no mutable state besides
// the etcd client. A [Session] owns two goroutines (lease keepalive,
// registration watch), started by Register and stopped by [Session.Close]
// or by the loss of the lease. A [Cache] runs on the caller's goroutine
// ([Cache.Run]); readers load its snapshot through an atomic pointer and
// never block it. Locks: Session.mu and Cache.mu guard a few fields and are
// never held across a call; Session.writeMu serializes SetState and is held
// across its etcd transaction, with nothing else locked under it. No lock
// is held while calling caller code (UpdatePartition's fn and the like), so
// there is no lock order to respect.
package cluster
