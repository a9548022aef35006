package broker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/quorum"
)

func TestDescribeQuorumResponse(t *testing.T) {
	st := quorum.Status{Leader: 11, Term: 4, Index: 900, Members: []quorum.MemberStatus{
		{ID: 11, Host: 0, Up: true, Index: 900, ClientURLs: []string{"http://127.0.0.1:2379"}},
		{ID: 12, Host: 2, Up: true, Index: 899, ClientURLs: []string{"http://127.0.0.1:2479"}},
		{ID: 13, Host: -1}, // its broker is gone
		{ID: 14, Host: 5, Learner: true, Up: true, Index: 10, ClientURLs: []string{"unix:///x.sock"}},
	}}
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	tp := kmsg.NewDescribeQuorumRequestTopic()
	tp.Topic = quorumTopic
	tp.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}, {Partition: 1}}
	other := kmsg.NewDescribeQuorumRequestTopic()
	other.Topic = "orders"
	other.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}
	req.Topics = []kmsg.DescribeQuorumRequestTopic{tp, other}

	resp := describeQuorumResponse(req, st, nil)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LeaderID != 0 || p.LeaderEpoch != 4 || p.HighWatermark != 900 {
		t.Fatalf("partition %+v", p)
	}
	var voters []int32
	var ends []int64
	for _, v := range p.CurrentVoters {
		voters, ends = append(voters, v.ReplicaID), append(ends, v.LogEndOffset)
	}
	if want := []int32{0, 2, -1}; len(voters) != 3 || voters[0] != want[0] || voters[1] != want[1] || voters[2] != want[2] {
		t.Errorf("voters %v, want %v", voters, want)
	}
	if ends[2] != -1 || ends[1] != 899 {
		t.Errorf("log end offsets %v: want -1 for the member that is down", ends)
	}
	if len(p.Observers) != 1 || p.Observers[0].ReplicaID != 5 {
		t.Errorf("observers %+v, want the learner on broker 5", p.Observers)
	}
	if c := resp.Topics[0].Partitions[1].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("partition 1: error %d", c)
	}
	if c := resp.Topics[1].Partitions[0].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("another topic: error %d", c)
	}
	// Nodes: the running members with TCP client URLs.
	if len(resp.Nodes) != 3 || resp.Nodes[0].NodeID != 0 || resp.Nodes[0].Listeners[0].Port != 2379 || len(resp.Nodes[2].Listeners) != 0 {
		t.Errorf("nodes %+v", resp.Nodes)
	}

	failed := describeQuorumResponse(req, quorum.Status{}, errors.New("etcd unreachable"))
	if failed.ErrorCode != kerr.UnknownServerError.Code || failed.ErrorMessage == nil || len(failed.Topics) != 0 {
		t.Errorf("error response %+v", failed)
	}
}
