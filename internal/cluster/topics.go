package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// CreateTopic creates a topic and the state of its partitions, and returns
// the revision of the last write. It fails with ErrTopicExists if a topic
// of that name exists. A zero spec.ID is replaced by a random id.
//
// The topic key and as many partitions as one transaction holds are
// written atomically; further partitions follow in more transactions (see
// the package doc). Each of those applies only while the topic is still the
// one this call created, and writes a partition only if nobody else has
// (the controller may fill in partitions of an abandoned creation).
func (s *Store) CreateTopic(ctx context.Context, spec TopicSpec) (int64, error) {
	if err := ValidateTopicName(spec.Name); err != nil {
		return 0, err
	}
	n := len(spec.Partitions)
	if n == 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: topic %q: %d partitions", ErrInvalidPartitions, spec.Name, n)
	}
	id := spec.ID
	if id == ([16]byte{}) {
		id = NewID()
	} else if isReservedID(id) {
		return 0, fmt.Errorf("cluster: topic %q: reserved topic id %s", spec.Name, FormatID(id))
	}
	key := s.keys.topic(spec.Name)
	first := min(n, s.maxOps-1)
	ops := make([]clientv3.Op, 0, first+1)
	ops = append(ops, clientv3.OpPut(key, encodeTopic(id, int32(n), spec.Configs)))
	for i := range first {
		ops = append(ops, clientv3.OpPut(s.keys.partition(spec.Name, int32(i)), encodePartition(&spec.Partitions[i])))
	}
	tr, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(ops...).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("cluster: creating topic %q: %w", spec.Name, err)
	}
	if !tr.Succeeded {
		return 0, fmt.Errorf("%w: %q", ErrTopicExists, spec.Name)
	}
	rev := tr.Header.Revision
	if first < n {
		// The topic key's create revision is this transaction's revision.
		return s.putPartitions(ctx, spec.Name, rev, int32(first), spec.Partitions[first:])
	}
	return rev, nil
}

// putPartitions writes the state of partitions base, base+1, ... in
// transactions of at most maxOps partitions, each guarded by the topic key's
// create revision (the topic was not deleted or recreated meanwhile). Each
// partition is written by a nested transaction that puts it only if its key
// does not exist, so a partition someone else wrote first is left alone.
func (s *Store) putPartitions(ctx context.Context, topic string, topicCreateRev int64, base int32, parts []PartitionState) (int64, error) {
	key := s.keys.topic(topic)
	var rev int64
	for len(parts) > 0 {
		batch := parts[:min(len(parts), s.maxOps)]
		ops := make([]clientv3.Op, len(batch))
		for i := range batch {
			pk := s.keys.partition(topic, base+int32(i))
			ops[i] = clientv3.OpTxn(
				[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(pk), "=", 0)},
				[]clientv3.Op{clientv3.OpPut(pk, encodePartition(&batch[i]))},
				nil)
		}
		tr, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", topicCreateRev)).
			Then(ops...).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("cluster: writing partitions %d.. of topic %q: %w", base, topic, err)
		}
		if !tr.Succeeded {
			return 0, fmt.Errorf("%w: %q was deleted while its partitions were being written", ErrUnknownTopic, topic)
		}
		rev = tr.Header.Revision
		base += int32(len(batch))
		parts = parts[len(batch):]
	}
	return rev, nil
}

// DeleteTopic deletes a topic and the state of all its partitions in one
// transaction, and returns its revision. It fails with ErrUnknownTopic if
// there is no such topic.
func (s *Store) DeleteTopic(ctx context.Context, name string) (int64, error) {
	if err := ValidateTopicName(name); err != nil {
		return 0, err
	}
	key := s.keys.topic(name)
	tr, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), ">", 0)).
		Then(clientv3.OpDelete(key), clientv3.OpDelete(s.keys.partitions(name), clientv3.WithPrefix())).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("cluster: deleting topic %q: %w", name, err)
	}
	if !tr.Succeeded {
		return 0, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	return tr.Header.Revision, nil
}

// CreatePartitions adds partitions from, from+1, ... to a topic that has
// exactly from partitions, and returns the revision of the last write.
// Passing the count the caller's assignment was computed for (rather than
// appending blindly) makes two concurrent requests that both mean "grow to
// 9" fail cleanly instead of growing the topic twice: a topic with another
// partition count fails with ErrInvalidPartitions. Partition counts only
// grow.
func (s *Store) CreatePartitions(ctx context.Context, name string, from int32, newPartitions []PartitionState) (int64, error) {
	if err := ValidateTopicName(name); err != nil {
		return 0, err
	}
	if len(newPartitions) == 0 || int64(from)+int64(len(newPartitions)) > math.MaxInt32 {
		return 0, fmt.Errorf("%w: topic %q: adding %d partitions to %d", ErrInvalidPartitions, name, len(newPartitions), from)
	}
	key := s.keys.topic(name)
	first := min(len(newPartitions), s.maxOps-1)
	var createRev int64 // of the topic key the successful transaction compared
	tr, err := s.cas(ctx, key, func(kv *mvccpb.KeyValue) ([]clientv3.Op, error) {
		if kv == nil {
			return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		createRev = kv.CreateRevision
		v, id, err := decodeTopic(key, kv.Value)
		if err != nil {
			return nil, err
		}
		if v.Partitions != from {
			return nil, fmt.Errorf("%w: topic %q has %d partitions, not %d", ErrInvalidPartitions, name, v.Partitions, from)
		}
		ops := []clientv3.Op{clientv3.OpPut(key, encodeTopic(id, from+int32(len(newPartitions)), v.Configs))}
		for i := range first {
			ops = append(ops, clientv3.OpPut(s.keys.partition(name, from+int32(i)), encodePartition(&newPartitions[i])))
		}
		return ops, nil
	})
	if err != nil {
		return 0, wrapStoreErr(fmt.Sprintf("adding partitions to topic %q", name), err)
	}
	if first < len(newPartitions) {
		return s.putPartitions(ctx, name, createRev, from+int32(first), newPartitions[first:])
	}
	return tr.Header.Revision, nil
}

// SetTopicConfigs replaces a topic's configuration map (Kafka's
// AlterConfigs) and returns the revision of the write.
func (s *Store) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) (int64, error) {
	return s.UpdateTopicConfigs(ctx, name, func(m map[string]string) error {
		clear(m)
		maps.Copy(m, configs)
		return nil
	})
}

// UpdateTopicConfigs applies fn to a copy of the topic's current
// configuration and writes the result with a compare-and-swap, retrying on
// conflict (Kafka's IncrementalAlterConfigs computes on the current value,
// never on a stale one). fn may run more than once; its error aborts the
// update and is returned as is. It returns the revision of the write.
func (s *Store) UpdateTopicConfigs(ctx context.Context, name string, fn func(configs map[string]string) error) (int64, error) {
	if err := ValidateTopicName(name); err != nil {
		return 0, err
	}
	key := s.keys.topic(name)
	var fnErr error
	tr, err := s.cas(ctx, key, func(kv *mvccpb.KeyValue) ([]clientv3.Op, error) {
		if kv == nil {
			return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		v, id, err := decodeTopic(key, kv.Value)
		if err != nil {
			return nil, err
		}
		configs := maps.Clone(v.Configs)
		if fnErr = fn(configs); fnErr != nil {
			return nil, fnErr
		}
		return []clientv3.Op{clientv3.OpPut(key, encodeTopic(id, v.Partitions, configs))}, nil
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, wrapStoreErr(fmt.Sprintf("updating configs of topic %q", name), err)
	}
	return tr.Header.Revision, nil
}

// UpdatePartition applies fn to a copy of the partition's current state and
// writes the result with a compare-and-swap on the key's mod revision,
// retrying on conflict. It returns the state written (or the current state,
// if fn changed nothing: then nothing is written) and its revision.
//
// Every write bumps PartitionEpoch; fn does not set it. fn may run more
// than once, on fresher states; it is where the caller's fencing goes (a
// leader changing the ISR checks that LeaderEpoch is still its own, and
// returns an error otherwise). fn's error aborts the update and is returned
// as is.
func (s *Store) UpdatePartition(ctx context.Context, topic string, partition int32, fn func(*PartitionState) error) (PartitionState, int64, error) {
	return s.UpdatePartitionIf(ctx, topic, partition, nil, fn)
}

// UpdatePartitionIf is UpdatePartition with extra conditions, checked in
// the same transaction as the write: when one does not hold, nothing is
// written and the error wraps ErrConditionFailed. The controller passes the
// create revision of its election key, so that a deposed controller cannot
// write, however late its request reaches etcd. fn's own checks still run
// on the fresh state; conds fence the writer, fn the state it writes over.
func (s *Store) UpdatePartitionIf(ctx context.Context, topic string, partition int32, conds []clientv3.Cmp, fn func(*PartitionState) error) (PartitionState, int64, error) {
	return s.UpdatePartitionFrom(ctx, topic, partition, nil, conds, fn)
}

// UpdatePartitionFrom is UpdatePartitionIf starting from known, the state
// the caller last saw (from a Snapshot, with its Revision), instead of
// reading it first: one round trip to etcd instead of two when known is
// current, and the same outcome when it is not (fn then runs again on the
// current state). A nil or unavailable known reads first.
func (s *Store) UpdatePartitionFrom(ctx context.Context, topic string, partition int32, known *PartitionState, conds []clientv3.Cmp, fn func(*PartitionState) error) (PartitionState, int64, error) {
	if err := ValidateTopicName(topic); err != nil {
		return PartitionState{}, 0, err
	}
	key := s.keys.partition(topic, partition)
	var guess *mvccpb.KeyValue
	if known != nil && known.Available() {
		guess = &mvccpb.KeyValue{Key: []byte(key), Value: []byte(encodePartition(known)), ModRevision: known.Revision}
	}
	var result PartitionState
	var fnErr error
	tr, err := s.casIfFrom(ctx, key, guess, conds, func(kv *mvccpb.KeyValue) ([]clientv3.Op, error) {
		if kv == nil {
			return nil, s.missingPartition(ctx, topic, partition)
		}
		cur, err := decodePartition(key, kv.Value, kv.ModRevision)
		if err != nil {
			return nil, err
		}
		next := cur.Clone()
		if fnErr = fn(&next); fnErr != nil {
			return nil, fnErr
		}
		next.Revision = cur.Revision
		next.PartitionEpoch = cur.PartitionEpoch
		if next.Equal(&cur) {
			result = cur
			return nil, nil
		}
		next.PartitionEpoch++
		result = next
		return []clientv3.Op{clientv3.OpPut(key, encodePartition(&next))}, nil
	})
	if fnErr != nil {
		return PartitionState{}, 0, fnErr
	}
	if err != nil {
		return PartitionState{}, 0, wrapStoreErr(fmt.Sprintf("updating partition %s-%d", topic, partition), err)
	}
	if tr != nil {
		result.Revision = tr.Header.Revision
	}
	return result, result.Revision, nil
}

// PartitionWrite is one partition's change in a WritePartitions batch:
// Next, decided from Known, the state read from a Snapshot (with its
// Revision).
type PartitionWrite struct {
	Topic     string
	Partition int32
	Known     PartitionState
	Next      PartitionState
}

// WritePartitions writes the changes of several partitions in one etcd
// transaction, conditional on conds and on every partition still being at
// its Known revision: all are written, or none. Each Next gets the next
// partition epoch. It returns the revision of the write, or an error
// wrapping ErrConditionFailed (conds failed) or ErrStale (a partition
// changed: decide again on the current state, one partition at a time).
// At most MaxPartitionWrites fit in one call.
//
// A controller reconciling hundreds of partitions at once (a drained
// broker's leaderships, temporary replicas) writes them in a few
// transactions rather than one each: one consensus round instead of
// hundreds.
func (s *Store) WritePartitions(ctx context.Context, writes []PartitionWrite, conds []clientv3.Cmp) (int64, error) {
	if len(writes) == 0 {
		return 0, nil
	}
	if len(writes) > s.MaxPartitionWrites() {
		return 0, fmt.Errorf("cluster: %d partition writes in one transaction, at most %d", len(writes), s.MaxPartitionWrites())
	}
	cmps := make([]clientv3.Cmp, 0, len(writes))
	puts := make([]clientv3.Op, 0, len(writes))
	for _, w := range writes {
		if err := ValidateTopicName(w.Topic); err != nil {
			return 0, err
		}
		if !w.Known.Available() {
			return 0, fmt.Errorf("cluster: writing partition %s-%d: no known state to compare", w.Topic, w.Partition)
		}
		key := s.keys.partition(w.Topic, w.Partition)
		next := w.Next
		next.PartitionEpoch = w.Known.PartitionEpoch + 1
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", w.Known.Revision))
		puts = append(puts, clientv3.OpPut(key, encodePartition(&next)))
	}
	resp, err := s.client.Txn(ctx).If(conds...).Then(clientv3.OpTxn(cmps, puts, nil)).Commit()
	if err != nil {
		return 0, wrapStoreErr(fmt.Sprintf("writing %d partitions", len(writes)), err)
	}
	if !resp.Succeeded {
		return 0, ErrConditionFailed
	}
	if !resp.Responses[0].GetResponseTxn().Succeeded {
		return 0, ErrStale
	}
	return resp.Header.Revision, nil
}

// MaxPartitionWrites is how many partitions one WritePartitions call may
// write: etcd bounds the compares and the operations of a transaction.
func (s *Store) MaxPartitionWrites() int { return s.maxOps - 1 }

// missingPartition tells a missing topic from a missing partition.
func (s *Store) missingPartition(ctx context.Context, topic string, partition int32) error {
	resp, err := s.client.Get(ctx, s.keys.topic(topic), clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	if resp.Count == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, topic)
	}
	return fmt.Errorf("%w: %s-%d", ErrUnknownPartition, topic, partition)
}

// wrapStoreErr adds context to etcd errors; this package's sentinel errors
// already say what happened and pass through unchanged.
func wrapStoreErr(what string, err error) error {
	for _, sentinel := range []error{ErrUnknownTopic, ErrUnknownPartition, ErrInvalidPartitions, ErrMalformed} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	return fmt.Errorf("cluster: %s: %w", what, err)
}
