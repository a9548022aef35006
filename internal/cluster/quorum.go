package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// quorumJoinsDir holds the requests to brokers to start an embedded etcd
// member: quorum/joins/<broker id>.
const quorumJoinsDir = "quorum/joins/"

func (k keyspace) quorumJoin(broker int32) string {
	return k.prefix + quorumJoinsDir + strconv.Itoa(int(broker))
}

// QuorumJoin asks a broker to start the embedded etcd member that was
// added for it (as a learner) with etcd's member API.
type QuorumJoin struct {
	// Member is the member's id, in etcd's hex form.
	Member string `json:"member"`
	// Name is the name the member must start with.
	Name string `json:"name"`
	// InitialCluster is etcd's name=peerURL list of the members,
	// this one included, to start with (initial cluster state
	// "existing").
	InitialCluster string `json:"initialCluster"`
}

// PutQuorumJoin asks broker to start the member j describes.
func (s *Store) PutQuorumJoin(ctx context.Context, broker int32, j QuorumJoin) error {
	if _, err := s.client.Put(ctx, s.keys.quorumJoin(broker), mustJSON(&j)); err != nil {
		return fmt.Errorf("cluster: asking broker %d to start etcd member %s: %w", broker, j.Member, err)
	}
	return nil
}

// DeleteQuorumJoin withdraws the request to broker, if any.
func (s *Store) DeleteQuorumJoin(ctx context.Context, broker int32) error {
	if _, err := s.client.Delete(ctx, s.keys.quorumJoin(broker)); err != nil {
		return fmt.Errorf("cluster: withdrawing the etcd member request to broker %d: %w", broker, err)
	}
	return nil
}

// WatchQuorumJoin calls fn with the request to broker now, if there is one,
// and with every later one, until ctx ends or the watch fails. It runs on
// the caller's goroutine and returns ctx's error or the watch's.
func (s *Store) WatchQuorumJoin(ctx context.Context, broker int32, fn func(QuorumJoin)) error {
	key := s.keys.quorumJoin(broker)
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("cluster: reading %s: %w", key, err)
	}
	deliver := func(b []byte) {
		var j QuorumJoin
		if err := json.Unmarshal(b, &j); err != nil || j.Member == "" {
			s.log.Warn("ignoring malformed etcd member request", "key", key, "value", string(b))
			return
		}
		fn(j)
	}
	for _, kv := range resp.Kvs {
		deliver(kv.Value)
	}
	for wr := range s.client.Watch(ctx, key, clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return fmt.Errorf("cluster: watching %s: %w", key, err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypePut {
				deliver(ev.Kv.Value)
			}
		}
	}
	return ctx.Err()
}
