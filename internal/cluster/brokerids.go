package cluster

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Broker ids come in Kafka's two ranges. Ids from 0 to the reserved
// maximum (reserved.broker.max.id) are the operators': a broker configured
// with broker.id registers exactly that id. Ids above it are claimed by
// brokers without one, so a claimed id never takes a configured id from a
// broker that has not started yet, whatever the start order.
//
// A claimed id is chosen from the history in broker-ids/<id>, which every
// registration rewrites in the transaction that creates brokers/<id>: a
// broker reuses the lowest claimed id that is not live and was last held
// in its own rack, else takes a new one. A replacement instance in the
// zone of a dead spot instance thus takes over the dead broker's id, and
// with it its replicas, which it fetches from the other replicas.

// DefaultReservedBrokerMaxID is Kafka's default reserved.broker.max.id.
const DefaultReservedBrokerMaxID int32 = 1000

// WithReservedBrokerMaxID sets reserved.broker.max.id: the highest id an
// operator may configure. Register claims ids above it for brokers
// registered with ID -1. Every broker of a cluster must use the same value.
func WithReservedBrokerMaxID(n int32) Option {
	return func(o *options) { o.reservedMaxID = n }
}

// pickID chooses the id for a broker of rack that registers without one:
// the lowest id above reservedMax that no live registration holds and whose
// history (broker-ids/<id>) names rack, else the lowest id above
// reservedMax with neither a live registration nor a history. A nil
// history entry is one that cannot be read: never reused, never new.
// reused reports the first case; ok is false when no id is left.
func pickID(reservedMax int32, rack string, live map[int32]bool, history map[int32]*idRecord) (id int32, reused, ok bool) {
	for _, id := range slices.Sorted(maps.Keys(history)) {
		if rec := history[id]; id > reservedMax && !live[id] && rec != nil && rec.Rack == rack {
			return id, true, true
		}
	}
	for id := int64(reservedMax) + 1; id <= math.MaxInt32; id++ {
		if _, seen := history[int32(id)]; !seen && !live[int32(id)] {
			return int32(id), false, true
		}
	}
	return -1, false, false
}

// claimNew registers info under lease with an id chosen by pickID, and
// sets info.ID. One transaction reads the live registrations and the
// history; the write compares both keys of the chosen id with what was
// read (brokers/<id> absent, broker-ids/<id> unchanged or absent), so two
// brokers claiming at once never get the same id: the loser reads again.
func (s *Store) claimNew(ctx context.Context, info *BrokerInfo, lease clientv3.LeaseID) (int64, error) {
	for {
		read, err := s.client.Txn(ctx).Then(
			clientv3.OpGet(s.keys.brokers(), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
			clientv3.OpGet(s.keys.brokerIDs(), clientv3.WithPrefix()),
		).Commit()
		if err != nil {
			return 0, fmt.Errorf("reading broker ids: %w", err)
		}
		live := map[int32]bool{}
		for _, kv := range read.Responses[0].GetResponseRange().Kvs {
			if pk := s.keys.parse(string(kv.Key)); pk.kind == kindBroker {
				live[pk.broker] = true
			}
		}
		history := map[int32]*idRecord{}
		revs := map[int32]int64{}
		for _, kv := range read.Responses[1].GetResponseRange().Kvs {
			pk := s.keys.parse(string(kv.Key))
			if pk.kind != kindBrokerIDRecord {
				continue
			}
			revs[pk.broker] = kv.ModRevision
			rec, err := decodeIDRecord(string(kv.Key), kv.Value)
			if err != nil {
				s.log.Warn("ignoring malformed broker id record: its id is neither reused nor claimed anew", "key", string(kv.Key), "err", err)
				history[pk.broker] = nil
				continue
			}
			history[pk.broker] = &rec
		}
		id, reused, ok := pickID(s.reservedMaxID, info.Rack, live, history)
		if !ok {
			return 0, fmt.Errorf("no broker id above reserved.broker.max.id %d is left to claim", s.reservedMaxID)
		}
		info.ID = id
		// Epoch: above the revision of any earlier registration of this id,
		// which the read above has seen.
		info.Epoch = read.Header.Revision + 1
		key, recKey := s.keys.broker(id), s.keys.brokerIDRecord(id)
		recCmp := clientv3.Compare(clientv3.CreateRevision(recKey), "=", 0)
		if reused {
			recCmp = clientv3.Compare(clientv3.ModRevision(recKey), "=", revs[id])
		}
		tr, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0), recCmp).
			Then(
				clientv3.OpPut(key, mustJSON(info), clientv3.WithLease(lease)),
				clientv3.OpPut(recKey, encodeIDRecord(&info.Registration)),
			).
			Commit()
		if err != nil {
			return 0, err
		}
		if tr.Succeeded {
			if reused {
				s.log.Info("claimed the broker id last held in this rack", "broker.id", id, "rack", info.Rack,
					"previous.directories", history[id].Directories)
			} else {
				s.log.Info("claimed a new broker id", "broker.id", id, "rack", info.Rack)
			}
			return tr.Header.Revision, nil
		}
		// Another broker claimed or registered the same id at the same
		// moment: read again.
	}
}

// claimID registers info.ID, which must be free or already held by lease.
// The history record of the id is rewritten in the same transaction.
func (s *Store) claimID(ctx context.Context, info *BrokerInfo, lease clientv3.LeaseID) (int64, error) {
	key, recKey := s.keys.broker(info.ID), s.keys.brokerIDRecord(info.ID)
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	kvs, rev := resp.Kvs, resp.Header.Revision
	for {
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(kvs) > 0 {
			if held := clientv3.LeaseID(kvs[0].Lease); held != lease {
				return 0, heldError(&info.Registration, kvs[0])
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", kvs[0].ModRevision)
		}
		info.Epoch = rev + 1
		tr, err := s.client.Txn(ctx).If(cmp).
			Then(
				clientv3.OpPut(key, mustJSON(info), clientv3.WithLease(lease)),
				clientv3.OpPut(recKey, encodeIDRecord(&info.Registration)),
			).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return 0, err
		}
		if tr.Succeeded {
			return tr.Header.Revision, nil
		}
		kvs, rev = tr.Responses[0].GetResponseRange().Kvs, tr.Header.Revision
	}
}

// heldError explains why want cannot register its id, which kv (the
// registration under another lease) holds. When both registrations list
// log directories and share none, the holder is another broker that runs
// with the same id: ErrBrokerIDConflict, which waiting does not cure.
// Otherwise the holder may be this broker's own earlier process (on a
// directory we still have, or one that recorded none), whose lease the
// caller did not know: ErrBrokerIDInUse, which ends when that lease
// expires.
func heldError(want *Registration, kv *mvccpb.KeyValue) error {
	held := clientv3.LeaseID(kv.Lease)
	holder, err := decodeBroker(string(kv.Key), kv.Value)
	if err != nil {
		return fmt.Errorf("%w: broker %d is registered under lease %x, in a registration that cannot be read (%v)", ErrBrokerIDInUse, want.ID, held, err)
	}
	addr := net.JoinHostPort(holder.Host, strconv.Itoa(int(holder.Port)))
	if len(holder.Directories) == 0 || len(want.Directories) == 0 {
		return fmt.Errorf("%w: broker %d is registered by %s under lease %x, which records no log directories to tell an earlier process of this broker from another broker",
			ErrBrokerIDInUse, want.ID, addr, held)
	}
	for _, d := range want.Directories {
		if slices.Contains(holder.Directories, d) {
			return fmt.Errorf("%w: broker %d is still registered by an earlier process on the same log directory (directory.id %s), from %s under lease %x",
				ErrBrokerIDInUse, want.ID, d, addr, held)
		}
	}
	return fmt.Errorf("%w: broker %d is registered by the live broker at %s with log directories %v, none of which is ours (%v): two brokers have the same broker.id, or this log directory lost its broker to a replacement",
		ErrBrokerIDConflict, want.ID, addr, holder.Directories, want.Directories)
}
