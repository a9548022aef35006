package main

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJudgeStatus(t *testing.T) {
	rack := func(s string) *string { return &s }
	meta := kadm.Metadata{
		Cluster:    "c1",
		Controller: 1,
		Brokers: kadm.BrokerDetails{
			{NodeID: 0, Host: "10.0.0.1", Port: 9092, Rack: rack("a")},
			{NodeID: 1, Host: "10.0.0.2", Port: 9092, Rack: rack("b")},
		},
		Topics: kadm.TopicDetails{
			"t": {Topic: "t", Partitions: kadm.PartitionDetails{
				0: {Topic: "t", Partition: 0, Leader: 0, Replicas: []int32{0, 1, 2}, ISR: []int32{0, 1, 2}},
				1: {Topic: "t", Partition: 1, Leader: 1, Replicas: []int32{1, 2, 0}, ISR: []int32{1, 0}},
				2: {Topic: "t", Partition: 2, Leader: 0, Replicas: []int32{2, 0, 1}, ISR: []int32{0}},
				3: {Topic: "t", Partition: 3, Leader: -1, Replicas: []int32{2, 1, 0}, ISR: []int32{2}},
			}},
			"u": {Topic: "u", Partitions: kadm.PartitionDetails{
				0: {Topic: "u", Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}},
			}},
		},
	}
	st := judgeStatus(meta, map[string]int{"t": 2})
	if st.Partitions != 5 || st.Offline != 1 || st.UnderMinISR != 1 || st.UnderReplica != 1 {
		t.Fatalf("counts: %+v", st)
	}
	var got []string
	for _, p := range st.Attention {
		got = append(got, p.Topic+"/"+strconv.Itoa(int(p.Partition))+":"+p.Status)
	}
	if want := "t/1:under-replicated t/2:under-min-isr t/3:offline"; strings.Join(got, " ") != want {
		t.Errorf("attention %v, want %s", got, want)
	}
	if len(st.Brokers) != 3 || st.Brokers[2].ID != 2 || st.Brokers[2].State != "offline" || st.Brokers[0].Address != "10.0.0.1:9092" {
		t.Errorf("brokers %+v, want 0 and 1 running and 2 offline", st.Brokers)
	}

	judgePlacement(&st, meta, placementInfo{
		configs: map[int32]map[string]string{
			0: {"broker.capacity": "on-demand"},
			1: {"broker.capacity": "spot", "broker.drain": "full"},
		},
		moving: []kadm.ListPartitionReassignmentsResponse{{Topic: "t", Partition: 1, Replicas: []int32{1, 2, 0}, AddingReplicas: []int32{0}}},
	})
	if b := st.Brokers[1]; b.Capacity != "spot" || b.State != "draining" || b.Leaders != 2 || b.Replicas != 5 {
		t.Errorf("broker 1: %+v; want spot, draining (it leads t/1, whose ISR holds broker 0), 2 leaders, 5 replicas", b)
	}
	if b := st.Brokers[0]; b.Capacity != "on-demand" || b.State != "running" {
		t.Errorf("broker 0: %+v", b)
	}
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "broker 1 is drained but still leads 1 partitions") {
		t.Errorf("warnings %q; want one saying broker 1 keeps leading u/0, its only replica", st.Warnings)
	}
	if len(st.Reassignments) != 1 || len(st.Violations) == 0 {
		t.Errorf("reassignments %+v, violations %+v; want one move, and violations for the replicas on offline broker 2", st.Reassignments, st.Violations)
	}

	var b bytes.Buffer
	if err := printStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cluster c1, controller 1",
		"1       10.0.0.2:9092  b     spot       draining  2        5",
		"2       -              -     -          offline   0        4",
		"reassignments in progress",
		"5 partitions: 1 offline, 1 under min ISR, 1 under-replicated",
		"t      3          none    2,1,0     2    2        offline",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestJudgeQuorum(t *testing.T) {
	resp := kmsg.NewPtrDescribeQuorumResponse()
	tp := kmsg.NewDescribeQuorumResponseTopic()
	tp.Topic = "__cluster_metadata"
	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.LeaderID, p.LeaderEpoch = 2, 7
	for _, v := range []struct {
		id  int32
		end int64
	}{{0, 120}, {2, 121}, {-1, -1}} {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = v.id, v.end
		p.CurrentVoters = append(p.CurrentVoters, rs)
	}
	learner := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
	learner.ReplicaID, learner.LogEndOffset = 4, 30
	p.Observers = append(p.Observers, learner)
	tp.Partitions = append(tp.Partitions, p)
	resp.Topics = append(resp.Topics, tp)

	q, err := judgeQuorum(resp)
	if err != nil {
		t.Fatal(err)
	}
	if q.Leader != 2 || q.Term != 7 || q.Down != 1 || len(q.Members) != 4 || q.Members[2].State != "down" || q.Members[3].Role != "learner" {
		t.Fatalf("quorum %+v", q)
	}
	var out strings.Builder
	if err := printStatus(&out, clusterState{Controller: 0, Quorum: q}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"coordination quorum: 4 members, 1 down, leader on broker 2, term 7", "none           voter    down", "2              voter    up     *"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	resp.ErrorCode = kerr.UnknownServerError.Code
	if _, err := judgeQuorum(resp); !errors.Is(err, kerr.UnknownServerError) {
		t.Errorf("error response: %v", err)
	}
}

func TestParseStatusOutput(t *testing.T) {
	for _, tc := range []struct {
		args string
		json bool
		err  string
	}{
		{"", false, ""},
		{"--output json", true, ""},
		{"--json", true, ""},
		{"--json --output table", false, ""},
		{"--output csv", false, "want table or json"},
	} {
		o, err := parseStatusOptions(strings.Fields(tc.args), io.Discard)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
		case err != nil || o.json != tc.json:
			t.Errorf("%q: json %v, error %v; want json %v", tc.args, o.json, err, tc.json)
		}
	}
}

// TestUnevenZones: a zone with a single broker beside larger ones is
// worth a warning; zones of one broker each are not.
func TestUnevenZones(t *testing.T) {
	rack := func(s string) *string { return &s }
	for _, tc := range []struct {
		name  string
		racks []string
		want  int
	}{
		{"even", []string{"a", "b", "c"}, 0},
		{"uneven", []string{"a", "a", "b"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := kadm.Metadata{Topics: kadm.TopicDetails{}}
			for i, r := range tc.racks {
				meta.Brokers = append(meta.Brokers, kadm.BrokerDetail{NodeID: int32(i), Rack: rack(r)})
			}
			st := judgeStatus(meta, nil)
			judgePlacement(&st, meta, placementInfo{})
			if len(st.Warnings) != tc.want {
				t.Errorf("warnings %q, want %d", st.Warnings, tc.want)
			}
		})
	}
}
