package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckDynamicBrokerKey(t *testing.T) {
	tests := []struct {
		name       string
		notDynamic bool
		unknown    bool
	}{
		{name: "min.insync.replicas"},
		{name: "unclean.leader.election.enable"},
		{name: "message.max.bytes"},
		{name: "log.dirs", notDynamic: true},
		{name: "log.retention.ms", notDynamic: true}, // no runtime path yet
		{name: "retention.ms", unknown: true},        // a topic key
		{name: "no.such.key", unknown: true},
	}
	for _, tt := range tests {
		err := CheckDynamicBrokerKey(tt.name)
		if (err != nil) != (tt.notDynamic || tt.unknown) || errors.Is(err, ErrNotDynamic) != tt.notDynamic || errors.Is(err, ErrUnknownKey) != tt.unknown {
			t.Errorf("CheckDynamicBrokerKey(%q) = %v", tt.name, err)
		}
		if err != nil && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.name)) {
			t.Errorf("CheckDynamicBrokerKey(%q) = %v; want ErrInvalidConfig naming the key", tt.name, err)
		}
	}
	if err := CheckDynamicBrokerKey("log.dirs"); !strings.Contains(err.Error(), "cannot be changed dynamically") {
		t.Errorf("static key: %v", err)
	}
	if err := CheckDynamicBrokerKey("retention.ms"); !strings.Contains(err.Error(), "log.retention.ms") {
		t.Errorf("topic key: %v; want the broker key suggested", err)
	}
}

func TestValidateDynamicBrokerConfigs(t *testing.T) {
	if err := ValidateDynamicBrokerConfigs(map[string]string{"min.insync.replicas": "2", "log.message.timestamp.type": "LogAppendTime"}); err != nil {
		t.Errorf("valid configs: %v", err)
	}
	err := ValidateDynamicBrokerConfigs(map[string]string{"min.insync.replicas": "0", "log.dirs": "/x", "unclean.leader.election.enable": "yes"})
	for _, want := range []string{"min.insync.replicas", "log.dirs", "unclean.leader.election.enable"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// TestSetDynamic: a dynamic value for this broker beats the cluster-wide
// one, which beats server.properties; topic overrides beat them all.
func TestSetDynamic(t *testing.T) {
	b := mustBroker(t, map[string]string{"broker.id": "1", "min.insync.replicas": "2", "message.max.bytes": "5000"})
	if changed, err := b.SetDynamic(nil, nil); changed || err != nil {
		t.Errorf("SetDynamic(nothing) = %v, %v; want no change", changed, err)
	}
	changed, err := b.SetDynamic(
		map[string]string{"min.insync.replicas": "3", "unclean.leader.election.enable": "true"},
		map[string]string{"min.insync.replicas": " 4 ", "log.dirs": "/ignored"})
	if !changed || err == nil || !strings.Contains(err.Error(), "log.dirs") {
		t.Errorf("SetDynamic = %v, %v; want a change and the invalid entry reported", changed, err)
	}
	if changed, err := b.SetDynamic(
		map[string]string{"unclean.leader.election.enable": "TRUE", "min.insync.replicas": "3"},
		map[string]string{"min.insync.replicas": "4", "log.dirs": "/ignored"}); changed || err != nil {
		t.Errorf("SetDynamic(same values) = %v, %v; want no change", changed, err)
	}

	d := b.TopicDefaults()
	if d.MinInsyncReplicas != 4 || !d.UncleanLeaderElection || d.MaxMessageBytes != 5000 {
		t.Errorf("TopicDefaults: min.insync %d unclean %v max.message %d", d.MinInsyncReplicas, d.UncleanLeaderElection, d.MaxMessageBytes)
	}
	if b.LogDefaults.MinInsyncReplicas != 2 {
		t.Errorf("LogDefaults changed: %d", b.LogDefaults.MinInsyncReplicas)
	}
	if v, _ := b.TopicDefault("min.insync.replicas"); v != "4" {
		t.Errorf("TopicDefault = %q", v)
	}
	tc, err := b.Topic(map[string]string{"unclean.leader.election.enable": "false"})
	if err != nil || tc.MinInsyncReplicas != 4 || tc.UncleanLeaderElection {
		t.Errorf("Topic = %+v, %v", tc, err)
	}

	topic := b.DescribeTopic(nil)
	broker := b.Describe()
	tests := []struct {
		entries  []Entry
		name     string
		value    string
		source   Source
		synonyms []string
	}{
		{topic, "min.insync.replicas", "4", SourceDynamicBroker, []string{"BROKER:min.insync.replicas=4",
			"CLUSTER:min.insync.replicas=3", "STATIC:min.insync.replicas=2", "DEFAULT:min.insync.replicas=1"}},
		{topic, "unclean.leader.election.enable", "true", SourceDynamicDefaultBroker, []string{
			"CLUSTER:unclean.leader.election.enable=true", "DEFAULT:unclean.leader.election.enable=false"}},
		{topic, "max.message.bytes", "5000", SourceStaticBroker, []string{"STATIC:message.max.bytes=5000", "DEFAULT:message.max.bytes=1048588"}},
		{broker, "min.insync.replicas", "4", SourceDynamicBroker, []string{"BROKER:min.insync.replicas=4",
			"CLUSTER:min.insync.replicas=3", "STATIC:min.insync.replicas=2", "DEFAULT:min.insync.replicas=1"}},
		{broker, "unclean.leader.election.enable", "true", SourceDynamicDefaultBroker, []string{
			"CLUSTER:unclean.leader.election.enable=true", "DEFAULT:unclean.leader.election.enable=false"}},
	}
	for _, tt := range tests {
		e := find(tt.entries, tt.name)
		if val(e.Value) != tt.value || e.Source != tt.source || !slices.Equal(synonyms(e), tt.synonyms) {
			t.Errorf("%s: value %s source %d synonyms %q\nwant %s %d %q", tt.name, val(e.Value), e.Source, synonyms(e), tt.value, tt.source, tt.synonyms)
		}
	}
	if e := find(broker, "min.insync.replicas"); e.ReadOnly {
		t.Errorf("dynamic key described read-only")
	}
	if e := find(broker, "log.dirs"); !e.ReadOnly {
		t.Errorf("static key described writable")
	}

	// Removing the layers restores the static values.
	if changed, _ := b.SetDynamic(nil, nil); !changed {
		t.Errorf("clearing the dynamic configs changed nothing")
	}
	if d := b.TopicDefaults(); d.MinInsyncReplicas != 2 || d.UncleanLeaderElection {
		t.Errorf("after clearing: %+v", d)
	}
}
