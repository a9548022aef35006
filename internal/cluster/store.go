package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/spotstream/spotstream/internal/etcdlog"
)

// DefaultMaxTxnOps is the number of operations a transaction may hold on an
// etcd cluster with default settings (etcd's --max-txn-ops). Embedded
// members (etcdmember.MaxTxnOps) allow more; pass WithMaxTxnOps to use more.
const DefaultMaxTxnOps = 128

// Store reads and writes the cluster state of one namespace. It is safe for
// concurrent use.
type Store struct {
	client    *clientv3.Client
	keys      keyspace
	namespace string
	maxOps    int
	// reservedMaxID is reserved.broker.max.id: Register claims ids above it.
	reservedMaxID int32
	log           *slog.Logger
}

// Option configures Connect.
type Option func(*options)

type options struct {
	log       *slog.Logger
	maxTxnOps int
	autoSync  time.Duration
	// reservedMaxID: see WithReservedBrokerMaxID.
	reservedMaxID int32
	configure     func(*clientv3.Config)
}

// WithLogger sets the logger of the Store, its sessions and caches, and of
// the etcd client (whose warnings are logged at debug level: it retries on
// its own, and this package reports what matters).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMaxTxnOps sets the most operations one transaction may hold. It must
// not exceed the server's --max-txn-ops (DefaultMaxTxnOps for a default
// external etcd, etcdmember.MaxTxnOps for embedded members).
func WithMaxTxnOps(n int) Option { return func(o *options) { o.maxTxnOps = n } }

// membershipSyncInterval is how often a client started WithMembershipSync
// reloads the members' client URLs.
const membershipSyncInterval = 5 * time.Second

// WithMembershipSync makes the client follow the cluster's membership: it
// reloads the voting members' advertised client URLs every few seconds
// and uses those, so that it keeps its connection while members are
// replaced (the embedded quorum moves with the fleet). The members must
// advertise client URLs this process can reach.
func WithMembershipSync() Option {
	return func(o *options) { o.autoSync = membershipSyncInterval }
}

// WithClientConfig lets the caller adjust the etcd client configuration
// (TLS, credentials, dial options) after Connect filled it in.
func WithClientConfig(fn func(*clientv3.Config)) Option {
	return func(o *options) { o.configure = fn }
}

// Connect opens a client to the etcd cluster at endpoints and returns a
// Store for namespace ("" means DefaultNamespace). It returns once etcd
// answered a linearizable read, so that a Store in hand means a reachable
// quorum; ctx bounds that wait, not the Store's lifetime.
//
// Endpoints are etcd client URLs: "http://10.0.0.1:2379",
// "unix:///abs/path.sock", or what an embedded member's Endpoints returns.
func Connect(ctx context.Context, endpoints []string, namespace string, opts ...Option) (*Store, error) {
	o := options{log: slog.Default(), maxTxnOps: DefaultMaxTxnOps, reservedMaxID: DefaultReservedBrokerMaxID}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxTxnOps < 2 {
		return nil, fmt.Errorf("cluster: max txn ops %d: want at least 2", o.maxTxnOps)
	}
	if o.reservedMaxID < 0 {
		return nil, fmt.Errorf("cluster: reserved broker max id %d: want at least 0", o.reservedMaxID)
	}
	keys, err := newKeyspace(namespace)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Detect a dead connection within seconds: lease keepalives and the
		// watch ride on it.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Logger:               etcdlog.New(o.log.With("component", "etcd-client")),
		DialOptions: []grpc.DialOption{
			// gRPC's default reconnect backoff grows to 2 minutes; a broker
			// that waited that long would lose its lease. etcd members are
			// few and close, so retry often.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff: backoff.Config{
					BaseDelay:  50 * time.Millisecond,
					Multiplier: 1.6,
					Jitter:     0.2,
					MaxDelay:   2 * time.Second,
				},
				MinConnectTimeout: 5 * time.Second,
			}),
		},
	}
	cfg.AutoSyncInterval = o.autoSync
	if o.configure != nil {
		o.configure(&cfg)
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to etcd %v: %w", endpoints, err)
	}
	// etcd answers once a quorum of its members is up, which may take a
	// while when they start with this broker: wait as long as ctx allows,
	// and say so.
	stopLogging := etcdlog.WhileWaiting(o.log, "waiting for etcd to answer; its members may not have formed a quorum yet", "endpoints", endpoints)
	_, err = client.Get(ctx, keys.clusterID(), clientv3.WithCountOnly())
	stopLogging()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("cluster: reaching etcd %v: %w", endpoints, err)
	}
	return &Store{client: client, keys: keys, namespace: namespace, maxOps: o.maxTxnOps, reservedMaxID: o.reservedMaxID, log: o.log}, nil
}

// Close closes the etcd client. Sessions of this Store lose their keepalive
// (their Done channels close) and caches stop receiving updates; close them
// first.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cluster: closing etcd client: %w", err)
	}
	return nil
}

// Client returns the etcd client, for what this package does not wrap (the
// controller's concurrency.Election, for one).
func (s *Store) Client() *clientv3.Client { return s.client }

// Namespace returns the namespace, without slashes.
func (s *Store) Namespace() string { return s.namespace }

// ControllerKey returns the key prefix reserved for the controller election
// (for concurrency.NewElection).
func (s *Store) ControllerKey() string { return s.keys.controller() }

// ClusterID returns the cluster id, creating it if this is the first broker
// of the cluster. Concurrent first brokers agree: one create wins, the
// others read the winner's id.
func (s *Store) ClusterID(ctx context.Context) (string, error) {
	key := s.keys.clusterID()
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("cluster: reading cluster id: %w", err)
	}
	for len(resp.Kvs) == 0 {
		id := FormatID(NewID())
		tr, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, mustJSON(clusterIDValue{ID: id}))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return "", fmt.Errorf("cluster: creating cluster id: %w", err)
		}
		if tr.Succeeded {
			s.log.Info("created cluster id", "cluster.id", id, "namespace", s.namespace)
			return id, nil
		}
		resp = (*clientv3.GetResponse)(tr.Responses[0].GetResponseRange())
	}
	var v clusterIDValue
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("%w at %s: %q", ErrMalformed, key, resp.Kvs[0].Value)
	}
	return v.ID, nil
}

// AllocateProducerIDs reserves blockSize producer ids and returns the first;
// the block is [first, first+blockSize). Blocks never overlap, across
// brokers and restarts: ids handed out are never handed out again, even if
// the broker that took them dies without using them.
func (s *Store) AllocateProducerIDs(ctx context.Context, blockSize int64) (int64, error) {
	if blockSize <= 0 {
		return 0, fmt.Errorf("cluster: producer id block size %d: want > 0", blockSize)
	}
	var first int64
	_, err := s.cas(ctx, s.keys.producerIDs(), func(kv *mvccpb.KeyValue) ([]clientv3.Op, error) {
		var v producerIDsValue
		if kv != nil {
			if err := json.Unmarshal(kv.Value, &v); err != nil || v.Next < 0 {
				return nil, fmt.Errorf("%w at %s: %q", ErrMalformed, kv.Key, kv.Value)
			}
		}
		if v.Next > math.MaxInt64-blockSize {
			return nil, fmt.Errorf("cluster: producer ids exhausted (next %d)", v.Next)
		}
		first = v.Next
		return []clientv3.Op{clientv3.OpPut(s.keys.producerIDs(), mustJSON(producerIDsValue{Next: v.Next + blockSize}))}, nil
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: allocating producer ids: %w", err)
	}
	return first, nil
}

// cas is the read-modify-write loop behind every update of one key. It
// reads key, asks step what to write given the current value (nil when the
// key does not exist), and commits step's operations guarded by the value's
// mod revision (create revision 0 when absent). When another writer got
// there first, the failed transaction's read of the key feeds the next
// round, so a conflict costs one round trip. step may return no operations
// (nothing to do: cas returns a nil response) or an error (returned as is).
func (s *Store) cas(ctx context.Context, key string, step func(kv *mvccpb.KeyValue) ([]clientv3.Op, error)) (*clientv3.TxnResponse, error) {
	return s.casIf(ctx, key, nil, step)
}

// casIf is cas with extra conditions that must hold for the write to apply
// (the controller's election key, say). When they do not, casIf returns
// ErrConditionFailed rather than retrying: unlike a conflict on key, a
// failed condition does not go away by re-reading key.
//
// With conditions, each round is a nested transaction, so that one round
// trip tells the two failures apart: the outer transaction compares conds,
// the inner one key's revision. Its response is the inner transaction's.
func (s *Store) casIf(ctx context.Context, key string, conds []clientv3.Cmp, step func(kv *mvccpb.KeyValue) ([]clientv3.Op, error)) (*clientv3.TxnResponse, error) {
	return s.casIfFrom(ctx, key, nil, conds, step)
}

// casIfFrom is casIf starting from guess, the key's value as the caller
// last saw it, rather than from a read: a writer that follows the
// snapshots saves a linearizable read (a round of etcd's consensus) per
// write, and a stale guess costs one failed compare, whose answer carries
// the current value. A nil guess reads first.
func (s *Store) casIfFrom(ctx context.Context, key string, guess *mvccpb.KeyValue, conds []clientv3.Cmp, step func(kv *mvccpb.KeyValue) ([]clientv3.Op, error)) (*clientv3.TxnResponse, error) {
	var kvs []*mvccpb.KeyValue
	if guess != nil {
		kvs = []*mvccpb.KeyValue{guess}
	} else {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		kvs = resp.Kvs
	}
	for {
		var kv *mvccpb.KeyValue
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(kvs) > 0 {
			kv = kvs[0]
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)
		}
		ops, err := step(kv)
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		if len(conds) == 0 {
			tr, err := s.client.Txn(ctx).If(cmp).Then(ops...).Else(clientv3.OpGet(key)).Commit()
			if err != nil {
				return nil, err
			}
			if tr.Succeeded {
				return tr, nil
			}
			kvs = tr.Responses[0].GetResponseRange().Kvs
			continue
		}
		outer, err := s.client.Txn(ctx).If(conds...).
			Then(clientv3.OpTxn([]clientv3.Cmp{cmp}, ops, []clientv3.Op{clientv3.OpGet(key)})).
			Commit()
		if err != nil {
			return nil, err
		}
		if !outer.Succeeded {
			return nil, ErrConditionFailed
		}
		tr := (*clientv3.TxnResponse)(outer.Responses[0].GetResponseTxn())
		// The inner response carries no header; the outer one's revision is
		// the write's.
		tr.Header = outer.Header
		if tr.Succeeded {
			return tr, nil
		}
		kvs = tr.Responses[0].GetResponseRange().Kvs
	}
}
