package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Dynamic broker configs are broker keys changed at runtime through the
// AlterConfigs APIs instead of server.properties. As in Kafka they come in
// two layers: the cluster-wide default (resource name "") and one per
// broker (resource name = broker id). A key's value is, in precedence
// order: this broker's dynamic value, the dynamic default, the static value
// (server.properties or an override), the built-in default.
//
// Only keys the broker can apply without a restart are dynamic: the broker
// defaults of topic keys that each replica re-reads when its configuration
// changes (partition.SetConfig), and unclean.leader.election.enable, which
// the controller reads whenever it elects. Kafka allows more (retention,
// segment sizes, listeners...); spotstream rejects those until it has a
// runtime path for them, rather than storing a value it would not apply.
var dynamicBrokerKeys = []string{
	"broker.drain",
	"log.flush.interval.messages",
	"log.message.timestamp.type",
	"message.max.bytes",
	"min.insync.replicas",
	"unclean.leader.election.enable",
}

// ErrNotDynamic is wrapped, in addition to ErrInvalidConfig, by the error
// for a broker key that cannot be changed at runtime. The Kafka API layer
// maps it to INVALID_REQUEST, as Kafka does ("Cannot update these configs
// dynamically").
var ErrNotDynamic = errors.New("config: cannot be changed dynamically")

// IsDynamic reports whether a broker key can be changed at runtime.
func IsDynamic(name string) bool { return slices.Contains(dynamicBrokerKeys, name) }

// DynamicBrokerKeys returns the broker keys that can be changed at runtime,
// sorted.
func DynamicBrokerKeys() []string { return slices.Clone(dynamicBrokerKeys) }

// notDynamicError is the error for a broker key that is known but static.
type notDynamicError struct{ key string }

func (e *notDynamicError) Error() string {
	return fmt.Sprintf("config: %s: cannot be changed dynamically (Kafka: Cannot update these configs dynamically); "+
		"set it in server.properties and restart. Dynamic keys: %s", e.key, strings.Join(dynamicBrokerKeys, ", "))
}

func (e *notDynamicError) Unwrap() []error { return []error{ErrNotDynamic, ErrInvalidConfig} }

// CheckDynamicBrokerKey checks that name is a broker key that can be
// changed at runtime. Unknown keys wrap ErrInvalidConfig and ErrUnknownKey;
// static keys ErrNotDynamic and ErrInvalidConfig.
func CheckDynamicBrokerKey(name string) error {
	if _, ok := brokerIndex[name]; !ok {
		if tk, ok := topicIndex[name]; ok {
			return unknownKey(name, fmt.Sprintf("it is a topic key; the broker-wide default is %s", tk.Synonyms[0]))
		}
		return unknownKey(name, "not a broker config spotstream supports")
	}
	if !IsDynamic(name) {
		return &notDynamicError{key: name}
	}
	return nil
}

// CheckTopicKey checks that name is a topic key, with the errors of
// ValidateTopicConfigs for one that is not (naming the topic key when name
// is a broker synonym).
func CheckTopicKey(name string) error {
	if _, ok := topicIndex[name]; !ok {
		return unknownTopicKey(name)
	}
	return nil
}

// ValidateDynamicBrokerConfigs checks a set of dynamic broker configs (one
// layer: the cluster default or one broker's): every key must be a dynamic
// broker key with a valid value. The error joins one error per problem, in
// key order; all wrap ErrInvalidConfig.
func ValidateDynamicBrokerConfigs(configs map[string]string) error {
	_, err := parseDynamic(configs)
	return err
}

func parseDynamic(configs map[string]string) (map[string]any, error) {
	vals := make(map[string]any, len(configs))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		if err := CheckDynamicBrokerKey(name); err != nil {
			errs = append(errs, err)
			continue
		}
		v, err := brokerIndex[name].parse(configs[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vals[name] = v
	}
	return vals, errors.Join(errs...)
}

// dynamicLayer is the dynamic configuration a broker applies: immutable,
// replaced as a whole by SetDynamic.
type dynamicLayer struct {
	defaults  map[string]any       // cluster-wide, parsed
	broker    map[string]any       // this broker's, parsed
	canonical [2]map[string]string // defaults, broker: formatted, to detect changes
}

// SetDynamic installs the dynamic broker configs this broker applies: the
// cluster-wide defaults and its own. It reports whether the effective
// dynamic configuration changed, so that the caller reconfigures what
// depends on it only then. Invalid entries (the APIs validate before
// writing; these could only come from a hand edit of etcd) are skipped and
// returned as an error, so that they never stop the broker. It is safe to
// call concurrently with readers.
func (b *Broker) SetDynamic(defaults, broker map[string]string) (changed bool, err error) {
	d, errD := parseDynamic(defaults)
	p, errB := parseDynamic(broker)
	if errD != nil {
		errD = fmt.Errorf("cluster-wide dynamic broker configs: %w", errD)
	}
	if errB != nil {
		errB = fmt.Errorf("dynamic configs of broker %d: %w", b.BrokerID, errB)
	}
	next := &dynamicLayer{defaults: d, broker: p, canonical: [2]map[string]string{formatAll(d), formatAll(p)}}
	cur := b.dyn.Load()
	if cur == nil {
		cur = &dynamicLayer{}
	}
	if maps.Equal(cur.canonical[0], next.canonical[0]) && maps.Equal(cur.canonical[1], next.canonical[1]) {
		return false, nil // reported when the layer was installed
	}
	b.dyn.Store(next)
	return true, errors.Join(errD, errB)
}

func formatAll(vals map[string]any) map[string]string {
	m := make(map[string]string, len(vals))
	for k, v := range vals {
		m[k] = format(v)
	}
	return m
}

// dynamic returns the installed layer, an empty one before SetDynamic.
func (b *Broker) dynamic() *dynamicLayer {
	if d := b.dyn.Load(); d != nil {
		return d
	}
	return &dynamicLayer{}
}

// TopicDefaults returns the effective configuration of a topic without
// overrides: LogDefaults with the dynamic broker configs applied.
func (b *Broker) TopicDefaults() TopicConfig {
	cfg := b.LogDefaults.clone()
	b.dynamic().apply(&cfg)
	return cfg
}

// TopicDefault returns the effective default of a topic key in canonical
// form (what a topic without an override of it has), and false for an
// unknown key. IncrementalAlterConfigs APPEND and SUBTRACT start from it.
func (b *Broker) TopicDefault(name string) (string, bool) {
	if _, ok := topicIndex[name]; !ok {
		return "", false
	}
	cfg := b.TopicDefaults()
	return format(cfg.get(name)), true
}

// apply sets each topic key whose broker synonyms have a dynamic value: the
// first synonym set for this broker, else the first set cluster-wide, as
// Kafka orders them.
func (d *dynamicLayer) apply(cfg *TopicConfig) {
	if len(d.defaults) == 0 && len(d.broker) == 0 {
		return
	}
	for _, tk := range topicKeys {
		if v, name, ok := d.lookup(tk.Synonyms); ok {
			if unit := brokerIndex[name].unitMs; unit != 0 {
				v = v.(int64) * unit
			}
			cfg.set(tk.Name, v)
		}
	}
}

// lookup returns the dynamic value of the first of names set for this
// broker, else the first set cluster-wide.
func (d *dynamicLayer) lookup(names []string) (any, string, bool) {
	for _, layer := range []map[string]any{d.broker, d.defaults} {
		for _, name := range names {
			if v, ok := layer[name]; ok {
				return v, name, true
			}
		}
	}
	return nil, "", false
}

// synonyms lists the dynamic values of a group of broker keys, this
// broker's first, then the cluster-wide ones: the head of Kafka's synonym
// list.
func (d *dynamicLayer) synonyms(group []string) []Synonym {
	var syns []Synonym
	for i, src := range []Source{SourceDynamicBroker, SourceDynamicDefaultBroker} {
		layer := d.canonical[1-i]
		for _, name := range group {
			if s, ok := layer[name]; ok {
				syns = append(syns, Synonym{Name: name, Value: ptr(s), Source: src})
			}
		}
	}
	return syns
}
