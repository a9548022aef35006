package broker

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/quorum"
	"github.com/spotstream/spotstream/internal/wire"
)

// DescribeQuorum v0-2 (KIP-595, KIP-836, KIP-853) describes Kafka's KRaft
// metadata quorum. Our quorum is the embedded etcd cluster, and every
// broker answers for it, as kafka-metadata-quorum.sh expects, about the
// one partition a quorum has (__cluster_metadata-0):
//
//   - LeaderID is the broker running the leading etcd member, LeaderEpoch
//     its Raft term, HighWatermark the highest Raft index reported.
//   - CurrentVoters are the voting members, Observers the learners, each
//     with ReplicaID the broker running it (-1 for none: a member whose
//     broker is gone) and LogEndOffset its Raft index (-1 when it did not
//     answer: down).
//   - Nodes (v2) give each running member's client URL as the listener
//     "etcd".
//
// An external etcd cluster has no brokers running its members: every
// ReplicaID is -1.

// quorumTopic is the name Kafka gives its metadata partition.
const quorumTopic = "__cluster_metadata"

// describeQuorumTimeout bounds the status requests to the members: a down
// member must not hold the answer about the others.
const describeQuorumTimeout = 3 * time.Second

func (b *Broker) handleDescribeQuorum(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeQuorumRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithTimeout(ctx, describeQuorumTimeout)
		defer cancel()
		st, err := quorum.Describe(ctx, b.store.Client(), b.meta.Load())
		return describeQuorumResponse(r, st, err)
	})
}

// describeQuorumResponse answers r with st, or with err.
func describeQuorumResponse(r *kmsg.DescribeQuorumRequest, st quorum.Status, err error) *kmsg.DescribeQuorumResponse {
	resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
	if err != nil {
		resp.ErrorCode = kerr.UnknownServerError.Code
		if r.Version >= 2 {
			msg := err.Error()
			resp.ErrorMessage = &msg
		}
		return resp
	}
	hostOf := map[uint64]int32{}
	for _, m := range st.Members {
		hostOf[m.ID] = m.Host
	}
	for _, rt := range r.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition = rp.Partition
			if rt.Topic != quorumTopic || rp.Partition != 0 {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			p.LeaderID = -1
			if h, ok := hostOf[st.Leader]; ok {
				p.LeaderID = h
			}
			p.LeaderEpoch = int32(st.Term)
			p.HighWatermark = int64(st.Index)
			for _, m := range st.Members {
				rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
				rs.ReplicaID = m.Host
				rs.LogEndOffset = -1
				if m.Up {
					rs.LogEndOffset = int64(m.Index)
				}
				if m.Learner {
					p.Observers = append(p.Observers, rs)
				} else {
					p.CurrentVoters = append(p.CurrentVoters, rs)
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if r.Version >= 2 {
		for _, m := range st.Members {
			if m.Host < 0 || len(m.ClientURLs) == 0 {
				continue
			}
			n := kmsg.NewDescribeQuorumResponseNode()
			n.NodeID = m.Host
			if l, ok := etcdListener(m.ClientURLs[0]); ok {
				n.Listeners = append(n.Listeners, l)
			}
			resp.Nodes = append(resp.Nodes, n)
		}
	}
	return resp
}

// etcdListener turns a member's client URL into a DescribeQuorum
// listener, when it is a TCP one.
func etcdListener(raw string) (kmsg.DescribeQuorumResponseNodeListener, bool) {
	l := kmsg.NewDescribeQuorumResponseNodeListener()
	u, err := url.Parse(raw)
	if err != nil {
		return l, false
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return l, false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return l, false
	}
	l.Name, l.Host, l.Port = "etcd", host, uint16(n)
	return l, true
}
