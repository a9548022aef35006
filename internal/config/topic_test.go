package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateTopicConfigs(t *testing.T) {
	valid := map[string]string{
		"cleanup.policy": "compact,delete", "compression.type": "producer", "flush.messages": "1",
		"flush.ms": "0", "index.interval.bytes": "0", "max.message.bytes": "10485760",
		"message.timestamp.after.max.ms": "0", "message.timestamp.before.max.ms": "86400000",
		"message.timestamp.type": "LogAppendTime", "min.insync.replicas": "2", "preallocate": "false",
		"retention.bytes": "-1", "retention.ms": "-1", "segment.bytes": "1024", "segment.ms": "1",
		"unclean.leader.election.enable": "true",
	}
	if err := ValidateTopicConfigs(valid); err != nil {
		t.Fatal(err)
	}
	if err := ValidateTopicConfigs(nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		configs map[string]string
		unknown bool
		want    string
	}{
		{map[string]string{"segment.bytes": "100"}, false, `invalid value "100" for segment.bytes: must be at least 1024`},
		{map[string]string{"retention.ms": "-2"}, false, "at least -1"},
		{map[string]string{"retention.ms": "1h"}, false, `invalid value "1h" for retention.ms: expected an integer number of milliseconds (allowed: at least -1)`},
		{map[string]string{"min.insync.replicas": "0"}, false, "at least 1"},
		{map[string]string{"compression.type": "lz4"}, false, `"lz4" is not one of producer`},
		{map[string]string{"cleanup.policy": "compact,archive"}, false, `"archive" is not one of delete, compact`},
		{map[string]string{"message.timestamp.type": "Now"}, false, "not one of CreateTime, LogAppendTime"},
		{map[string]string{"preallocate": "1"}, false, "expected true or false"},
		{map[string]string{"segment.bytes": "3000000000"}, false, "fits in 32 bits"},
		{map[string]string{"delete.retention.ms": "1"}, true, `unknown key "delete.retention.ms": not a topic config spotstream supports`},
		{map[string]string{"log.retention.ms": "1"}, true, "it is a broker key; the topic config is retention.ms"},
		{map[string]string{"num.partitions": "1"}, true, "it is a broker key, not a topic config"},
	}
	for _, tt := range tests {
		err := ValidateTopicConfigs(tt.configs)
		if err == nil {
			t.Errorf("%v: no error", tt.configs)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrUnknownKey) != tt.unknown {
			t.Errorf("%v: err %v: ErrInvalidConfig %v, ErrUnknownKey %v (want %v)", tt.configs, err,
				errors.Is(err, ErrInvalidConfig), errors.Is(err, ErrUnknownKey), tt.unknown)
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("%v: err %q, want %q", tt.configs, err, tt.want)
		}
	}

	// Several problems are all reported, in key order.
	err := ValidateTopicConfigs(map[string]string{"segment.bytes": "1", "bogus": "x", "retention.ms": "y"})
	if got := strings.Count(err.Error(), "config: "); got != 3 {
		t.Errorf("err %q: %d problems, want 3", err, got)
	}
	if !strings.HasPrefix(err.Error(), `config: unknown key "bogus"`) {
		t.Errorf("err %q: not in key order", err)
	}
}

func TestTopicEffectiveConfig(t *testing.T) {
	b := mustBroker(t, map[string]string{
		"log.retention.hours": "24", "log.segment.bytes": "65536", "min.insync.replicas": "2",
		"log.cleanup.policy": "compact", "log.flush.on.ack": "false", "log.flush.interval.messages": "1000",
	})
	cfg, err := b.Topic(map[string]string{"retention.ms": "60000", "cleanup.policy": "delete,compact", "preallocate": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if lat, _ := b.Topic(map[string]string{"message.timestamp.type": "LogAppendTime"}); !lat.LogAppendTime {
		t.Error("LogAppendTime not set")
	}
	if e := find(b.DescribeTopic(map[string]string{"message.timestamp.type": "LogAppendTime"}), "message.timestamp.type"); val(e.Value) != "LogAppendTime" {
		t.Errorf("described %s", val(e.Value))
	}
	if e := find(b.DescribeTopic(nil), "message.timestamp.type"); val(e.Value) != "CreateTime" {
		t.Errorf("described %s", val(e.Value))
	}
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention != time.Minute || cfg.SegmentBytes != 65536 || cfg.MinInsyncReplicas != 2 || cfg.Preallocate ||
		cfg.FlushMessages != 1000 || !cfg.Delete() || !cfg.Compact() || cfg.LogAppendTime {
		t.Errorf("topic config %+v", cfg)
	}
	if d := b.LogDefaults; d.Retention != 24*time.Hour || d.Delete() || !d.Compact() || !d.Preallocate {
		t.Errorf("defaults %+v", d)
	}
	// Topic must not alias the broker's defaults.
	cfg.CleanupPolicy[0] = "mutated"
	if again, _ := b.Topic(nil); again.CleanupPolicy[0] != "compact" {
		t.Error("Topic shares CleanupPolicy with the broker defaults")
	}
	// Tests may adjust the broker defaults directly.
	b.LogDefaults.SegmentBytes = 2048
	if cfg, _ := b.Topic(nil); cfg.SegmentBytes != 2048 {
		t.Errorf("SegmentBytes %d after changing LogDefaults", cfg.SegmentBytes)
	}
	if e := find(b.DescribeTopic(nil), "segment.bytes"); val(e.Value) != "2048" {
		t.Errorf("described segment.bytes %s after changing LogDefaults", val(e.Value))
	}
	if _, err := b.Topic(map[string]string{"segment.bytes": "1"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("invalid override: err %v", err)
	}
}

func find(entries []Entry, name string) Entry {
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	return Entry{}
}

func val(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// synonyms renders synonyms as "SOURCE:name=value" for comparisons.
func synonyms(e Entry) []string {
	var out []string
	for _, s := range e.Synonyms {
		out = append(out, sourceName[s.Source]+":"+s.Name+"="+val(s.Value))
	}
	return out
}

var sourceName = map[Source]string{
	SourceDynamicTopic: "TOPIC", SourceDynamicBroker: "BROKER", SourceDynamicDefaultBroker: "CLUSTER",
	SourceStaticBroker: "STATIC", SourceDefault: "DEFAULT",
}

func TestDescribeTopic(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "24", "log.segment.bytes": "65536"})
	entries := b.DescribeTopic(map[string]string{"segment.bytes": " 2048 ", "cleanup.policy": "delete, compact", "unknown.key": "1"})
	if len(entries) != len(topicKeys) || !slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("%d entries, sorted %v", len(entries), entries)
	}
	tests := []struct {
		name     string
		value    string
		source   Source
		synonyms []string
	}{
		{"segment.bytes", "2048", SourceDynamicTopic,
			[]string{"TOPIC:segment.bytes=2048", "STATIC:log.segment.bytes=65536", "DEFAULT:log.segment.bytes=1073741824"}},
		{"cleanup.policy", "delete,compact", SourceDynamicTopic,
			[]string{"TOPIC:cleanup.policy=delete,compact", "DEFAULT:log.cleanup.policy=delete"}},
		{"retention.ms", "86400000", SourceStaticBroker,
			[]string{"STATIC:log.retention.hours=24", "DEFAULT:log.retention.hours=168"}},
		{"segment.ms", "604800000", SourceDefault, []string{"DEFAULT:log.roll.hours=168"}},
		{"flush.ms", "9223372036854775807", SourceDefault, []string{"DEFAULT:log.flush.scheduler.interval.ms=9223372036854775807"}},
		{"preallocate", "true", SourceDefault, []string{"DEFAULT:log.preallocate=true"}},
		{"min.insync.replicas", "1", SourceDefault, []string{"DEFAULT:min.insync.replicas=1"}},
	}
	for _, tt := range tests {
		e := find(entries, tt.name)
		if val(e.Value) != tt.value || e.Source != tt.source || !slices.Equal(synonyms(e), tt.synonyms) {
			t.Errorf("%s: value %s source %d synonyms %q\nwant %s %d %q", tt.name, val(e.Value), e.Source, synonyms(e), tt.value, tt.source, tt.synonyms)
		}
		if e.ReadOnly || e.Sensitive || e.Doc == "" || e.Type == 0 {
			t.Errorf("%s: %+v", tt.name, e)
		}
	}
	if e := find(entries, "segment.bytes"); e.Type != Int {
		t.Errorf("segment.bytes type %v", e.Type)
	}
}

func TestDescribeBroker(t *testing.T) {
	b := mustBroker(t, map[string]string{"log.retention.hours": "24", "num.partitions": "3", "log.roll.ms": "1000"})
	entries := b.Describe()
	if len(entries) != len(brokerKeys) {
		t.Fatalf("%d entries", len(entries))
	}
	tests := []struct {
		name     string
		value    string
		source   Source
		synonyms []string
	}{
		{"num.partitions", "3", SourceStaticBroker, []string{"STATIC:num.partitions=3", "DEFAULT:num.partitions=1"}},
		{"log.segment.bytes", "1073741824", SourceDefault, []string{"DEFAULT:log.segment.bytes=1073741824"}},
		{"log.dirs", "<null>", SourceDefault, nil},
		{"log.retention.hours", "24", SourceStaticBroker, []string{"STATIC:log.retention.hours=24", "DEFAULT:log.retention.hours=168"}},
		// A key is described by its own value; Kafka drops synonyms of
		// higher precedence than the key itself.
		{"log.retention.ms", "<null>", SourceDefault, nil},
		{"log.roll.ms", "1000", SourceStaticBroker, []string{"STATIC:log.roll.ms=1000", "DEFAULT:log.roll.hours=168"}},
		{"log.roll.hours", "168", SourceDefault, []string{"DEFAULT:log.roll.hours=168"}},
		{"broker.capacity", "", SourceDefault, []string{"DEFAULT:broker.capacity="}},
	}
	for _, tt := range tests {
		e := find(entries, tt.name)
		if val(e.Value) != tt.value || e.Source != tt.source || !slices.Equal(synonyms(e), tt.synonyms) {
			t.Errorf("%s: value %s source %d synonyms %q\nwant %s %d %q", tt.name, val(e.Value), e.Source, synonyms(e), tt.value, tt.source, tt.synonyms)
		}
		if !e.ReadOnly || e.Doc == "" {
			t.Errorf("%s: %+v", tt.name, e)
		}
	}
}

func TestHideSensitive(t *testing.T) {
	e := Entry{Value: ptr("secret"), Synonyms: []Synonym{{Name: "k", Value: ptr("secret")}}}
	hide(&e)
	if e.Value != nil || e.Synonyms[0].Value != nil {
		t.Errorf("%+v", e)
	}
}
