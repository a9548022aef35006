package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleCreateTopics(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		ctx, cancel := context.WithTimeout(ctx, time.Duration(max(r.TimeoutMillis, 1))*time.Millisecond)
		defer cancel()

		count := make(map[string]int, len(r.Topics))
		for _, rt := range r.Topics {
			count[rt.Topic]++
		}
		for _, rt := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			if count[rt.Topic] > 1 {
				err := kerrf(kerr.InvalidRequest, "topic %q appears more than once in the request", rt.Topic)
				setError(&st.ErrorCode, &st.ErrorMessage, err)
				resp.Topics = append(resp.Topics, st)
				continue
			}
			tr, err := createTopicRequest(rt)
			if err == nil {
				created, cerr := b.createTopic(ctx, tr, r.ValidateOnly)
				if cerr == nil {
					st.TopicID = created.ID
					st.NumPartitions = int32(len(created.Partitions))
					st.ReplicationFactor = replicationFactor(created)
					st.Configs = b.createdTopicConfigs(created.Configs)
				}
				err = cerr
			}
			if err != nil {
				setError(&st.ErrorCode, &st.ErrorMessage, err)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	})
}

// createTopicRequest turns a request entry into a topicRequest, checking the
// parts that do not need cluster state.
func createTopicRequest(rt kmsg.CreateTopicsRequestTopic) (topicRequest, error) {
	tr := topicRequest{name: rt.Topic, partitions: rt.NumPartitions, rf: rt.ReplicationFactor, configs: map[string]string{}}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return tr, kerrf(kerr.InvalidConfig, "config %q has a null value", c.Name)
		}
		tr.configs[c.Name] = *c.Value
	}
	if len(rt.ReplicaAssignment) == 0 {
		return tr, nil
	}
	if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
		return tr, kerrf(kerr.InvalidRequest, "with a replica assignment, the number of partitions and the replication factor must be -1")
	}
	tr.assignment = make([][]int32, len(rt.ReplicaAssignment))
	for _, a := range rt.ReplicaAssignment {
		if a.Partition < 0 || int(a.Partition) >= len(rt.ReplicaAssignment) || tr.assignment[a.Partition] != nil {
			return tr, kerrf(kerr.InvalidReplicaAssignment, "partitions must be numbered 0 to %d, each once", len(rt.ReplicaAssignment)-1)
		}
		tr.assignment[a.Partition] = a.Replicas
	}
	return tr, nil
}

// createdTopicConfigs lists a new topic's effective configuration, as
// CreateTopics v5+ returns it.
func (b *Broker) createdTopicConfigs(overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, e := range b.cfg.DescribeTopic(overrides) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		c.Value = e.Value
		c.ReadOnly = e.ReadOnly
		c.Source = int8(e.Source)
		c.IsSensitive = e.Sensitive
		out = append(out, c)
	}
	return out
}
