package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Broker is the validated configuration of one broker, in the types the
// broker uses. Build it with NewBroker or Load.
type Broker struct {
	// BrokerID is broker.id (or node.id), at most ReservedBrokerMaxID; -1
	// means: claim an id above ReservedBrokerMaxID from the coordinator and
	// record it in meta.properties.
	BrokerID int32
	// ReservedBrokerMaxID is reserved.broker.max.id: configured ids are at
	// most this, claimed ids above it.
	ReservedBrokerMaxID int32
	// LogDirs are the data directories (log.dirs, else log.dir), cleaned,
	// relative to the working directory when not absolute.
	LogDirs []string
	// Listeners are the addresses to bind, in configuration order.
	Listeners []Listener
	// AdvertisedListeners are published in broker registrations and
	// Metadata; see AdvertisedAddress for the host and port to publish.
	AdvertisedListeners []Listener
	// InterBrokerListener names the advertised listener followers fetch from.
	InterBrokerListener string
	// Rack is broker.rack, "" when unset.
	Rack string
	// Capacity is broker.capacity: CapacityOnDemand, CapacitySpot or "".
	Capacity string
	// CloudProvider is cloud.provider: "aws", or "" for none.
	CloudProvider string
	// CloudMetadataEndpoint is cloud.metadata.endpoint.
	CloudMetadataEndpoint string

	// Topic creation: num.partitions, default.replication.factor,
	// auto.create.topics.enable, delete.topic.enable.
	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	DeleteTopicEnable        bool

	// LogDefaults is the effective configuration of a topic without
	// overrides: every topic key resolved through its broker synonyms.
	LogDefaults TopicConfig

	// RetentionCheckInterval is log.retention.check.interval.ms.
	RetentionCheckInterval time.Duration
	// FlushSchedulerInterval is log.flush.scheduler.interval.ms; the
	// default (Long.MAX_VALUE ms) saturates to the largest Duration.
	FlushSchedulerInterval time.Duration
	// FlushOnAck: answer acks=1 and acks=all only after fdatasync.
	FlushOnAck bool

	// Network: socket.request.max.bytes, socket.*.buffer.bytes,
	// max.connections, connections.max.idle.ms.
	SocketRequestMaxBytes int32
	// SocketSendBufferBytes and SocketReceiveBufferBytes are -1 for the
	// operating system's default.
	SocketSendBufferBytes    int32
	SocketReceiveBufferBytes int32
	MaxConnections           int32
	// ConnectionsMaxIdle is negative when idle connections are never closed.
	ConnectionsMaxIdle time.Duration

	// Replication: replica.lag.time.max.ms and the replica.fetch.* keys.
	ReplicaLagTimeMax            time.Duration
	ReplicaFetchMaxBytes         int32
	ReplicaFetchResponseMaxBytes int32
	ReplicaFetchWaitMax          time.Duration
	ReplicaFetchMinBytes         int32

	// SessionTimeout is broker.session.timeout.ms, the etcd lease TTL.
	SessionTimeout time.Duration
	// HeartbeatInterval is broker.heartbeat.interval.ms, how often the
	// lease is renewed.
	HeartbeatInterval time.Duration
	// ControlledShutdown is controlled.shutdown.enable.
	ControlledShutdown bool
	// ReplacementGrace is broker.replacement.grace.ms.
	ReplacementGrace time.Duration
	// AutoLeaderRebalance is auto.leader.rebalance.enable, with
	// leader.imbalance.per.broker.percentage and
	// leader.imbalance.check.interval.seconds.
	AutoLeaderRebalance       bool
	LeaderImbalancePercentage int
	LeaderImbalanceInterval   time.Duration
	// RepairMaxMoves is placement.repair.max.moves.
	RepairMaxMoves int
	// RebalanceAction is cloud.rebalance.recommendation.action.
	RebalanceAction string

	// Groups and committed offsets: offsets.* and group.* keys.
	OffsetsTopicPartitions        int32
	OffsetsTopicReplicationFactor int16
	OffsetsRetention              time.Duration
	OffsetsRetentionCheckInterval time.Duration
	GroupInitialRebalanceDelay    time.Duration
	GroupMinSessionTimeout        time.Duration
	GroupMaxSessionTimeout        time.Duration
	GroupMaxSize                  int32

	// producer.id.expiration.ms and transactional.id.expiration.ms.
	ProducerIDExpiration      time.Duration
	TransactionalIDExpiration time.Duration

	// MetricsListener is host:port for the Prometheus endpoint, "" if off.
	MetricsListener string

	// Coordinator is how to reach etcd (the coordinator.* keys).
	Coordinator CoordinatorConfig

	set map[string]string // canonical values of the keys set explicitly

	// dyn is the dynamic broker configuration (dynamic.go), swapped as a
	// whole by SetDynamic while request handlers and the controller read it.
	dyn atomic.Pointer[dynamicLayer]
}

// NewBroker applies defaults to props (the merged file and overrides),
// validates every key and derives the effective values (log.roll.hours into
// milliseconds, log.dir when log.dirs is unset, the coordinator's defaults).
//
// Unknown keys and Kafka keys that spotstream ignores produce warnings, in
// key order; warnings are returned even with an error. Invalid values
// produce an error that joins one *Error per problem.
func NewBroker(props map[string]string) (*Broker, []string, error) {
	r := &resolver{vals: map[string]any{}, set: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		k, ok := brokerIndex[name]
		if !ok {
			r.warnings = append(r.warnings, unknownBrokerKeyWarning(name))
			continue
		}
		v, err := k.parse(props[name])
		if err != nil {
			r.fail(err)
			continue
		}
		r.vals[name] = v
		r.set[name] = format(v)
	}
	for _, k := range brokerKeys {
		if _, ok := r.vals[k.Name]; !ok && !k.Null {
			r.vals[k.Name] = k.mustParseDefault()
		}
	}
	if len(r.errs) > 0 {
		return nil, r.warnings, errors.Join(r.errs...)
	}

	b := &Broker{set: r.set}
	r.resolveIdentity(b)
	r.resolveListeners(b)
	r.resolveLogDefaults(b)
	r.resolveRest(b)
	r.resolveCoordinator(b)
	if !r.isSet("offsets.topic.replication.factor") && b.Coordinator.Embedded() && b.Coordinator.InitialCluster == "" {
		// A broker running its own single-member etcd is a cluster of one
		// by construction: Kafka's default of 3 would leave it without
		// consumer groups until an operator noticed.
		b.OffsetsTopicReplicationFactor = 1
	}
	if len(r.errs) > 0 {
		return nil, r.warnings, errors.Join(r.errs...)
	}
	return b, r.warnings, nil
}

func (r *resolver) resolveIdentity(b *Broker) {
	b.BrokerID = r.i32("broker.id")
	if r.isSet("node.id") {
		nodeID := r.i32("node.id")
		if r.isSet("broker.id") && nodeID != b.BrokerID {
			r.fail(invalid("node.id", r.format("node.id"), "differs from broker.id (%d); node.id is an alias, set one of them", b.BrokerID))
		}
		b.BrokerID = nodeID
	}
	b.ReservedBrokerMaxID = r.i32("reserved.broker.max.id")
	if b.BrokerID > b.ReservedBrokerMaxID {
		key := "broker.id"
		if r.isSet("node.id") {
			key = "node.id"
		}
		r.fail(invalid(key, r.format(key), "must not exceed reserved.broker.max.id (%d): ids above it are claimed by brokers with broker.id=-1", b.ReservedBrokerMaxID))
	}
	b.Rack = r.str("broker.rack")
	b.Capacity = r.str("broker.capacity")
	b.CloudProvider = r.str("cloud.provider")
	b.CloudMetadataEndpoint = r.str("cloud.metadata.endpoint")
	if u, err := url.Parse(b.CloudMetadataEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		r.fail(invalid("cloud.metadata.endpoint", b.CloudMetadataEndpoint, "expected http://host[:port]"))
	}

	dirsKey := "log.dirs"
	if !r.isSet("log.dirs") {
		dirsKey = "log.dir"
	}
	dirs := r.list("log.dirs")
	if dirsKey == "log.dir" { // a string in Kafka, but also split at commas
		dirs = nil
		for d := range strings.SplitSeq(r.str("log.dir"), ",") {
			if d = strings.TrimSpace(d); d != "" {
				dirs = append(dirs, d)
			}
		}
	}
	for _, d := range dirs {
		d = filepath.Clean(d)
		if slices.Contains(b.LogDirs, d) {
			r.fail(invalid(dirsKey, r.format(dirsKey), "directory %s is listed twice", d))
		}
		b.LogDirs = append(b.LogDirs, d)
	}
	if len(b.LogDirs) == 0 {
		r.fail(invalid(dirsKey, "", "at least one directory is required"))
	}
}

// resolveLogDefaults resolves every topic key through its broker synonyms.
func (r *resolver) resolveLogDefaults(b *Broker) {
	for _, tk := range topicKeys {
		v, from := r.synonymValue(tk)
		if tk.Name == "retention.ms" {
			n := v.(int64)
			if n == 0 {
				r.fail(invalid(from, r.format(from), "a retention of 0 ms would delete data as soon as it is written; use -1 for unlimited"))
			}
			if n < 0 {
				v = int64(-1) // as Kafka: any negative retention means unlimited
			}
		}
		b.LogDefaults.set(tk.Name, v)
	}
}

// synonymValue returns the value a topic key takes from its broker
// synonyms (the first one set, else the first one with a default),
// converted to milliseconds for keys in minutes or hours, and the name of
// the broker key that supplied it.
func (r *resolver) synonymValue(tk Key) (any, string) {
	pick := func(name string) any {
		v := r.vals[name]
		if unit := brokerIndex[name].unitMs; unit != 0 {
			v = v.(int64) * unit
		}
		return v
	}
	for _, name := range tk.Synonyms {
		if r.isSet(name) {
			return pick(name), name
		}
	}
	for _, name := range tk.Synonyms {
		if !r.null(name) {
			return pick(name), name
		}
	}
	panic("config: no default for topic key " + tk.Name)
}

func (r *resolver) resolveRest(b *Broker) {
	b.NumPartitions = r.i32("num.partitions")
	b.DefaultReplicationFactor = int16(r.i64("default.replication.factor"))
	b.AutoCreateTopics = r.boolean("auto.create.topics.enable")
	b.DeleteTopicEnable = r.boolean("delete.topic.enable")
	b.RetentionCheckInterval = r.millis("log.retention.check.interval.ms")
	b.FlushSchedulerInterval = r.millis("log.flush.scheduler.interval.ms")
	b.FlushOnAck = r.boolean("log.flush.on.ack")
	b.SocketRequestMaxBytes = r.i32("socket.request.max.bytes")
	b.SocketSendBufferBytes = r.i32("socket.send.buffer.bytes")
	b.SocketReceiveBufferBytes = r.i32("socket.receive.buffer.bytes")
	b.MaxConnections = r.i32("max.connections")
	b.ConnectionsMaxIdle = r.millis("connections.max.idle.ms")
	b.ReplicaLagTimeMax = r.millis("replica.lag.time.max.ms")
	b.ReplicaFetchMaxBytes = r.i32("replica.fetch.max.bytes")
	b.ReplicaFetchResponseMaxBytes = r.i32("replica.fetch.response.max.bytes")
	b.ReplicaFetchWaitMax = r.millis("replica.fetch.wait.max.ms")
	b.ReplicaFetchMinBytes = r.i32("replica.fetch.min.bytes")
	b.SessionTimeout = r.millis("broker.session.timeout.ms")
	b.ReplacementGrace = r.millis("broker.replacement.grace.ms")
	b.RebalanceAction = r.str("cloud.rebalance.recommendation.action")
	b.RepairMaxMoves = int(r.i32("placement.repair.max.moves"))
	b.AutoLeaderRebalance = r.boolean("auto.leader.rebalance.enable")
	b.LeaderImbalancePercentage = int(r.i32("leader.imbalance.per.broker.percentage"))
	b.LeaderImbalanceInterval = time.Duration(r.i64("leader.imbalance.check.interval.seconds")) * time.Second
	if r.isSet("broker.drain") {
		r.fail(invalid("broker.drain", r.str("broker.drain"), "a dynamic config of one broker: set it with spotstream broker drain (or AlterConfigs on the broker), not in server.properties"))
	}
	b.HeartbeatInterval = r.millis("broker.heartbeat.interval.ms")
	b.ControlledShutdown = r.boolean("controlled.shutdown.enable")
	b.OffsetsTopicPartitions = r.i32("offsets.topic.num.partitions")
	b.OffsetsTopicReplicationFactor = int16(r.i64("offsets.topic.replication.factor"))
	b.OffsetsRetention = time.Duration(r.i64("offsets.retention.minutes")) * time.Minute
	b.OffsetsRetentionCheckInterval = r.millis("offsets.retention.check.interval.ms")
	b.GroupInitialRebalanceDelay = r.millis("group.initial.rebalance.delay.ms")
	b.GroupMinSessionTimeout = r.millis("group.min.session.timeout.ms")
	b.GroupMaxSessionTimeout = r.millis("group.max.session.timeout.ms")
	b.GroupMaxSize = r.i32("group.max.size")
	b.ProducerIDExpiration = r.millis("producer.id.expiration.ms")
	b.TransactionalIDExpiration = r.millis("transactional.id.expiration.ms")

	b.MetricsListener = r.str("metrics.listener")
	if b.MetricsListener != "" {
		_, port, err := net.SplitHostPort(b.MetricsListener)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			r.fail(invalid("metrics.listener", b.MetricsListener, "expected host:port, such as 127.0.0.1:9644"))
		}
	}

	if b.HeartbeatInterval >= b.SessionTimeout {
		r.fail(invalid("broker.heartbeat.interval.ms", r.format("broker.heartbeat.interval.ms"),
			"must be less than broker.session.timeout.ms (%s)", r.format("broker.session.timeout.ms")))
	}
	if b.ReplicaFetchWaitMax > b.ReplicaLagTimeMax {
		r.fail(invalid("replica.fetch.wait.max.ms", r.format("replica.fetch.wait.max.ms"),
			"must not exceed replica.lag.time.max.ms (%s), or idle followers would drop out of the ISR", r.format("replica.lag.time.max.ms")))
	}
	if b.GroupMinSessionTimeout > b.GroupMaxSessionTimeout {
		r.fail(invalid("group.min.session.timeout.ms", r.format("group.min.session.timeout.ms"),
			"must not exceed group.max.session.timeout.ms (%s)", r.format("group.max.session.timeout.ms")))
	}
}

// FlushInterval is how often, with log.flush.on.ack=false, unsynced data
// is forced to disk by time: log.flush.interval.ms, else
// log.flush.scheduler.interval.ms. With Kafka's defaults it is the largest
// Duration, that is never. A topic's own flush.ms is TopicConfig.FlushInterval.
func (b *Broker) FlushInterval() time.Duration { return b.LogDefaults.FlushInterval }

// resolver holds the parsed values while NewBroker derives the Broker.
type resolver struct {
	vals     map[string]any    // every key with a value, set or default
	set      map[string]string // canonical values of keys set explicitly
	errs     []error
	warnings []string
}

func (r *resolver) fail(err error) { r.errs = append(r.errs, err) }

func (r *resolver) warn(format string, args ...any) {
	r.warnings = append(r.warnings, "config: "+fmt.Sprintf(format, args...))
}

func (r *resolver) isSet(name string) bool { _, ok := r.set[name]; return ok }
func (r *resolver) null(name string) bool  { _, ok := r.vals[name]; return !ok }

// format returns the canonical value of a key, "" when null.
func (r *resolver) format(name string) string {
	if v, ok := r.vals[name]; ok {
		return format(v)
	}
	return ""
}

func (r *resolver) str(name string) string {
	s, _ := r.vals[name].(string)
	return s
}

func (r *resolver) list(name string) []string {
	l, _ := r.vals[name].([]string)
	return l
}

func (r *resolver) i64(name string) int64            { return r.vals[name].(int64) }
func (r *resolver) i32(name string) int32            { return int32(r.i64(name)) }
func (r *resolver) boolean(name string) bool         { return r.vals[name].(bool) }
func (r *resolver) millis(name string) time.Duration { return Millis(r.i64(name)) }

// Millis converts a Kafka value in milliseconds to a Duration. It saturates
// instead of overflowing, so Kafka's Long.MAX_VALUE ("never") becomes the
// largest Duration; negative values stay negative.
func Millis(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(math.MaxInt64)
	}
	if ms < math.MinInt64/int64(time.Millisecond) {
		return time.Duration(math.MinInt64)
	}
	return time.Duration(ms) * time.Millisecond
}

// ignoredKafkaKeys are Kafka keys that spotstream knows and deliberately
// ignores, by name or prefix (ending in '.'), with the reason.
var ignoredKafkaKeys = []struct{ key, why string }{
	{"zookeeper.", "spotstream coordinates through etcd (see coordinator.*)"},
	{"process.roles", "spotstream has no KRaft controllers; coordination uses etcd (see coordinator.*)"},
	{"controller.quorum.", "spotstream has no KRaft quorum; coordination uses etcd (see coordinator.*)"},
	{"num.network.threads", "the Go runtime schedules network work; there is no thread pool to size"},
	{"num.io.threads", "the Go runtime schedules request handling; there is no thread pool to size"},
	{"num.recovery.threads.per.data.dir", "log recovery needs no thread pool setting"},
	{"num.replica.fetchers", "the Go runtime schedules follower fetches; there is no thread pool to size"},
	{"background.threads", "there is no thread pool to size"},
	{"transaction.state.log.", "transactions are not supported yet"},
	{"share.coordinator.", "share groups are not supported"},
	{"ssl.", "only PLAINTEXT listeners are supported for now"},
	{"sasl.", "only PLAINTEXT listeners are supported for now"},
}

func unknownBrokerKeyWarning(name string) string {
	for _, ig := range ignoredKafkaKeys {
		if name == ig.key || strings.HasSuffix(ig.key, ".") && strings.HasPrefix(name, ig.key) {
			return fmt.Sprintf("config: ignoring Kafka key %s: %s", name, ig.why)
		}
	}
	if tk, ok := topicIndex[name]; ok {
		return fmt.Sprintf("config: ignoring %s: it is a topic key; the broker-wide default is %s", name, tk.Synonyms[0])
	}
	msg := fmt.Sprintf("config: ignoring unknown key %s", name)
	if s := suggest(name); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return msg
}

// suggest returns the known key closest to name, if it is close enough to
// be a typo.
func suggest(name string) string {
	best, bestDist := "", 3
	for _, k := range brokerKeys {
		if d := editDistance(name, k.Name); d < bestDist {
			best, bestDist = k.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
