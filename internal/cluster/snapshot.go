package cluster

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Snapshot is the cluster state at one etcd revision. A snapshot is
// immutable, and so is everything it points to: readers share it without
// locks, and must Clone a PartitionState before modifying its slices.
type Snapshot struct {
	// Revision is the etcd revision the snapshot reflects: every change up
	// to it, and none after it.
	Revision  int64
	ClusterID string
	// Brokers holds the live registrations by broker id.
	Brokers map[int32]BrokerInfo
	// Topics and TopicsByID index the same *Topic values.
	Topics     map[string]*Topic
	TopicsByID map[[16]byte]*Topic
	// ControllerID is the broker id of the elected controller: the
	// candidate of the controller election with the lowest create revision,
	// which is who concurrency.Election makes leader. -1 when there is no
	// candidate (or its value cannot be read).
	ControllerID int32
	// ControllerEpoch is the create revision of the controller's election
	// key, 0 when there is none. It grows with every new controller, like
	// Kafka's controller epoch.
	ControllerEpoch int64

	// DynamicBrokerConfigs holds the dynamic broker configs (Kafka's
	// AlterConfigs on broker resources) by broker id, ClusterDefault for
	// the cluster-wide layer; absent when none are set. Read it through
	// BrokerConfigs.
	DynamicBrokerConfigs map[int32]map[string]string

	// candidates are the election's keys, by key. There is one per broker
	// at most, so recomputing the controller on each change is cheap.
	candidates map[string]candidate
}

// candidate is a key of the controller election.
type candidate struct {
	createRev int64
	id        int32 // -1 if the value is malformed
}

// Topic is a topic in a Snapshot.
type Topic struct {
	Name    string
	ID      [16]byte
	Configs map[string]string
	// Partitions is indexed by partition number and has one entry per
	// partition of the topic. An entry whose key has not been written yet
	// is not Available (Revision 0, Leader NoLeader).
	Partitions []PartitionState
	// Revision is the mod revision of the topic key.
	Revision int64
}

// Topic returns the topic named name, or nil.
func (s *Snapshot) Topic(name string) *Topic { return s.Topics[name] }

// TopicByID returns the topic with id, or nil.
func (s *Snapshot) TopicByID(id [16]byte) *Topic { return s.TopicsByID[id] }

// Partition returns the state of a partition, and false if the topic or
// partition does not exist or its state is not available yet.
func (s *Snapshot) Partition(topic string, partition int32) (PartitionState, bool) {
	t := s.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) || !t.Partitions[partition].Available() {
		return PartitionState{}, false
	}
	return t.Partitions[partition], true
}

func emptySnapshot() *Snapshot {
	return &Snapshot{
		Brokers:      map[int32]BrokerInfo{},
		Topics:       map[string]*Topic{},
		TopicsByID:   map[[16]byte]*Topic{},
		ControllerID: -1,
		candidates:   map[string]candidate{},
	}
}

// missingPartition is the entry of a partition without a key.
var missingPartition = PartitionState{Leader: NoLeader}

// builder derives a snapshot from the previous one by copy-on-write: a map
// is copied the first time a change touches it, a topic the first time one
// of its keys changes; untouched topics are shared with the previous
// snapshot. One builder handles one watch response (or one full load), so a
// response of many events copies each map and topic at most once.
type builder struct {
	keys keyspace
	log  *slog.Logger
	old  *Snapshot
	next *Snapshot

	brokersCopied       bool
	topicsCopied        bool
	candidatesCopied    bool
	brokerConfigsCopied bool
	touched             map[string]*Topic // topics copied by this builder: modifiable
}

func newBuilder(keys keyspace, log *slog.Logger, old *Snapshot) *builder {
	next := *old
	return &builder{keys: keys, log: log, old: old, next: &next, touched: map[string]*Topic{}}
}

func (b *builder) brokers() map[int32]BrokerInfo {
	if !b.brokersCopied {
		b.next.Brokers = maps.Clone(b.old.Brokers)
		b.brokersCopied = true
	}
	return b.next.Brokers
}

func (b *builder) candidates() map[string]candidate {
	if !b.candidatesCopied {
		b.next.candidates = maps.Clone(b.old.candidates)
		if b.next.candidates == nil {
			b.next.candidates = map[string]candidate{}
		}
		b.candidatesCopied = true
	}
	return b.next.candidates
}

func (b *builder) topics() (map[string]*Topic, map[[16]byte]*Topic) {
	if !b.topicsCopied {
		b.next.Topics = maps.Clone(b.old.Topics)
		b.next.TopicsByID = maps.Clone(b.old.TopicsByID)
		b.topicsCopied = true
	}
	return b.next.Topics, b.next.TopicsByID
}

// mutable returns a copy of t that this builder may modify, and indexes it.
func (b *builder) mutable(t *Topic) *Topic {
	if m := b.touched[t.Name]; m == t {
		return m
	}
	m := *t
	m.Partitions = slices.Clone(t.Partitions)
	byName, byID := b.topics()
	byName[m.Name], byID[m.ID] = &m, &m
	b.touched[m.Name] = &m
	return &m
}

// kindRank orders the events of one revision (one transaction): a topic
// before its partitions, so that partition events find their topic.
func (b *builder) kindRank(kv *mvccpb.KeyValue) int {
	if b.keys.parse(string(kv.Key)).kind == kindPartition {
		return 1
	}
	return 0
}

// applyEvents applies the events of one watch response.
func (b *builder) applyEvents(events []*clientv3.Event) {
	if !slices.IsSortedFunc(events, b.compareEvents) {
		events = slices.Clone(events)
		slices.SortStableFunc(events, b.compareEvents)
	}
	for _, ev := range events {
		b.apply(ev.Kv, ev.Type == clientv3.EventTypeDelete)
	}
}

func (b *builder) compareEvents(x, y *clientv3.Event) int {
	return cmp.Or(cmp.Compare(x.Kv.ModRevision, y.Kv.ModRevision), cmp.Compare(b.kindRank(x.Kv), b.kindRank(y.Kv)))
}

// apply applies one key's new value (or deletion). Values that cannot be
// decoded are logged and treated as absent.
func (b *builder) apply(kv *mvccpb.KeyValue, deleted bool) {
	key := string(kv.Key)
	pk := b.keys.parse(key)
	switch pk.kind {
	case kindClusterID:
		b.next.ClusterID = ""
		if !deleted {
			var v clusterIDValue
			if err := json.Unmarshal(kv.Value, &v); err != nil {
				b.malformed(key, err)
				return
			}
			b.next.ClusterID = v.ID
		}

	case kindBroker:
		if deleted {
			delete(b.brokers(), pk.broker)
			return
		}
		info, err := decodeBroker(key, kv.Value)
		if err == nil && info.ID != pk.broker {
			err = fmt.Errorf("%w: registration of broker %d under key of broker %d", ErrMalformed, info.ID, pk.broker)
		}
		if err != nil {
			b.malformed(key, err)
			delete(b.brokers(), pk.broker)
			return
		}
		b.brokers()[pk.broker] = info

	case kindTopic:
		var v topicValue
		var id [16]byte
		var err error
		if !deleted {
			if v, id, err = decodeTopic(key, kv.Value); err != nil {
				b.malformed(key, err)
				deleted = true
			}
		}
		old := b.next.Topics[pk.topic]
		if old != nil && (deleted || old.ID != id) {
			byName, byID := b.topics()
			delete(byName, pk.topic)
			delete(byID, old.ID)
			delete(b.touched, pk.topic)
			old = nil
		}
		if deleted {
			return
		}
		t := &Topic{Name: pk.topic, ID: id, Configs: v.Configs, Revision: kv.ModRevision,
			Partitions: make([]PartitionState, v.Partitions)}
		n := 0
		if old != nil {
			n = copy(t.Partitions, old.Partitions)
		}
		for i := n; i < len(t.Partitions); i++ {
			t.Partitions[i] = missingPartition
		}
		byName, byID := b.topics()
		byName[t.Name], byID[t.ID] = t, t
		b.touched[t.Name] = t

	case kindController:
		if deleted {
			delete(b.candidates(), key)
			return
		}
		id, err := decodeController(key, kv.Value)
		if err != nil {
			// Still a candidate: if it leads, the controller is unknown.
			b.malformed(key, err)
		}
		b.candidates()[key] = candidate{createRev: kv.CreateRevision, id: id}

	case kindBrokerConfigs:
		b.applyBrokerConfigs(key, pk.broker, kv, deleted)

	case kindBrokerIDRecord:
		// The history of broker ids matters only to Register, which reads
		// it from etcd when it claims an id.

	case kindPartition:
		t := b.next.Topics[pk.topic]
		if t == nil || int(pk.partition) >= len(t.Partitions) {
			// Our writers never leave a partition key outside its topic; a
			// stray one is not part of any topic.
			b.log.Debug("ignoring partition key outside its topic", "key", key)
			return
		}
		t = b.mutable(t)
		if deleted {
			t.Partitions[pk.partition] = missingPartition
			return
		}
		p, err := decodePartition(key, kv.Value, kv.ModRevision)
		if err != nil {
			b.malformed(key, err)
			p = missingPartition
		}
		t.Partitions[pk.partition] = p
	}
}

func (b *builder) malformed(key string, err error) {
	b.log.Warn("ignoring malformed value in etcd", "key", key, "err", err)
}

// finish returns the new snapshot at revision rev.
func (b *builder) finish(rev int64) *Snapshot {
	b.next.Revision = rev
	if b.brokersCopied || b.brokerConfigsCopied {
		b.operatorDrains()
	}
	if b.candidatesCopied {
		b.next.ControllerID, b.next.ControllerEpoch = -1, 0
		for _, c := range b.next.candidates {
			if b.next.ControllerEpoch == 0 || c.createRev < b.next.ControllerEpoch {
				b.next.ControllerID, b.next.ControllerEpoch = c.id, c.createRev
			}
		}
	}
	s := b.next
	b.next = nil // the builder must not modify a published snapshot
	return s
}
