package config

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustBroker(t *testing.T, props map[string]string) *Broker {
	t.Helper()
	b, warnings, err := NewBroker(props)
	if err != nil {
		t.Fatalf("NewBroker(%v): %v", props, err)
	}
	if len(warnings) > 0 {
		t.Fatalf("NewBroker(%v) warnings: %q", props, warnings)
	}
	return b
}

func TestZeroConfigBroker(t *testing.T) {
	b := mustBroker(t, nil)

	if b.BrokerID != -1 {
		t.Errorf("ID = %d, want -1 (claim an id)", b.BrokerID)
	}
	if !slices.Equal(b.LogDirs, []string{"spotstream-data"}) {
		t.Errorf("LogDirs = %q", b.LogDirs)
	}
	want := []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092, SecurityProtocol: "PLAINTEXT"}}
	if !slices.Equal(b.Listeners, want) || !slices.Equal(b.AdvertisedListeners, want) {
		t.Errorf("Listeners = %v, advertised %v", b.Listeners, b.AdvertisedListeners)
	}
	if b.InterBrokerListener != "PLAINTEXT" {
		t.Errorf("InterBrokerListener = %q", b.InterBrokerListener)
	}
	if host, port, err := b.AdvertisedAddress(nil); err != nil || host != "127.0.0.1" || port != 9092 {
		t.Errorf("AdvertisedAddress = %s %d %v", host, port, err)
	}

	c := b.Coordinator
	if !c.Embedded() || c.Prefix() != "/spotstream/" {
		t.Errorf("coordinator: embedded %v, prefix %q", c.Embedded(), c.Prefix())
	}
	if c.Dir != filepath.Join("spotstream-data", "coordinator") || c.Name == "" || c.InitialClusterState != "new" {
		t.Errorf("coordinator dir %q, name %q, state %q", c.Dir, c.Name, c.InitialClusterState)
	}
	// Sockets and the single-member cluster are left to internal/cluster.
	if c.ListenClientURLs != nil || c.ListenPeerURLs != nil || c.AdvertisePeerURLs != nil || c.InitialCluster != "" {
		t.Errorf("coordinator %+v", c)
	}
	if c.DialTimeout != 5*time.Second || c.RequestTimeout != 5*time.Second {
		t.Errorf("timeouts %v %v", c.DialTimeout, c.RequestTimeout)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"NumPartitions", b.NumPartitions, int32(1)},
		{"DefaultReplicationFactor", b.DefaultReplicationFactor, int16(1)},
		{"AutoCreateTopics", b.AutoCreateTopics, true},
		{"DeleteTopicEnable", b.DeleteTopicEnable, true},
		{"FlushOnAck", b.FlushOnAck, true},
		{"FlushSchedulerInterval", b.FlushSchedulerInterval, time.Duration(math.MaxInt64)},
		{"RetentionCheckInterval", b.RetentionCheckInterval, 5 * time.Minute},
		{"SocketRequestMaxBytes", b.SocketRequestMaxBytes, int32(104857600)},
		{"SocketSendBufferBytes", b.SocketSendBufferBytes, int32(102400)},
		{"MaxConnections", b.MaxConnections, int32(math.MaxInt32)},
		{"ConnectionsMaxIdle", b.ConnectionsMaxIdle, 10 * time.Minute},
		{"ReplicaLagTimeMax", b.ReplicaLagTimeMax, 30 * time.Second},
		{"ReplicaFetchMaxBytes", b.ReplicaFetchMaxBytes, int32(1048576)},
		{"ReplicaFetchWaitMax", b.ReplicaFetchWaitMax, 500 * time.Millisecond},
		{"ReplicaFetchMinBytes", b.ReplicaFetchMinBytes, int32(1)},
		{"SessionTimeout", b.SessionTimeout, 9 * time.Second},
		{"HeartbeatInterval", b.HeartbeatInterval, 2 * time.Second},
		{"ControlledShutdown", b.ControlledShutdown, true},
		{"OffsetsTopicPartitions", b.OffsetsTopicPartitions, int32(50)},
		{"OffsetsTopicReplicationFactor", b.OffsetsTopicReplicationFactor, int16(1)}, // single-member embedded etcd,
		{"OffsetsRetention", b.OffsetsRetention, 7 * 24 * time.Hour},
		{"GroupInitialRebalanceDelay", b.GroupInitialRebalanceDelay, 3 * time.Second},
		{"GroupMinSessionTimeout", b.GroupMinSessionTimeout, 6 * time.Second},
		{"GroupMaxSessionTimeout", b.GroupMaxSessionTimeout, 30 * time.Minute},
		{"GroupMaxSize", b.GroupMaxSize, int32(math.MaxInt32)},
		{"ProducerIDExpiration", b.ProducerIDExpiration, 24 * time.Hour},
		{"TransactionalIDExpiration", b.TransactionalIDExpiration, 7 * 24 * time.Hour},
		{"MetricsListener", b.MetricsListener, ""},
		{"Rack", b.Rack, ""},
		{"Capacity", b.Capacity, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	wantTopic := TopicConfig{
		CleanupPolicy:             []string{"delete"},
		CompressionType:           "producer",
		FlushMessages:             math.MaxInt64,
		FlushInterval:             math.MaxInt64,
		IndexIntervalBytes:        4096,
		MaxMessageBytes:           1048588,
		MessageTimestampAfterMax:  time.Hour,
		MessageTimestampBeforeMax: math.MaxInt64,
		MinInsyncReplicas:         1,
		Preallocate:               true,
		RetentionBytes:            -1,
		Retention:                 168 * time.Hour,
		SegmentBytes:              1 << 30,
		SegmentAge:                168 * time.Hour,
	}
	if !topicEqual(b.LogDefaults, wantTopic) {
		t.Errorf("LogDefaults = %+v\nwant %+v", b.LogDefaults, wantTopic)
	}
}

func topicEqual(a, b TopicConfig) bool { return reflect.DeepEqual(a, b) }

// TestInvalid checks that each bad value is rejected with an error naming
// the key, the value and what is allowed.
func TestInvalid(t *testing.T) {
	tests := []struct {
		props map[string]string
		key   string // the *Error's Key
		want  string // substring of the message
	}{
		{map[string]string{"num.partitions": "many"}, "num.partitions", `invalid value "many" for num.partitions: expected an integer (allowed: at least 1)`},
		{map[string]string{"num.partitions": "0"}, "num.partitions", "must be at least 1"},
		{map[string]string{"num.partitions": "3000000000"}, "num.partitions", "fits in 32 bits"},
		{map[string]string{"offsets.topic.replication.factor": "40000"}, "offsets.topic.replication.factor", "fits in 16 bits"},
		{map[string]string{"default.replication.factor": "0"}, "default.replication.factor", "from 1 to 32767"},
		{map[string]string{"log.segment.bytes": "1023"}, "log.segment.bytes", "at least 1024"},
		{map[string]string{"log.preallocate": "yes"}, "log.preallocate", "expected true or false"},
		{map[string]string{"broker.capacity": "reserved"}, "broker.capacity", `"reserved" is not one of (empty), on-demand, spot`},
		{map[string]string{"cloud.provider": "gcp"}, "cloud.provider", `"gcp" is not one of (empty), aws`},
		{map[string]string{"cloud.metadata.endpoint": "169.254.169.254"}, "cloud.metadata.endpoint", "expected http://host[:port]"},
		{map[string]string{"cloud.metadata.endpoint": "http://x/latest"}, "cloud.metadata.endpoint", "expected http://host[:port]"},
		{map[string]string{"broker.replacement.grace.ms": "-1"}, "broker.replacement.grace.ms", "at least 0"},
		{map[string]string{"broker.replacement.grace.ms": "ten minutes"}, "broker.replacement.grace.ms", "ten minutes"},
		{map[string]string{"cloud.rebalance.recommendation.action": "panic"}, "cloud.rebalance.recommendation.action", `"panic" is not one of`},
		{map[string]string{"broker.drain": "full"}, "broker.drain", "spotstream broker drain"},
		{map[string]string{"placement.repair.max.moves": "-5"}, "placement.repair.max.moves", "at least 0"},
		{map[string]string{"leader.imbalance.check.interval.seconds": "0"}, "leader.imbalance.check.interval.seconds", "at least 1"},
		{map[string]string{"log.message.timestamp.type": "createtime"}, "log.message.timestamp.type", "not one of CreateTime, LogAppendTime"},
		{map[string]string{"compression.type": "zstd"}, "compression.type", `"zstd" is not one of producer`},
		{map[string]string{"log.cleanup.policy": "delete,archive"}, "log.cleanup.policy", `"archive" is not one of delete, compact`},
		{map[string]string{"log.cleanup.policy": "delete,delete"}, "log.cleanup.policy", "listed twice"},
		{map[string]string{"log.cleanup.policy": "delete,,compact"}, "log.cleanup.policy", "empty item"},
		{map[string]string{"socket.send.buffer.bytes": "0"}, "socket.send.buffer.bytes", "-1 or at least 1"},
		{map[string]string{"broker.id": "-2"}, "broker.id", "at least -1"},
		{map[string]string{"broker.id": "1", "node.id": "2"}, "node.id", "differs from broker.id"},
		{map[string]string{"broker.id": "1001"}, "broker.id", `invalid value "1001" for broker.id: must not exceed reserved.broker.max.id (1000)`},
		{map[string]string{"node.id": "1001"}, "node.id", "must not exceed reserved.broker.max.id (1000)"},
		{map[string]string{"broker.id": "11", "reserved.broker.max.id": "10"}, "broker.id", "must not exceed reserved.broker.max.id (10)"},
		{map[string]string{"reserved.broker.max.id": "-1"}, "reserved.broker.max.id", "at least 0"},
		{map[string]string{"log.dirs": "/a,/b,/a/"}, "log.dirs", "listed twice"},
		{map[string]string{"log.dirs": ""}, "log.dirs", "at least one directory"},
		{map[string]string{"log.retention.hours": "0"}, "log.retention.hours", "retention of 0 ms"},
		{map[string]string{"broker.session.timeout.ms": "2000", "broker.heartbeat.interval.ms": "2000"}, "broker.heartbeat.interval.ms", "less than broker.session.timeout.ms (2000)"},
		{map[string]string{"replica.fetch.wait.max.ms": "40000"}, "replica.fetch.wait.max.ms", "must not exceed replica.lag.time.max.ms"},
		{map[string]string{"group.min.session.timeout.ms": "7000", "group.max.session.timeout.ms": "6000"}, "group.min.session.timeout.ms", "must not exceed"},
		{map[string]string{"metrics.listener": "9644"}, "metrics.listener", "host:port"},

		// Listeners.
		{map[string]string{"listeners": "127.0.0.1:9092"}, "listeners", "expected NAME://host:port"},
		{map[string]string{"listeners": "PLAINTEXT://127.0.0.1"}, "listeners", "expected host:port"},
		{map[string]string{"listeners": "PLAINTEXT://::1:9092"}, "listeners", "IPv6 addresses in brackets"},
		{map[string]string{"listeners": "PLAINTEXT://h:99999"}, "listeners", "from 0 to 65535"},
		{map[string]string{"listeners": "PLAIN TEXT://h:1"}, "listeners", "listener name"},
		{map[string]string{"listeners": "PLAINTEXT://h/x:1"}, "listeners", "not a valid host"},
		{map[string]string{"listeners": "SSL://:9093"}, "listeners", "uses SSL; only PLAINTEXT is supported"},
		{map[string]string{"listeners": "CLIENT://:9093"}, "listeners", "CLIENT has no security protocol"},
		{map[string]string{"listeners": "A://:9093,B://:9094", "listener.security.protocol.map": "A:PLAINTEXT,B:SASL_SSL"}, "listeners", "B uses SASL_SSL"},
		{map[string]string{"listener.security.protocol.map": "A:TLS"}, "listener.security.protocol.map", `unknown security protocol "TLS"`},
		{map[string]string{"listener.security.protocol.map": "A:PLAINTEXT,a:PLAINTEXT"}, "listener.security.protocol.map", "mapped twice"},
		{map[string]string{"listener.security.protocol.map": "APLAINTEXT"}, "listener.security.protocol.map", "expected NAME:PROTOCOL"},
		{map[string]string{"listeners": "PLAINTEXT://:9092,plaintext://:9093"}, "listeners", "PLAINTEXT is used twice"},
		{map[string]string{"listeners": "A://127.0.0.1:9092,B://127.0.0.1:9092", "listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT", "inter.broker.listener.name": "A"}, "listeners", "bind the same port"},
		{map[string]string{"listeners": "A://:9092,B://10.0.0.1:9092", "listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT", "inter.broker.listener.name": "A"}, "listeners", "bind the same port"},
		{map[string]string{"listeners": ""}, "listeners", "at least one listener"},
		{map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092"}, "advertised.listeners", "config: advertised.listeners: not set, so listeners are advertised, but PLAINTEXT://0.0.0.0:9092 uses the non-routable address 0.0.0.0"},
		{map[string]string{"listeners": "PLAINTEXT://[::]:9092"}, "advertised.listeners", "non-routable address ::"},
		{map[string]string{"advertised.listeners": "OTHER://h:1"}, "advertised.listeners", "OTHER is not in listeners"},
		{map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:1"}, "advertised.listeners", "needs a host clients can reach"},
		{map[string]string{"advertised.listeners": "PLAINTEXT://:1"}, "advertised.listeners", "needs a host clients can reach"},
		{map[string]string{"advertised.listeners": "PLAINTEXT://h:0"}, "advertised.listeners", "port 0 cannot be advertised"},
		{map[string]string{"advertised.listeners": "PLAINTEXT://h:1,PLAINTEXT://i:2"}, "advertised.listeners", "used twice"},
		{map[string]string{"inter.broker.listener.name": "OTHER"}, "inter.broker.listener.name", "not the name of an advertised listener"},
		{map[string]string{"inter.broker.listener.name": "PLAINTEXT", "security.inter.broker.protocol": "PLAINTEXT"}, "security.inter.broker.protocol", "not both"},
		{map[string]string{"security.inter.broker.protocol": "SSL"}, "security.inter.broker.protocol", "only PLAINTEXT"},
		{map[string]string{"listeners": "A://:1,B://:2", "listener.security.protocol.map": "A:PLAINTEXT,B:PLAINTEXT"}, "inter.broker.listener.name", "no listener is named PLAINTEXT"},

		// Coordinator.
		{map[string]string{"coordinator.endpoints": "https://etcd:2379"}, "coordinator.endpoints", "TLS to etcd is not supported"},
		{map[string]string{"coordinator.endpoints": "etcd:2379"}, "coordinator.endpoints", "expected an http:// URL"},
		{map[string]string{"coordinator.endpoints": "http://etcd"}, "coordinator.endpoints", "expected http://host:port"},
		{map[string]string{"coordinator.endpoints": "http://etcd:2379/v3"}, "coordinator.endpoints", "expected http://host:port"},
		{map[string]string{"coordinator.endpoints": "unix://relative/sock"}, "coordinator.endpoints", "unix:///absolute/path"},
		{map[string]string{"coordinator.namespace": "a/b"}, "coordinator.namespace", "letters, digits"},
		{map[string]string{"coordinator.namespace": ".."}, "coordinator.namespace", "letters, digits"},
		{map[string]string{"coordinator.name": "my node"}, "coordinator.name", "letters, digits"},
		{map[string]string{"coordinator.listen.peer.urls": "http://etcd.example:2380"}, "coordinator.listen.peer.urls", "only to IP addresses or localhost"},
		{map[string]string{"coordinator.listen.client.urls": "http://host.example:2379"}, "coordinator.listen.client.urls", "only to IP addresses or localhost"},
		{map[string]string{"broker.id": "1", "coordinator.initial.cluster": "spotstream-2=http://10.0.0.2:2380"}, "coordinator.initial.cluster", "no entry for this member, spotstream-1"},
		{map[string]string{"broker.id": "1", "coordinator.initial.cluster": "spotstream-1:http://10.0.0.2:2380"}, "coordinator.initial.cluster", "expected name=http://host:port"},
		{map[string]string{"broker.id": "1", "coordinator.initial.cluster": "spotstream-1=http://0.0.0.0:2380"}, "coordinator.initial.cluster", "needs an address others can reach"},
		{map[string]string{"coordinator.listen.client.urls": "http://0.0.0.0:2379"}, "coordinator.listen.client.urls", "needs an address others can reach"},
		{map[string]string{"coordinator.listen.client.urls": "unix://rel.sock"}, "coordinator.listen.client.urls", "unix:///absolute/path"},
		{map[string]string{"coordinator.initial.cluster.state": "existing"}, "coordinator.initial.cluster.state", "needs coordinator.initial.cluster"},
		{map[string]string{"broker.id": "1", "coordinator.initial.cluster": "spotstream-1=http://etcd-1.internal:2380"}, "coordinator.listen.peer.urls", "cannot be bound"},
		{map[string]string{"broker.id": "1", "coordinator.initial.cluster": "spotstream-1=http://10.0.0.1:2380", "coordinator.listen.peer.urls": "unix:///tmp/p.sock"}, "coordinator.listen.peer.urls", "expected http://host:port"},
		{map[string]string{"coordinator.dial.timeout.ms": "0"}, "coordinator.dial.timeout.ms", "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.want, func(t *testing.T) {
			_, _, err := NewBroker(tt.props)
			if err == nil {
				t.Fatalf("NewBroker(%v): no error", tt.props)
			}
			if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrUnknownKey) {
				t.Errorf("err %v: does not wrap ErrInvalidConfig alone", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tt.key {
				t.Errorf("err %v: want an *Error for key %s", err, tt.key)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "config: ") {
				t.Errorf("err = %q\nwant it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, _, err := NewBroker(map[string]string{"num.partitions": "x", "log.segment.bytes": "1", "typo.key": "1"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"num.partitions", "log.segment.bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q does not mention %s", err, want)
		}
	}
}

func TestWarnings(t *testing.T) {
	_, warnings, err := NewBroker(map[string]string{
		"log.segmnt.bytes":     "2048",
		"zookeeper.connect":    "localhost:2181",
		"num.io.threads":       "8",
		"completely.different": "x",
		"segment.bytes":        "2048",
		"broker.id":            "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"config: ignoring unknown key completely.different",
		"config: ignoring unknown key log.segmnt.bytes (did you mean log.segment.bytes?)",
		"config: ignoring Kafka key num.io.threads: the Go runtime schedules request handling; there is no thread pool to size",
		"config: ignoring segment.bytes: it is a topic key; the broker-wide default is log.segment.bytes",
		"config: ignoring Kafka key zookeeper.connect: spotstream coordinates through etcd (see coordinator.*)",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}

	// Warnings come back with errors too.
	_, warnings, err = NewBroker(map[string]string{"foo": "1", "num.partitions": "0"})
	if err == nil || len(warnings) != 1 {
		t.Errorf("err %v, warnings %q", err, warnings)
	}
}

func TestSynonymPrecedence(t *testing.T) {
	const never = time.Duration(math.MaxInt64)
	week := 168 * time.Hour
	tests := []struct {
		props         map[string]string
		retention     time.Duration
		roll          time.Duration
		flush         time.Duration
		flushInterval time.Duration
	}{
		{props: nil, retention: week, roll: week, flush: never, flushInterval: never},
		{props: map[string]string{"log.retention.hours": "24"}, retention: 24 * time.Hour, roll: week, flush: never, flushInterval: never},
		{props: map[string]string{"log.retention.hours": "24", "log.retention.minutes": "30"}, retention: 30 * time.Minute, roll: week, flush: never, flushInterval: never},
		{props: map[string]string{"log.retention.hours": "24", "log.retention.minutes": "30", "log.retention.ms": "1234"}, retention: 1234 * time.Millisecond, roll: week, flush: never, flushInterval: never},
		{props: map[string]string{"log.retention.ms": "-1", "log.retention.hours": "24"}, retention: -time.Millisecond, roll: week, flush: never, flushInterval: never},
		{props: map[string]string{"log.retention.hours": "-1"}, retention: -time.Millisecond, roll: week, flush: never, flushInterval: never},
		{props: map[string]string{"log.roll.hours": "1"}, retention: week, roll: time.Hour, flush: never, flushInterval: never},
		{props: map[string]string{"log.roll.hours": "1", "log.roll.ms": "5000"}, retention: week, roll: 5 * time.Second, flush: never, flushInterval: never},
		{props: map[string]string{"log.flush.scheduler.interval.ms": "2000"}, retention: week, roll: week, flush: 2 * time.Second, flushInterval: 2 * time.Second},
		{props: map[string]string{"log.flush.scheduler.interval.ms": "2000", "log.flush.interval.ms": "100"}, retention: week, roll: week, flush: 100 * time.Millisecond, flushInterval: 2 * time.Second},
	}
	for _, tt := range tests {
		b := mustBroker(t, tt.props)
		d := b.LogDefaults
		if b.FlushInterval() != tt.flush {
			t.Errorf("%v: FlushInterval %v", tt.props, b.FlushInterval())
		}
		if d.Retention != tt.retention || d.SegmentAge != tt.roll || d.FlushInterval != tt.flush || b.FlushSchedulerInterval != tt.flushInterval {
			t.Errorf("%v: retention %v roll %v flush %v interval %v; want %v %v %v %v", tt.props,
				d.Retention, d.SegmentAge, d.FlushInterval, b.FlushSchedulerInterval, tt.retention, tt.roll, tt.flush, tt.flushInterval)
		}
	}
}

func TestMillis(t *testing.T) {
	for ms, want := range map[int64]time.Duration{
		0: 0, 1500: 1500 * time.Millisecond, -1: -time.Millisecond,
		math.MaxInt64: math.MaxInt64, math.MinInt64: math.MinInt64,
	} {
		if got := Millis(ms); got != want {
			t.Errorf("Millis(%d) = %v, want %v", ms, got, want)
		}
	}
}

func TestIdentityAndAliases(t *testing.T) {
	tests := []struct {
		props map[string]string
		id    int32
		dirs  []string
	}{
		{map[string]string{"broker.id": "7"}, 7, []string{"spotstream-data"}},
		{map[string]string{"node.id": "8"}, 8, []string{"spotstream-data"}},
		{map[string]string{"node.id": "9", "broker.id": "9"}, 9, []string{"spotstream-data"}},
		{map[string]string{"log.dir": "/var/k"}, -1, []string{"/var/k"}},
		{map[string]string{"log.dir": "/var/k, ./rel/"}, -1, []string{"/var/k", "rel"}},
		{map[string]string{"log.dir": "/var/k", "log.dirs": " /d1/ , /d2"}, -1, []string{"/d1", "/d2"}},
	}
	for _, tt := range tests {
		b := mustBroker(t, tt.props)
		if b.BrokerID != tt.id || !slices.Equal(b.LogDirs, tt.dirs) {
			t.Errorf("%v: ID %d dirs %q; want %d %q", tt.props, b.BrokerID, b.LogDirs, tt.id, tt.dirs)
		}
	}
}

func TestValuesAreTrimmedAndCaseInsensitiveBooleans(t *testing.T) {
	b := mustBroker(t, map[string]string{
		"num.partitions": " 6 ", "auto.create.topics.enable": "FALSE", "broker.rack": " us-east-1a ",
		"broker.capacity": "spot", "metrics.listener": "127.0.0.1:9644",
	})
	if b.NumPartitions != 6 || b.AutoCreateTopics || b.Rack != "us-east-1a" || b.Capacity != CapacitySpot || b.MetricsListener != "127.0.0.1:9644" {
		t.Errorf("got %d %v %q %q %q", b.NumPartitions, b.AutoCreateTopics, b.Rack, b.Capacity, b.MetricsListener)
	}
}

func TestCoordinator(t *testing.T) {
	t.Run("external", func(t *testing.T) {
		b, warnings, err := NewBroker(map[string]string{
			"coordinator.endpoints": "http://10.0.0.1:2379, http://10.0.0.2:2379/", "coordinator.namespace": "prod-eu",
			"coordinator.dir": "/x",
		})
		if err != nil {
			t.Fatal(err)
		}
		c := b.Coordinator
		if c.Embedded() || c.Prefix() != "/prod-eu/" || !slices.Equal(c.Endpoints, []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}) {
			t.Errorf("coordinator %+v", c)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "coordinator.dir is ignored") {
			t.Errorf("warnings %q", warnings)
		}
	})
	t.Run("standby", func(t *testing.T) {
		b, warnings, err := NewBroker(map[string]string{
			"broker.id": "4", "log.dirs": "/data",
			"coordinator.endpoints":               "http://10.0.0.1:2379",
			"coordinator.listen.peer.urls":        "http://10.0.0.4:2380",
			"coordinator.listen.client.urls":      "http://10.0.0.4:2379",
			"coordinator.initial.cluster":         "m=http://10.0.0.1:2380",
			"coordinator.quorum.replace.grace.ms": "5000",
		})
		if err != nil {
			t.Fatal(err)
		}
		c := b.Coordinator
		if !c.Standby || c.Embedded() || !c.CanHostMember() || c.Dir != "/data/coordinator" || c.Name != "spotstream-4" || c.ReplaceGrace != 5*time.Second {
			t.Errorf("coordinator %+v", c)
		}
		if !slices.Equal(c.AdvertisePeerURLs, []string{"http://10.0.0.4:2380"}) || !slices.Equal(c.ListenClientURLs, []string{"http://10.0.0.4:2379"}) {
			t.Errorf("URLs: peer %v client %v", c.AdvertisePeerURLs, c.ListenClientURLs)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "coordinator.initial.cluster is ignored") {
			t.Errorf("warnings %q", warnings)
		}
		if _, _, err := NewBroker(map[string]string{"coordinator.endpoints": "http://10.0.0.1:2379", "coordinator.listen.peer.urls": "http://10.0.0.4:2380"}); err == nil ||
			!strings.Contains(err.Error(), "coordinator.listen.client.urls") {
			t.Errorf("standby without client URLs: %v", err)
		}
	})
	t.Run("three embedded members", func(t *testing.T) {
		b := mustBroker(t, map[string]string{
			"broker.id":                      "2",
			"log.dirs":                       "/data",
			"coordinator.initial.cluster":    "spotstream-1=http://10.0.0.1:2380,spotstream-2=http://10.0.0.2:2380,spotstream-3=http://10.0.0.3:2380",
			"coordinator.listen.client.urls": "http://10.0.0.2:2379",
		})
		c := b.Coordinator
		if c.Name != "spotstream-2" || c.Dir != "/data/coordinator" || !c.Embedded() {
			t.Errorf("name %q dir %q", c.Name, c.Dir)
		}
		if !slices.Equal(c.ListenPeerURLs, []string{"http://10.0.0.2:2380"}) || !slices.Equal(c.AdvertisePeerURLs, []string{"http://10.0.0.2:2380"}) {
			t.Errorf("peer URLs %v advertised %v", c.ListenPeerURLs, c.AdvertisePeerURLs)
		}
		if c.InitialCluster != "spotstream-1=http://10.0.0.1:2380,spotstream-2=http://10.0.0.2:2380,spotstream-3=http://10.0.0.3:2380" {
			t.Errorf("initial cluster %q", c.InitialCluster)
		}
		if b.OffsetsTopicReplicationFactor != 3 {
			t.Errorf("offsets.topic.replication.factor %d in a three-member cluster, want Kafka's 3", b.OffsetsTopicReplicationFactor)
		}
		if !slices.Equal(c.ListenClientURLs, []string{"http://10.0.0.2:2379"}) {
			t.Errorf("client URLs %q", c.ListenClientURLs)
		}
	})
	t.Run("member listening on all interfaces", func(t *testing.T) {
		b := mustBroker(t, map[string]string{
			"coordinator.name":             "m1",
			"coordinator.initial.cluster":  "m1=http://etcd-1.internal:2380,m2=http://etcd-2.internal:2380",
			"coordinator.listen.peer.urls": "http://0.0.0.0:2380",
		})
		c := b.Coordinator
		if !slices.Equal(c.ListenPeerURLs, []string{"http://0.0.0.0:2380"}) || !slices.Equal(c.AdvertisePeerURLs, []string{"http://etcd-1.internal:2380"}) {
			t.Errorf("peer URLs %v advertised %v", c.ListenPeerURLs, c.AdvertisePeerURLs)
		}
	})
	t.Run("explicit single member", func(t *testing.T) {
		b := mustBroker(t, map[string]string{
			"coordinator.name": "solo", "coordinator.dir": "/tmp/etcd",
			"coordinator.listen.peer.urls": "unix:///run/spotstream/peer.sock", "coordinator.listen.client.urls": "http://127.0.0.1:2379, unix:///run/spotstream/etcd.sock",
		})
		c := b.Coordinator
		if c.InitialCluster != "" || c.Dir != "/tmp/etcd" || c.Name != "solo" ||
			!slices.Equal(c.ListenClientURLs, []string{"http://127.0.0.1:2379", "unix:///run/spotstream/etcd.sock"}) ||
			!slices.Equal(c.ListenPeerURLs, []string{"unix:///run/spotstream/peer.sock"}) {
			t.Errorf("coordinator %+v", c)
		}
	})
	t.Run("name from host name", func(t *testing.T) {
		old := hostname
		defer func() { hostname = old }()
		hostname = func() (string, error) { return "ip-10-0-0-1.ec2.internal", nil }
		if b := mustBroker(t, nil); b.Coordinator.Name != "ip-10-0-0-1.ec2.internal" {
			t.Errorf("name %q", b.Coordinator.Name)
		}
		hostname = func() (string, error) { return "", errors.New("no") }
		if b := mustBroker(t, nil); b.Coordinator.Name != "spotstream" {
			t.Errorf("name %q", b.Coordinator.Name)
		}
	})
}

// TestKafkaServerProperties loads the shape of the server.properties files
// that ship with Kafka: they must start, with warnings for what we ignore.
func TestKafkaServerProperties(t *testing.T) {
	kraft := `
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`
	props, err := ReadProperties(strings.NewReader(kraft))
	if err != nil {
		t.Fatal(err)
	}
	b, warnings, err := NewBroker(props)
	if err != nil {
		t.Fatal(err)
	}
	if b.BrokerID != 1 || len(b.Listeners) != 1 || b.Listeners[0].Port != 9092 || len(b.AdvertisedListeners) != 1 {
		t.Errorf("ID %d listeners %v advertised %v", b.BrokerID, b.Listeners, b.AdvertisedListeners)
	}
	if host, port, err := b.AdvertisedAddress(nil); host != "localhost" || port != 9092 || err != nil {
		t.Errorf("advertised %s %d %v", host, port, err)
	}
	if len(warnings) != 10 {
		t.Errorf("%d warnings:\n%s", len(warnings), strings.Join(warnings, "\n"))
	}

	zk := "broker.id=0\nnum.network.threads=3\nlog.dirs=/tmp/kafka-logs\nzookeeper.connect=localhost:2181\n" +
		"zookeeper.connection.timeout.ms=18000\ngroup.initial.rebalance.delay.ms=0\n"
	props, _ = ReadProperties(strings.NewReader(zk))
	b, warnings, err = NewBroker(props)
	if err != nil || b.BrokerID != 0 || len(warnings) != 3 || b.Listeners[0].Address() != "127.0.0.1:9092" {
		t.Errorf("zk config: %v, warnings %q", err, warnings)
	}
}

// TestReservedBrokerMaxID: configured ids go up to reserved.broker.max.id
// (Kafka's 1000 by default); claimed ids are above it.
func TestReservedBrokerMaxID(t *testing.T) {
	tests := []struct {
		props   map[string]string
		id, max int32
	}{
		{nil, -1, 1000},
		{map[string]string{"broker.id": "1000"}, 1000, 1000},
		{map[string]string{"node.id": "1000"}, 1000, 1000},
		{map[string]string{"broker.id": "4000", "reserved.broker.max.id": "5000"}, 4000, 5000},
		{map[string]string{"broker.id": "0", "reserved.broker.max.id": "0"}, 0, 0},
		{map[string]string{"reserved.broker.max.id": "0"}, -1, 0},
	}
	for _, tt := range tests {
		b := mustBroker(t, tt.props)
		if b.BrokerID != tt.id || b.ReservedBrokerMaxID != tt.max {
			t.Errorf("%v: broker.id %d, reserved.broker.max.id %d; want %d, %d", tt.props, b.BrokerID, b.ReservedBrokerMaxID, tt.id, tt.max)
		}
	}
}
