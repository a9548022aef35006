package broker

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/config"
)

const (
	set      = kmsg.IncrementalAlterConfigOpSet
	del      = kmsg.IncrementalAlterConfigOpDelete
	appendOp = kmsg.IncrementalAlterConfigOpAppend
	subtract = kmsg.IncrementalAlterConfigOpSubtract
)

// topicSchema is the topic schema of alterTopicConfigs with Kafka's
// default cleanup.policy.
var topicSchema = configSchema{
	check:    config.CheckTopicKey,
	lookup:   config.LookupTopic,
	base:     func(name string) string { return map[string]string{"cleanup.policy": "delete"}[name] },
	validate: config.ValidateTopicConfigs,
}

func TestEditTopicConfigs(t *testing.T) {
	tests := []struct {
		name    string
		current map[string]string
		ops     []configOp
		replace bool
		want    map[string]string
		code    *kerr.Error // nil: success
		msg     string      // in the error message
	}{
		{name: "set", current: map[string]string{"retention.ms": "1"},
			ops:  []configOp{{name: "min.insync.replicas", op: set, value: "2"}},
			want: map[string]string{"retention.ms": "1", "min.insync.replicas": "2"}},
		{name: "delete", current: map[string]string{"retention.ms": "1", "segment.ms": "5"},
			ops:  []configOp{{name: "retention.ms", op: del}, {name: "flush.ms", op: del}},
			want: map[string]string{"segment.ms": "5"}},
		{name: "append to the default",
			ops:  []configOp{{name: "cleanup.policy", op: appendOp, value: "compact"}},
			want: map[string]string{"cleanup.policy": "delete,compact"}},
		{name: "append present item", current: map[string]string{"cleanup.policy": "compact"},
			ops:  []configOp{{name: "cleanup.policy", op: appendOp, value: "compact"}},
			want: map[string]string{"cleanup.policy": "compact"}},
		{name: "subtract", current: map[string]string{"cleanup.policy": "delete,compact"},
			ops:  []configOp{{name: "cleanup.policy", op: subtract, value: "delete"}},
			want: map[string]string{"cleanup.policy": "compact"}},
		{name: "subtract absent item from the default",
			ops:  []configOp{{name: "cleanup.policy", op: subtract, value: "compact"}},
			want: map[string]string{"cleanup.policy": "delete"}},
		{name: "replace", replace: true, current: map[string]string{"retention.ms": "1", "segment.ms": "5"},
			ops:  []configOp{{name: "segment.ms", op: set, value: "6"}},
			want: map[string]string{"segment.ms": "6"}},
		{name: "append to non-list", ops: []configOp{{name: "retention.ms", op: appendOp, value: "1"}},
			code: kerr.InvalidConfig, msg: "retention.ms"},
		{name: "subtract from non-list", ops: []configOp{{name: "min.insync.replicas", op: subtract, value: "1"}},
			code: kerr.InvalidConfig, msg: "min.insync.replicas"},
		{name: "unknown key", ops: []configOp{{name: "no.such.key", op: set, value: "1"}},
			code: kerr.InvalidConfig, msg: "no.such.key"},
		{name: "broker key", ops: []configOp{{name: "log.retention.ms", op: set, value: "1"}},
			code: kerr.InvalidConfig, msg: "the topic config is retention.ms"},
		{name: "bad value", ops: []configOp{{name: "min.insync.replicas", op: set, value: "zero"}},
			code: kerr.InvalidConfig, msg: "min.insync.replicas"},
		{name: "bad list item", ops: []configOp{{name: "cleanup.policy", op: appendOp, value: "shred"}},
			code: kerr.InvalidConfig, msg: "cleanup.policy"},
		{name: "key twice", ops: []configOp{{name: "segment.ms", op: set, value: "1"}, {name: "segment.ms", op: del}},
			code: kerr.InvalidRequest, msg: "segment.ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			configs := maps.Clone(tt.current)
			if configs == nil {
				configs = map[string]string{}
			}
			edit, err := topicSchema.edit(&configChange{name: "t", ops: tt.ops, replace: tt.replace})
			if err == nil {
				err = edit(configs)
			}
			if tt.code == nil {
				if err != nil || !maps.Equal(configs, tt.want) {
					t.Errorf("got %v, %v; want %v", configs, err, tt.want)
				}
				return
			}
			if !errors.Is(kafkaError(err), tt.code) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v (%v); want %v naming %q", err, kafkaError(err), tt.code, tt.msg)
			}
		})
	}
}

func TestEditBrokerConfigs(t *testing.T) {
	s := configSchema{
		check:    config.CheckDynamicBrokerKey,
		lookup:   config.LookupBroker,
		base:     func(string) string { return "" },
		validate: config.ValidateDynamicBrokerConfigs,
	}
	tests := []struct {
		op   configOp
		code *kerr.Error
	}{
		{configOp{name: "min.insync.replicas", op: set, value: "2"}, nil},
		{configOp{name: "unclean.leader.election.enable", op: del}, nil},
		{configOp{name: "log.dirs", op: set, value: "/x"}, kerr.InvalidRequest},
		{configOp{name: "log.retention.ms", op: set, value: "1"}, kerr.InvalidRequest},
		{configOp{name: "retention.ms", op: set, value: "1"}, kerr.InvalidConfig},
		{configOp{name: "min.insync.replicas", op: set, value: "-1"}, kerr.InvalidConfig},
		{configOp{name: "min.insync.replicas", op: appendOp, value: "2"}, kerr.InvalidConfig},
	}
	for _, tt := range tests {
		edit, err := s.edit(&configChange{name: "1", ops: []configOp{tt.op}})
		if err == nil {
			err = edit(map[string]string{})
		}
		if got := kafkaErrorOrNil(err); got != tt.code || err != nil && !strings.Contains(err.Error(), tt.op.name) {
			t.Errorf("%v %s: %v (%v); want %v", tt.op.op, tt.op.name, err, got, tt.code)
		}
	}
}

func kafkaErrorOrNil(err error) *kerr.Error {
	if err == nil {
		return nil
	}
	return kafkaError(err)
}

func TestEditList(t *testing.T) {
	tests := []struct {
		cur, values string
		add         bool
		want        string
	}{
		{"", "a", true, "a"},
		{"a", "b, a", true, "a,b"},
		{"a,b,c", "b", false, "a,c"},
		{"a", "a", false, ""},
		{" a , b ", "c", true, "a,b,c"},
		{"a", "x", false, "a"},
	}
	for _, tt := range tests {
		if got := editList(tt.cur, tt.values, tt.add); got != tt.want {
			t.Errorf("editList(%q, %q, %v) = %q; want %q", tt.cur, tt.values, tt.add, got, tt.want)
		}
	}
}
