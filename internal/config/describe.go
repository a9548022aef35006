package config

import (
	"cmp"
	"slices"
)

// Source says where a value comes from. The values are Kafka's
// DescribeConfigs ConfigSource codes (kmsg.ConfigSource).
type Source int8

// Config sources, numbered as in Kafka's DescribeConfigs.
const (
	SourceUnknown              Source = 0
	SourceDynamicTopic         Source = 1 // the topic's own config
	SourceDynamicBroker        Source = 2 // a dynamic config of this broker (SetDynamic)
	SourceDynamicDefaultBroker Source = 3 // a cluster-wide dynamic broker config
	SourceStaticBroker         Source = 4 // server.properties or --override
	SourceDefault              Source = 5 // the built-in default
)

// Entry is one key in a DescribeConfigs answer.
type Entry struct {
	Name string
	// Value is nil for a key without a value (no default, not set) and for
	// sensitive keys.
	Value *string
	// Source is where Value comes from: the first synonym's source.
	Source    Source
	Sensitive bool
	// ReadOnly is true for every broker key but the dynamic ones
	// (IsDynamic). Topic keys are not read-only.
	ReadOnly bool
	Type     Type
	Doc      string
	// Synonyms are every value that could decide this key, highest
	// precedence first, as Kafka reports them with include_synonyms.
	Synonyms []Synonym
}

// Synonym is one candidate value of a described key.
type Synonym struct {
	Name   string
	Value  *string
	Source Source
}

// Describe returns every broker key, sorted by name, as DescribeConfigs
// reports a broker resource. The value is the key's own (dynamic for this
// broker, dynamic cluster-wide, set statically, or default),
// not a value derived from its synonyms: log.retention.ms stays null when
// only log.retention.hours is set, as in Kafka.
func (b *Broker) Describe() []Entry {
	entries := make([]Entry, 0, len(brokerKeys))
	for _, k := range brokerKeys {
		e := Entry{Name: k.Name, Sensitive: k.Sensitive(), ReadOnly: !IsDynamic(k.Name), Type: k.Type, Doc: k.Doc}
		if syns := b.dynamic().synonyms([]string{k.Name}); len(syns) > 0 {
			e.Value = syns[0].Value
		} else if s, ok := b.set[k.Name]; ok {
			e.Value = ptr(s)
		} else if !k.Null {
			e.Value = ptr(format(k.mustParseDefault()))
		}
		group := k.Synonyms
		if group == nil {
			group = []string{k.Name}
		}
		e.Synonyms = b.brokerSynonyms(group)
		// As Kafka: skip synonyms of higher precedence than the key itself.
		if i := slices.IndexFunc(e.Synonyms, func(s Synonym) bool { return s.Name == k.Name }); i >= 0 {
			e.Synonyms = e.Synonyms[i:]
		} else {
			e.Synonyms = nil
		}
		e.Source = SourceDefault
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		if e.Sensitive {
			hide(&e)
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	return entries
}

// brokerSynonyms lists, for a group of broker keys in precedence order, the
// dynamic values of this broker, the cluster-wide dynamic values, the values
// set statically and then the defaults, as Kafka does.
func (b *Broker) brokerSynonyms(group []string) []Synonym {
	syns := b.dynamic().synonyms(group)
	for _, name := range group {
		if s, ok := b.set[name]; ok {
			syns = append(syns, Synonym{Name: name, Value: ptr(s), Source: SourceStaticBroker})
		}
	}
	for _, name := range group {
		if k := brokerIndex[name]; !k.Null {
			syns = append(syns, Synonym{Name: name, Value: ptr(format(k.mustParseDefault())), Source: SourceDefault})
		}
	}
	return syns
}

// DescribeTopic returns every topic key, sorted by name, as DescribeConfigs
// reports a topic with the given overrides. Values are effective values
// (retention.ms in milliseconds even when log.retention.hours supplies it).
// Synonyms list the topic override, then the dynamic broker configs (this
// broker's, then cluster-wide), then the broker keys set in
// server.properties, then broker defaults; the source is that of the first.
// (Kafka omits the broker synonyms when the first broker key of the chain,
// log.retention.ms, is unset; spotstream reports them, so that a topic
// whose retention comes from log.retention.hours says so.)
//
// Overrides are expected to be valid; unknown keys are skipped, and an
// invalid value is shown as given.
func (b *Broker) DescribeTopic(overrides map[string]string) []Entry {
	defaults := b.TopicDefaults()
	entries := make([]Entry, 0, len(topicKeys))
	for _, k := range topicKeys {
		e := Entry{Name: k.Name, Sensitive: k.Sensitive(), Type: k.Type, Doc: k.Doc}
		if raw, ok := overrides[k.Name]; ok {
			value := raw
			if v, err := k.parse(raw); err == nil {
				value = format(v)
			}
			e.Value = ptr(value)
			e.Synonyms = append(e.Synonyms, Synonym{Name: k.Name, Value: ptr(value), Source: SourceDynamicTopic})
		} else {
			e.Value = ptr(format(defaults.get(k.Name)))
		}
		e.Synonyms = append(e.Synonyms, b.brokerSynonyms(k.Synonyms)...)
		e.Source = SourceDefault
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		if e.Sensitive {
			hide(&e)
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	return entries
}

func ptr(s string) *string { return &s }

// hide removes the values of a sensitive entry.
func hide(e *Entry) {
	e.Value = nil
	for i := range e.Synonyms {
		e.Synonyms[i].Value = nil
	}
}
