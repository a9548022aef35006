package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests of IncrementalAlterConfigs and AlterConfigs, through franz-go's kadm
// and sarama's ClusterAdmin.

func ptrTo(s string) *string { return &s }

// cval returns a described config's value, "" for none.
func cval(c kadm.Config) string { return c.MaybeValue() }

func configCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// describedTopic returns a topic's described configs by key.
func describedTopic(t *testing.T, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(configCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	out := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		out[c.Key] = c
	}
	return out
}

// alterResult returns a function that takes what an alter call of kadm
// returns and gives its single result: alterResult(t)(adm.AlterX(...)).
func alterResult(t *testing.T) func(kadm.AlterConfigsResponses, error) kadm.AlterConfigsResponse {
	return func(resps kadm.AlterConfigsResponses, err error) kadm.AlterConfigsResponse {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(resps) != 1 {
			t.Fatalf("%d results: %+v", len(resps), resps)
		}
		return resps[0]
	}
}

// TestIncrementalAlterTopicConfigs: SET, DELETE, APPEND and SUBTRACT change
// what DescribeConfigs reports right after, validate-only changes nothing,
// and errors name the key at fault.
func TestIncrementalAlterTopicConfigs(t *testing.T) {
	b := startBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 1, map[string]*string{"segment.ms": ptrTo("600000")})
	adm := kadm.NewClient(newClient(t, b.Addr()))

	steps := []struct {
		name string
		ops  []kadm.AlterConfig
		want map[string]string // described values
		src  map[string]kmsg.ConfigSource
	}{
		{"set", []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "retention.ms", Value: ptrTo("3600000")},
			{Op: kadm.SetConfig, Name: "max.message.bytes", Value: ptrTo("4096")},
		}, map[string]string{"retention.ms": "3600000", "max.message.bytes": "4096", "segment.ms": "600000"},
			map[string]kmsg.ConfigSource{"retention.ms": kmsg.ConfigSourceDynamicTopicConfig}},
		{"delete", []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "segment.ms"}},
			map[string]string{"segment.ms": "604800000", "retention.ms": "3600000"},
			map[string]kmsg.ConfigSource{"segment.ms": kmsg.ConfigSourceDefaultConfig}},
		{"append to the default", []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptrTo("compact")}},
			map[string]string{"cleanup.policy": "delete,compact"}, nil},
		{"subtract", []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: ptrTo("delete")}},
			map[string]string{"cleanup.policy": "compact"},
			map[string]kmsg.ConfigSource{"cleanup.policy": kmsg.ConfigSourceDynamicTopicConfig}},
	}
	for _, s := range steps {
		r := alterResult(t)(adm.AlterTopicConfigs(configCtx(t), s.ops, topic))
		if r.Err != nil {
			t.Fatalf("%s: %v: %s", s.name, r.Err, r.ErrMessage)
		}
		got := describedTopic(t, adm, topic)
		for k, v := range s.want {
			if c := got[k]; cval(c) != v {
				t.Errorf("%s: %s = %q; want %q", s.name, k, cval(c), v)
			}
		}
		for k, src := range s.src {
			if got[k].Source != src {
				t.Errorf("%s: %s source %v; want %v", s.name, k, got[k].Source, src)
			}
		}
	}

	before := describedTopic(t, adm, topic)
	r := alterResult(t)(adm.ValidateAlterTopicConfigs(configCtx(t), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: ptrTo("1000")},
		{Op: kadm.DeleteConfig, Name: "cleanup.policy"},
	}, topic))
	if r.Err != nil {
		t.Fatalf("validate only: %v: %s", r.Err, r.ErrMessage)
	}
	after := describedTopic(t, adm, topic)
	for k, c := range before {
		if cval(after[k]) != cval(c) {
			t.Errorf("validate only changed %s from %q to %q", k, cval(c), cval(after[k]))
		}
	}

	failures := []struct {
		name  string
		topic string
		ops   []kadm.AlterConfig
		err   error
		msg   string
	}{
		{"unknown key", topic, []kadm.AlterConfig{{Name: "retention.msec", Value: ptrTo("1")}}, kerr.InvalidConfig, "retention.msec"},
		{"bad value", topic, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: ptrTo("0")}}, kerr.InvalidConfig, "min.insync.replicas"},
		{"bad list item", topic, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptrTo("shred")}}, kerr.InvalidConfig, "cleanup.policy"},
		{"append to non-list", topic, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "retention.ms", Value: ptrTo("1")}}, kerr.InvalidConfig, "retention.ms"},
		{"unknown topic", "no-such-topic", []kadm.AlterConfig{{Name: "retention.ms", Value: ptrTo("1")}}, kerr.UnknownTopicOrPartition, "no-such-topic"},
		{"validate-only unknown topic", "no-such-topic", nil, kerr.UnknownTopicOrPartition, ""},
	}
	for _, f := range failures {
		var resps kadm.AlterConfigsResponses
		var err error
		if f.ops == nil {
			resps, err = adm.ValidateAlterTopicConfigs(configCtx(t), []kadm.AlterConfig{{Name: "retention.ms", Value: ptrTo("1")}}, f.topic)
		} else {
			resps, err = adm.AlterTopicConfigs(configCtx(t), f.ops, f.topic)
		}
		r := alterResult(t)(resps, err)
		if !errors.Is(r.Err, f.err) || !strings.Contains(r.ErrMessage, f.msg) {
			t.Errorf("%s: %v %q; want %v naming %q", f.name, r.Err, r.ErrMessage, f.err, f.msg)
		}
	}
	if got := cval(describedTopic(t, adm, topic)["retention.ms"]); got != "3600000" {
		t.Errorf("failed changes altered retention.ms: %s", got)
	}
}

// TestAlterConfigsResourceTwice: a resource named twice in one request is
// refused (both entries), and nothing is changed.
func TestAlterConfigsResourceTwice(t *testing.T) {
	b := startBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 1, nil)
	cl := newClient(t, b.Addr())
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, v := range []string{"1000", "2000"} {
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", ptrTo(v)
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
	}
	resp, err := req.RequestWith(configCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 2 {
		t.Fatalf("%d results", len(resp.Resources))
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("resource %s: error %d; want INVALID_REQUEST", r.ResourceName, r.ErrorCode)
		}
	}
	if got := describedTopic(t, kadm.NewClient(cl), topic)["retention.ms"].Source; got != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("retention.ms source %v after a refused request", got)
	}
}

// TestAlterTopicConfigsState: the legacy AlterConfigs replaces every
// override with the given set.
func TestAlterTopicConfigsState(t *testing.T) {
	b := startBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 1, map[string]*string{"segment.ms": ptrTo("600000"), "retention.ms": ptrTo("7200000")})
	adm := kadm.NewClient(newClient(t, b.Addr()))
	r := alterResult(t)(adm.AlterTopicConfigsState(configCtx(t), []kadm.AlterConfig{{Name: "retention.ms", Value: ptrTo("3600000")}}, topic))
	if r.Err != nil {
		t.Fatalf("%v: %s", r.Err, r.ErrMessage)
	}
	got := describedTopic(t, adm, topic)
	if c := got["retention.ms"]; cval(c) != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.ms = %q (%v)", cval(c), c.Source)
	}
	if c := got["segment.ms"]; cval(c) != "604800000" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.ms = %q (%v); want the default: AlterConfigs replaces all overrides", cval(c), c.Source)
	}
	r = alterResult(t)(adm.AlterTopicConfigsState(configCtx(t), []kadm.AlterConfig{{Name: "bogus.key", Value: ptrTo("1")}}, topic))
	if !errors.Is(r.Err, kerr.InvalidConfig) || !strings.Contains(r.ErrMessage, "bogus.key") {
		t.Errorf("unknown key: %v %q", r.Err, r.ErrMessage)
	}
}

// TestSaramaAlterConfigs drives both APIs through sarama's ClusterAdmin.
func TestSaramaAlterConfigs(t *testing.T) {
	b := startBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 1, map[string]*string{"segment.ms": ptrTo("600000")})
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	describe := func() map[string]string {
		//lint:ignore SA1019 the single-resource call is what sarama users still make
		entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, e := range entries {
			out[e.Name] = e.Value
		}
		return out
	}

	err = admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms":   {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: ptrTo("60000")},
		"cleanup.policy": {Operation: sarama.IncrementalAlterConfigsOperationAppend, Value: ptrTo("compact")},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := describe()
	if got["retention.ms"] != "60000" || got["cleanup.policy"] != "delete,compact" || got["segment.ms"] != "600000" {
		t.Errorf("after IncrementalAlterConfig: %v", got)
	}

	if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": ptrTo("120000")}, false); err != nil {
		t.Fatal(err)
	}
	got = describe()
	if got["retention.ms"] != "120000" || got["cleanup.policy"] != "delete" || got["segment.ms"] != "604800000" {
		t.Errorf("after AlterConfig (replace all): %v", got)
	}

	err = admin.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"min.insync.replicas": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: ptrTo("none")},
	}, false)
	if !errors.Is(err, sarama.ErrInvalidConfig) || !strings.Contains(err.Error(), "min.insync.replicas") {
		t.Errorf("bad value: %v", err)
	}
	err = admin.AlterConfig(sarama.TopicResource, "no-such-topic", map[string]*string{"retention.ms": ptrTo("1")}, false)
	if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v", err)
	}
}
