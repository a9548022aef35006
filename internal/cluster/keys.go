package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// DefaultNamespace is the namespace used when none is configured.
const DefaultNamespace = "spotstream"

// Key names under the namespace, built and parsed only in this file.
const (
	clusterIDKey   = "cluster/id"
	brokersDir     = "brokers/"
	brokerIDsDir   = "broker-ids/"
	topicsDir      = "topics/"
	partitionsDir  = "partitions/"
	producerIDsKey = "producer-ids"
	controllerKey  = "controller"
	// controllerDir holds the election's candidate keys:
	// concurrency.NewElection appends "/" and the candidate's lease.
	controllerDir = controllerKey + "/"
)

// keyspace builds the etcd keys of one namespace.
type keyspace struct {
	prefix string // "/<namespace>/"
}

func newKeyspace(namespace string) (keyspace, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if !isLegalName(namespace) || namespace == "." || namespace == ".." {
		return keyspace{}, fmt.Errorf("cluster: namespace %q: want [A-Za-z0-9._-]+", namespace)
	}
	return keyspace{prefix: "/" + namespace + "/"}, nil
}

func (k keyspace) clusterID() string      { return k.prefix + clusterIDKey }
func (k keyspace) brokers() string        { return k.prefix + brokersDir }
func (k keyspace) broker(id int32) string { return k.brokers() + strconv.Itoa(int(id)) }
func (k keyspace) brokerIDs() string      { return k.prefix + brokerIDsDir }
func (k keyspace) brokerIDRecord(id int32) string {
	return k.brokerIDs() + strconv.Itoa(int(id))
}
func (k keyspace) topic(name string) string {
	return k.prefix + topicsDir + name
}
func (k keyspace) partitions(topic string) string { return k.prefix + partitionsDir + topic + "/" }
func (k keyspace) partition(topic string, n int32) string {
	return k.partitions(topic) + strconv.Itoa(int(n))
}
func (k keyspace) producerIDs() string { return k.prefix + producerIDsKey }
func (k keyspace) controller() string  { return k.prefix + controllerKey }

// keyKind classifies a key of the namespace.
type keyKind int

const (
	kindOther keyKind = iota // producer-ids, anything unknown
	kindClusterID
	kindBroker
	kindTopic
	kindPartition
	kindController     // a candidate of the controller election
	kindBrokerConfigs  // dynamic broker configs: one broker's, or the default
	kindBrokerIDRecord // broker-ids/<id>: who last held a broker id
)

// parsedKey is a key split into its parts.
type parsedKey struct {
	kind      keyKind
	broker    int32  // kindBroker, kindBrokerIDRecord; kindBrokerConfigs (ClusterDefault for the default)
	topic     string // kindTopic, kindPartition
	partition int32  // kindPartition
}

// parse classifies an absolute key. Keys that do not follow the layout
// (written by hand, or by a newer version) come back as kindOther.
func (k keyspace) parse(key string) parsedKey {
	rel, ok := strings.CutPrefix(key, k.prefix)
	if !ok {
		return parsedKey{}
	}
	switch {
	case rel == clusterIDKey:
		return parsedKey{kind: kindClusterID}
	case strings.HasPrefix(rel, brokersDir):
		id, err := parseInt32(rel[len(brokersDir):])
		if err != nil {
			return parsedKey{}
		}
		return parsedKey{kind: kindBroker, broker: id}
	case strings.HasPrefix(rel, brokerIDsDir):
		id, err := parseInt32(rel[len(brokerIDsDir):])
		if err != nil {
			return parsedKey{}
		}
		return parsedKey{kind: kindBrokerIDRecord, broker: id}
	case strings.HasPrefix(rel, topicsDir):
		name := rel[len(topicsDir):]
		if ValidateTopicName(name) != nil {
			return parsedKey{}
		}
		return parsedKey{kind: kindTopic, topic: name}
	case strings.HasPrefix(rel, brokerConfigsDir):
		return parseBrokerConfigsKey(rel[len(brokerConfigsDir):])
	case strings.HasPrefix(rel, controllerDir) && len(rel) > len(controllerDir):
		return parsedKey{kind: kindController}
	case strings.HasPrefix(rel, partitionsDir):
		topic, n, ok := strings.Cut(rel[len(partitionsDir):], "/")
		if !ok || ValidateTopicName(topic) != nil {
			return parsedKey{}
		}
		p, err := parseInt32(n)
		if err != nil {
			return parsedKey{}
		}
		return parsedKey{kind: kindPartition, topic: topic, partition: p}
	}
	return parsedKey{}
}

// parseInt32 parses a non-negative decimal int32 in canonical form (no sign,
// no leading zeros), so that one number has exactly one key.
func parseInt32(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("cluster: %q is not a canonical non-negative int32", s)
	}
	return int32(n), nil
}

// Stored values. The structs here are the JSON formats of the package doc.

type clusterIDValue struct {
	ID string `json:"id"`
}

type topicValue struct {
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs"`
}

type producerIDsValue struct {
	Next int64 `json:"next"`
}

type controllerValue struct {
	ID int32 `json:"id"`
}

// ControllerValue returns the value a broker campaigns with in the
// controller election: its id, which the Cache reads back into
// Snapshot.ControllerID.
func ControllerValue(brokerID int32) string { return mustJSON(controllerValue{ID: brokerID}) }

func decodeController(key string, b []byte) (int32, error) {
	v := controllerValue{ID: -1}
	if err := json.Unmarshal(b, &v); err != nil || v.ID < 0 {
		return -1, fmt.Errorf("%w at %s: %q", ErrMalformed, key, b)
	}
	return v.ID, nil
}

func encodeTopic(id [16]byte, partitions int32, configs map[string]string) string {
	if configs == nil {
		configs = map[string]string{}
	}
	return mustJSON(topicValue{ID: FormatID(id), Partitions: partitions, Configs: configs})
}

func decodeTopic(key string, b []byte) (topicValue, [16]byte, error) {
	var v topicValue
	if err := json.Unmarshal(b, &v); err != nil {
		return v, [16]byte{}, fmt.Errorf("%w at %s: %v", ErrMalformed, key, err)
	}
	id, err := ParseID(v.ID)
	if err != nil {
		return v, id, fmt.Errorf("%s: %w", key, err)
	}
	if v.Partitions < 0 {
		return v, id, fmt.Errorf("%w at %s: %d partitions", ErrMalformed, key, v.Partitions)
	}
	if v.Configs == nil {
		v.Configs = map[string]string{}
	}
	return v, id, nil
}

func encodePartition(p *PartitionState) string {
	q := *p
	// Replicas and ISR always appear, as [] rather than null.
	if q.Replicas == nil {
		q.Replicas = []int32{}
	}
	if q.ISR == nil {
		q.ISR = []int32{}
	}
	return mustJSON(&q)
}

func decodePartition(key string, b []byte, rev int64) (PartitionState, error) {
	var p PartitionState
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%w at %s: %v", ErrMalformed, key, err)
	}
	p.Revision = rev
	return p, nil
}

// idRecord is the value of broker-ids/<id>: the rack and log directories
// of the id's latest registration.
type idRecord struct {
	Rack        string   `json:"rack"`
	Directories []string `json:"directories"`
}

func encodeIDRecord(reg *Registration) string {
	v := idRecord{Rack: reg.Rack, Directories: reg.Directories}
	if v.Directories == nil {
		v.Directories = []string{} // [] rather than null, as in the package doc
	}
	return mustJSON(v)
}

func decodeIDRecord(key string, b []byte) (idRecord, error) {
	var v idRecord
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%w at %s: %v", ErrMalformed, key, err)
	}
	return v, nil
}

func decodeBroker(key string, b []byte) (BrokerInfo, error) {
	var bi BrokerInfo
	if err := json.Unmarshal(b, &bi); err != nil {
		return bi, fmt.Errorf("%w at %s: %v", ErrMalformed, key, err)
	}
	return bi, nil
}

// mustJSON encodes values whose types cannot fail to encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cluster: encoding %T: %v", v, err))
	}
	return string(b)
}
