package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// TopicConfig is the effective configuration of a topic. Times are
// Durations converted from Kafka's milliseconds with Millis, so Kafka's
// Long.MAX_VALUE ("never") is the largest Duration.
type TopicConfig struct {
	// CleanupPolicy holds "delete", "compact" or both.
	CleanupPolicy []string
	// CompressionType is always "producer": batches are stored as sent.
	CompressionType string
	// FlushMessages forces a sync after this many unsynced records.
	FlushMessages int64
	// FlushInterval forces a sync when the oldest unsynced record is this old.
	FlushInterval time.Duration
	// IndexIntervalBytes is the spacing of sparse index entries.
	IndexIntervalBytes int
	// MaxMessageBytes is the largest batch accepted.
	MaxMessageBytes int32
	// MessageTimestampAfterMax and MessageTimestampBeforeMax bound how
	// far a CreateTime timestamp may be ahead of or behind the broker clock.
	MessageTimestampAfterMax  time.Duration
	MessageTimestampBeforeMax time.Duration
	// LogAppendTime is message.timestamp.type=LogAppendTime: the broker
	// stamps batches with its clock. False is CreateTime.
	LogAppendTime bool
	// MinInsyncReplicas is the smallest ISR accepting acks=all writes.
	MinInsyncReplicas int
	// Preallocate allocates new segment files at full size.
	Preallocate bool
	// RetentionBytes is the size limit of a partition; -1 for none.
	RetentionBytes int64
	// Retention is the age limit of closed segments; negative (-1 ms)
	// for none.
	Retention time.Duration
	// SegmentBytes is the size at which the active segment rolls.
	SegmentBytes int64
	// SegmentAge is the age at which the active segment rolls.
	SegmentAge time.Duration
	// UncleanLeaderElection lets an out-of-sync replica become leader.
	UncleanLeaderElection bool
}

// Delete reports whether old segments are deleted by retention.
func (t TopicConfig) Delete() bool { return slices.Contains(t.CleanupPolicy, "delete") }

// Compact reports whether the topic is compacted.
func (t TopicConfig) Compact() bool { return slices.Contains(t.CleanupPolicy, "compact") }

// topicFields maps each topic key to its TopicConfig field.
var topicFields = map[string]func(t *TopicConfig) any{
	"cleanup.policy":                  func(t *TopicConfig) any { return &t.CleanupPolicy },
	"compression.type":                func(t *TopicConfig) any { return &t.CompressionType },
	"flush.messages":                  func(t *TopicConfig) any { return &t.FlushMessages },
	"flush.ms":                        func(t *TopicConfig) any { return &t.FlushInterval },
	"index.interval.bytes":            func(t *TopicConfig) any { return &t.IndexIntervalBytes },
	"max.message.bytes":               func(t *TopicConfig) any { return &t.MaxMessageBytes },
	"message.timestamp.after.max.ms":  func(t *TopicConfig) any { return &t.MessageTimestampAfterMax },
	"message.timestamp.before.max.ms": func(t *TopicConfig) any { return &t.MessageTimestampBeforeMax },
	"message.timestamp.type":          func(t *TopicConfig) any { return (*timestampType)(&t.LogAppendTime) },
	"min.insync.replicas":             func(t *TopicConfig) any { return &t.MinInsyncReplicas },
	"preallocate":                     func(t *TopicConfig) any { return &t.Preallocate },
	"retention.bytes":                 func(t *TopicConfig) any { return &t.RetentionBytes },
	"retention.ms":                    func(t *TopicConfig) any { return &t.Retention },
	"segment.bytes":                   func(t *TopicConfig) any { return &t.SegmentBytes },
	"segment.ms":                      func(t *TopicConfig) any { return &t.SegmentAge },
	"unclean.leader.election.enable":  func(t *TopicConfig) any { return &t.UncleanLeaderElection },
}

// timestampType is LogAppendTime seen as message.timestamp.type's string.
type timestampType bool

// set stores a parsed value (as Key.parse returns it) in the field of key.
func (t *TopicConfig) set(key string, v any) {
	switch p := topicFields[key](t).(type) {
	case *timestampType:
		*p = v.(string) == "LogAppendTime"
	case *[]string:
		*p = slices.Clone(v.([]string))
	case *string:
		*p = v.(string)
	case *bool:
		*p = v.(bool)
	case *int:
		*p = int(v.(int64))
	case *int32:
		*p = int32(v.(int64))
	case *int64:
		*p = v.(int64)
	case *time.Duration:
		*p = Millis(v.(int64))
	default:
		panic("config: unhandled topic field type for " + key)
	}
}

// get returns the field of key in the form Key.parse returns.
func (t *TopicConfig) get(key string) any {
	switch p := topicFields[key](t).(type) {
	case *timestampType:
		if *p {
			return "LogAppendTime"
		}
		return "CreateTime"
	case *[]string:
		return *p
	case *string:
		return *p
	case *bool:
		return *p
	case *int:
		return int64(*p)
	case *int32:
		return int64(*p)
	case *int64:
		return *p
	case *time.Duration:
		if *p == math.MaxInt64 {
			return int64(math.MaxInt64) // Millis saturated: "never"
		}
		return p.Milliseconds()
	}
	panic("config: unhandled topic field type for " + key)
}

// clone returns a copy that shares no memory with t.
func (t TopicConfig) clone() TopicConfig {
	t.CleanupPolicy = slices.Clone(t.CleanupPolicy)
	return t
}

// parseTopicOverrides parses topic configs; unknown keys and invalid values
// are errors. Keys are checked in sorted order so the errors are stable.
func parseTopicOverrides(overrides map[string]string) (map[string]any, error) {
	vals := make(map[string]any, len(overrides))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		k, ok := topicIndex[name]
		if !ok {
			errs = append(errs, unknownTopicKey(name))
			continue
		}
		v, err := k.parse(overrides[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vals[name] = v
	}
	return vals, errors.Join(errs...)
}

func unknownTopicKey(name string) *Error {
	for _, k := range topicKeys {
		if slices.Contains(k.Synonyms, name) {
			return unknownKey(name, fmt.Sprintf("it is a broker key; the topic config is %s", k.Name))
		}
	}
	if _, ok := brokerIndex[name]; ok {
		return unknownKey(name, "it is a broker key, not a topic config")
	}
	return unknownKey(name, "not a topic config spotstream supports")
}

// ValidateTopicConfigs checks the configs of CreateTopics or AlterConfigs:
// every key must be a known topic key with a valid value. The error joins
// one *Error per problem; all wrap ErrInvalidConfig, and unknown keys also
// ErrUnknownKey.
func ValidateTopicConfigs(overrides map[string]string) error {
	_, err := parseTopicOverrides(overrides)
	return err
}

// Topic returns the effective configuration of a topic with the given
// overrides: each key from the overrides, else from its broker synonyms,
// else from their defaults. It starts from b.LogDefaults, so a test may
// adjust that field directly, with the dynamic broker configs applied
// (TopicDefaults). It fails like ValidateTopicConfigs.
func (b *Broker) Topic(overrides map[string]string) (TopicConfig, error) {
	vals, err := parseTopicOverrides(overrides)
	if err != nil {
		return TopicConfig{}, err
	}
	cfg := b.TopicDefaults()
	for name, v := range vals {
		cfg.set(name, v)
	}
	return cfg, nil
}
