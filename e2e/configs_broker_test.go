package e2e

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests that config changes take effect on the partitions, and of dynamic
// broker configs.

// produceAcksAll sends one record with acks=all and no retries, so that a
// NOT_ENOUGH_REPLICAS comes back instead of being retried away.
func produceAcksAll(t *testing.T, addr, topic string) error {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 0
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")})
	return err
}

// expectProduce checks the outcome of an acks=all write: nil, or
// sarama.ErrNotEnoughReplicas.
func expectProduce(t *testing.T, addr, topic string, want error, when string) {
	t.Helper()
	err := produceAcksAll(t, addr, topic)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: acks=all produce: %v; want %v", when, err, want)
	}
}

// TestMinInsyncReplicasTakesEffect: on a single broker (RF 1), raising a
// topic's min.insync.replicas to 2 makes acks=all fail with
// NOT_ENOUGH_REPLICAS at once, and lowering it makes it succeed again.
func TestMinInsyncReplicasTakesEffect(t *testing.T) {
	b := startBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 1, nil)
	adm := kadm.NewClient(newClient(t, b.Addr()))
	expectProduce(t, b.Addr(), topic, nil, "default min.insync.replicas")

	steps := []struct {
		op   kadm.AlterConfig
		want error
	}{
		{kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: ptrTo("2")}, sarama.ErrNotEnoughReplicas},
		{kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: ptrTo("1")}, nil},
		{kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: ptrTo("2")}, sarama.ErrNotEnoughReplicas},
		{kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "min.insync.replicas"}, nil},
	}
	for _, s := range steps {
		r := alterResult(t)(adm.AlterTopicConfigs(configCtx(t), []kadm.AlterConfig{s.op}, topic))
		if r.Err != nil {
			t.Fatalf("%v: %s", r.Err, r.ErrMessage)
		}
		expectProduce(t, b.Addr(), topic, s.want, fmt.Sprintf("after op %d on %s", s.op.Op, s.op.Name))
	}
}

// brokerID returns the id of the only broker.
func brokerID(t *testing.T, adm *kadm.Client) int32 {
	t.Helper()
	md, err := adm.BrokerMetadata(configCtx(t))
	if err != nil || len(md.Brokers) != 1 {
		t.Fatalf("broker metadata: %v, %v", md, err)
	}
	return md.Brokers[0].NodeID
}

// describedBroker returns a broker's described configs by key.
func describedBroker(t *testing.T, adm *kadm.Client, id int32) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(configCtx(t), id)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describing broker %d: %v, %+v", id, err, rcs)
	}
	out := map[string]kadm.Config{}
	for _, c := range rcs[0].Configs {
		out[c.Key] = c
	}
	return out
}

// TestDynamicBrokerConfigs: a cluster-wide and a per-broker
// min.insync.replicas change the topic defaults (DescribeConfigs says
// where the value comes from) and the partitions' behaviour; keys that
// cannot change at runtime are refused.
func TestDynamicBrokerConfigs(t *testing.T) {
	b := startBroker(t)
	topic := topicName(t)
	createTopic(t, b.Addr(), topic, 1, nil)
	adm := kadm.NewClient(newClient(t, b.Addr()))
	id := brokerID(t, adm)

	steps := []struct {
		name    string
		brokers []int32 // none: the cluster-wide default
		ops     []kadm.AlterConfig
		value   string // of min.insync.replicas, for the topic and the broker
		source  kmsg.ConfigSource
		produce error
	}{
		{"cluster default", nil, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: ptrTo("2")}},
			"2", kmsg.ConfigSourceDynamicDefaultBrokerConfig, sarama.ErrNotEnoughReplicas},
		{"this broker", []int32{id}, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: ptrTo("1")}},
			"1", kmsg.ConfigSourceDynamicBrokerConfig, nil},
		{"this broker deleted", []int32{id}, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "min.insync.replicas"}},
			"2", kmsg.ConfigSourceDynamicDefaultBrokerConfig, sarama.ErrNotEnoughReplicas},
		{"cluster default deleted", nil, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "min.insync.replicas"}},
			"1", kmsg.ConfigSourceDefaultConfig, nil},
	}
	for _, s := range steps {
		r := alterResult(t)(adm.AlterBrokerConfigs(configCtx(t), s.ops, s.brokers...))
		if r.Err != nil {
			t.Fatalf("%s: %v: %s", s.name, r.Err, r.ErrMessage)
		}
		for what, c := range map[string]kadm.Config{
			"topic":  describedTopic(t, adm, topic)["min.insync.replicas"],
			"broker": describedBroker(t, adm, id)["min.insync.replicas"],
		} {
			if cval(c) != s.value || c.Source != s.source {
				t.Errorf("%s: %s min.insync.replicas = %q (%v); want %q (%v)", s.name, what, cval(c), c.Source, s.value, s.source)
			}
		}
		expectProduce(t, b.Addr(), topic, s.produce, s.name)
	}

	// A topic override beats the dynamic broker configs.
	alterResult(t)(adm.AlterBrokerConfigs(configCtx(t), []kadm.AlterConfig{{Name: "min.insync.replicas", Value: ptrTo("2")}}))
	alterResult(t)(adm.AlterTopicConfigs(configCtx(t), []kadm.AlterConfig{{Name: "min.insync.replicas", Value: ptrTo("1")}}, topic))
	if c := describedTopic(t, adm, topic)["min.insync.replicas"]; cval(c) != "1" || c.Source != kmsg.ConfigSourceDynamicTopicConfig ||
		len(c.Synonyms) < 2 || c.Synonyms[1].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("topic override: %+v", c)
	}
	expectProduce(t, b.Addr(), topic, nil, "topic override of 1")

	// sarama, per broker: unclean.leader.election.enable.
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.IncrementalAlterConfig(sarama.BrokerResource, strconv.Itoa(int(id)), map[string]sarama.IncrementalAlterConfigsEntry{
		"unclean.leader.election.enable": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: ptrTo("true")},
	}, false); err != nil {
		t.Fatal(err)
	}
	if c := describedTopic(t, adm, topic)["unclean.leader.election.enable"]; cval(c) != "true" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("unclean.leader.election.enable = %q (%v)", cval(c), c.Source)
	}
	// AlterConfigs replaces the broker's whole dynamic layer.
	if err := admin.AlterConfig(sarama.BrokerResource, strconv.Itoa(int(id)), map[string]*string{"message.max.bytes": ptrTo("2048")}, false); err != nil {
		t.Fatal(err)
	}
	got := describedBroker(t, adm, id)
	if c := got["unclean.leader.election.enable"]; cval(c) != "false" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("after AlterConfig: unclean.leader.election.enable = %q (%v)", cval(c), c.Source)
	}
	if c := got["message.max.bytes"]; cval(c) != "2048" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("after AlterConfig: message.max.bytes = %q (%v)", cval(c), c.Source)
	}

	failures := []struct {
		name string
		cfg  kadm.AlterConfig
		err  error
		msg  string
	}{
		{"static key", kadm.AlterConfig{Name: "log.dirs", Value: ptrTo("/tmp/x")}, kerr.InvalidRequest, "log.dirs: cannot be changed dynamically"},
		{"no runtime path", kadm.AlterConfig{Name: "log.retention.ms", Value: ptrTo("1000")}, kerr.InvalidRequest, "cannot be changed dynamically"},
		{"unknown key", kadm.AlterConfig{Name: "no.such.key", Value: ptrTo("1")}, kerr.InvalidConfig, "no.such.key"},
		{"topic key", kadm.AlterConfig{Name: "retention.ms", Value: ptrTo("1")}, kerr.InvalidConfig, "log.retention.ms"},
		{"bad value", kadm.AlterConfig{Name: "min.insync.replicas", Value: ptrTo("0")}, kerr.InvalidConfig, "min.insync.replicas"},
	}
	for _, f := range failures {
		r := alterResult(t)(adm.AlterBrokerConfigs(configCtx(t), []kadm.AlterConfig{f.cfg}))
		if !errors.Is(r.Err, f.err) || !strings.Contains(r.ErrMessage, f.msg) {
			t.Errorf("%s: %v %q; want %v with %q", f.name, r.Err, r.ErrMessage, f.err, f.msg)
		}
	}
	r := alterResult(t)(adm.ValidateAlterBrokerConfigs(configCtx(t), []kadm.AlterConfig{{Name: "min.insync.replicas", Value: ptrTo("5")}}))
	if r.Err != nil {
		t.Fatalf("validate only: %v", r.Err)
	}
	if c := describedBroker(t, adm, id)["min.insync.replicas"]; cval(c) != "2" {
		t.Errorf("validate only changed min.insync.replicas to %q", cval(c))
	}

	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "one"
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(configCtx(t), newClient(t, b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Resources[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Errorf("broker resource %q: error %d; want INVALID_REQUEST", rr.ResourceName, code)
	}
}
