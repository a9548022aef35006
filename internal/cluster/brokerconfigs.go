package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ClusterDefault names the cluster-wide layer of dynamic broker configs in
// the methods that take a broker id (Kafka's broker resource named "").
const ClusterDefault int32 = -1

// Keys of the dynamic broker configs (see the package doc).
const (
	brokerConfigsDir     = "configs/brokers/"
	brokerConfigsDefault = "default"
)

func (k keyspace) brokerConfigs(broker int32) string {
	if broker == ClusterDefault {
		return k.prefix + brokerConfigsDir + brokerConfigsDefault
	}
	return k.prefix + brokerConfigsDir + fmt.Sprint(broker)
}

// parseBrokerConfigsKey parses the part of a key after configs/brokers/.
func parseBrokerConfigsKey(rest string) parsedKey {
	if rest == brokerConfigsDefault {
		return parsedKey{kind: kindBrokerConfigs, broker: ClusterDefault}
	}
	id, err := parseInt32(rest)
	if err != nil {
		return parsedKey{}
	}
	return parsedKey{kind: kindBrokerConfigs, broker: id}
}

// brokerConfigsValue is the JSON value of a configs/brokers/ key.
type brokerConfigsValue struct {
	Configs map[string]string `json:"configs"`
}

func decodeBrokerConfigs(key string, b []byte) (map[string]string, error) {
	var v brokerConfigsValue
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrMalformed, key, err)
	}
	if v.Configs == nil {
		v.Configs = map[string]string{}
	}
	return v.Configs, nil
}

// UpdateBrokerConfigs applies fn to a copy of the dynamic configs of a
// broker (ClusterDefault for the cluster-wide layer) and writes the result
// with a compare-and-swap, retrying on conflict, like UpdateTopicConfigs.
// An empty result deletes the key. fn may run more than once; its error
// aborts the update and is returned as is. It returns the revision of the
// write, or 0 when there was nothing to write (no key, empty result).
//
// The configs are not interpreted here; the caller validates them (package
// config knows which keys are dynamic).
func (s *Store) UpdateBrokerConfigs(ctx context.Context, broker int32, fn func(configs map[string]string) error) (int64, error) {
	if broker < 0 && broker != ClusterDefault {
		return 0, fmt.Errorf("cluster: dynamic configs of broker %d: not a broker id", broker)
	}
	key := s.keys.brokerConfigs(broker)
	var fnErr error
	tr, err := s.cas(ctx, key, func(kv *mvccpb.KeyValue) ([]clientv3.Op, error) {
		configs := map[string]string{}
		if kv != nil {
			cur, err := decodeBrokerConfigs(key, kv.Value)
			if err != nil {
				return nil, err
			}
			configs = maps.Clone(cur)
		}
		if fnErr = fn(configs); fnErr != nil {
			return nil, fnErr
		}
		switch {
		case len(configs) > 0:
			return []clientv3.Op{clientv3.OpPut(key, mustJSON(brokerConfigsValue{Configs: configs}))}, nil
		case kv != nil:
			return []clientv3.Op{clientv3.OpDelete(key)}, nil
		}
		return nil, nil
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: updating dynamic configs at %s: %w", key, err)
	}
	if tr == nil {
		return 0, nil
	}
	return tr.Header.Revision, nil
}

// SetBrokerConfigs replaces the dynamic configs of a broker (ClusterDefault
// for the cluster-wide layer), Kafka's AlterConfigs, and returns the
// revision of the write (0 when nothing was written).
func (s *Store) SetBrokerConfigs(ctx context.Context, broker int32, configs map[string]string) (int64, error) {
	return s.UpdateBrokerConfigs(ctx, broker, func(m map[string]string) error {
		clear(m)
		maps.Copy(m, configs)
		return nil
	})
}

// BrokerConfigs returns the dynamic configs of a broker (ClusterDefault for
// the cluster-wide layer) in s, never nil. The map is shared: do not
// modify it.
func (s *Snapshot) BrokerConfigs(broker int32) map[string]string {
	if m := s.DynamicBrokerConfigs[broker]; m != nil {
		return m
	}
	return map[string]string{}
}

// dynamicConfigs returns the snapshot's dynamic broker configs map, copied
// the first time this builder changes it.
func (b *builder) dynamicConfigs() map[int32]map[string]string {
	if !b.brokerConfigsCopied {
		b.next.DynamicBrokerConfigs = maps.Clone(b.old.DynamicBrokerConfigs)
		if b.next.DynamicBrokerConfigs == nil {
			b.next.DynamicBrokerConfigs = map[int32]map[string]string{}
		}
		b.brokerConfigsCopied = true
	}
	return b.next.DynamicBrokerConfigs
}

// DrainConfig is the dynamic broker config by which an operator drains a
// broker (spotstream broker drain): "leadership" or "full". It lives with
// the broker's other dynamic configs, so that the drain survives the
// broker's restarts, and Kafka's own tools can set and clear it.
const DrainConfig = "broker.drain"

// operatorDrains fills in each broker's OperatorDrain from its dynamic
// configs, after a change to either.
func (b *builder) operatorDrains() {
	for id, info := range b.next.Brokers {
		d, err := ParseDrain(b.next.DynamicBrokerConfigs[id][DrainConfig])
		if err != nil {
			b.log.Warn("ignoring malformed drain", "broker", id, "err", err)
		}
		if d != info.OperatorDrain {
			info.OperatorDrain = d
			b.brokers()[id] = info
		}
	}
}

// applyBrokerConfigs applies a change of a configs/brokers/ key.
func (b *builder) applyBrokerConfigs(key string, broker int32, kv *mvccpb.KeyValue, deleted bool) {
	if deleted {
		delete(b.dynamicConfigs(), broker)
		return
	}
	configs, err := decodeBrokerConfigs(key, kv.Value)
	if err != nil {
		b.malformed(key, err)
		delete(b.dynamicConfigs(), broker)
		return
	}
	b.dynamicConfigs()[broker] = configs
}
