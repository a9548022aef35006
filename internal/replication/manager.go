// Package replication is the follower side of replication: fetchers that
// pull a leader's log into local follower replicas, as Kafka's
// ReplicaFetcherThread does.
//
// There is one fetcher goroutine per source broker, fetching every
// partition this broker follows on that leader in one Fetch request per
// round. A partition newly followed (or followed at a new leader epoch)
// first finds where its log diverges from the leader's with
// OffsetsForLeaderEpoch and truncates there (KIP-101, KIP-279); then it
// fetches from its log end offset.
//
// Durability rule: a follower reports an offset to its leader (as the
// FetchOffset of its next fetch) only once its log is durable up to it.
// After appending what a fetch returned, the fetcher asks the log
// directory's group-commit syncer for a flush and waits for it before the
// next fetch. The leader's high watermark, which acknowledges acks=all
// produce requests, is the smallest offset the ISR holds durably.
//
// Ownership: the replica manager calls Follow, Unfollow and SetBrokers
// from its single metadata-applying goroutine, and Close once at
// shutdown. Each fetcher goroutine is started and stopped by the Manager;
// Close returns after all of them have exited. A fetcher never writes to
// a partition that stopped following it: every write names the leader
// epoch it fetched under, and the partition refuses it after a role or
// epoch change (partition.ErrNotFollowing).
package replication

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/partition"
)

// Config configures a Manager.
type Config struct {
	// BrokerID is this broker's id, sent as the replica id.
	BrokerID int32
	// MaxBytes bounds a fetch response (replica.fetch.response.max.bytes),
	// PartitionMaxBytes one partition's share (replica.fetch.max.bytes).
	MaxBytes          int32
	PartitionMaxBytes int32
	// MaxWait and MinBytes are the long poll (replica.fetch.wait.max.ms,
	// replica.fetch.min.bytes).
	MaxWait  time.Duration
	MinBytes int32
	// Backoff is how long a partition waits after an error before it is
	// fetched again (Kafka's replica.fetch.backoff.ms).
	Backoff time.Duration
	Logger  *slog.Logger
	// Dial connects to a leader; nil means a franz-go client pinned to
	// the address. Tests substitute it.
	Dial func(addr string) (Requester, error)
}

// Requester sends one request to one broker and returns its response.
type Requester interface {
	Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	Close()
}

// Manager owns the fetchers of one broker.
type Manager struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // fetchers run under it; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool                   // guarded by mu
	addrs    map[int32]string       // guarded by mu; live brokers' addresses
	fetchers map[int32]*fetcher     // guarded by mu; by source broker id
	owner    map[partition.ID]int32 // guarded by mu; which fetcher has a partition
}

// New returns a Manager with no fetchers.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.Dial == nil {
		cfg.Dial = dialKgo(cfg.BrokerID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		cfg:      cfg,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		addrs:    map[int32]string{},
		fetchers: map[int32]*fetcher{},
		owner:    map[partition.ID]int32{},
	}
}

// SetBrokers records the live brokers' addresses. A fetcher whose leader
// moved to a new address reconnects.
func (m *Manager) SetBrokers(addrs map[int32]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addrs = addrs
	for _, f := range m.fetchers {
		f.setAddr(addrs[f.leader])
	}
}

// Follow makes p, held in the log directory whose id is dir, fetch from
// leader at epoch, starting with truncation. p must already follow
// (leader, epoch) (partition.BecomeFollower). Calling it again for the
// same leader and epoch restarts from truncation too.
func (m *Manager) Follow(p *partition.Partition, leader, epoch int32, dir [16]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	id := p.ID()
	if prev, ok := m.owner[id]; ok && prev != leader {
		m.unfollowLocked(id)
	}
	f := m.fetchers[leader]
	if f == nil {
		f = newFetcher(m, leader, m.addrs[leader])
		m.fetchers[leader] = f
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			f.run(m.ctx)
		}()
	}
	f.add(&followed{p: p, epoch: epoch, dir: dir, truncate: true, askEpoch: Undefined})
	m.owner[id] = leader
}

// Unfollow stops fetching a partition (it became leader, lost its leader,
// or is being deleted).
func (m *Manager) Unfollow(id partition.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unfollowLocked(id)
}

func (m *Manager) unfollowLocked(id partition.ID) {
	leader, ok := m.owner[id]
	if !ok {
		return
	}
	delete(m.owner, id)
	f := m.fetchers[leader]
	if f == nil {
		return
	}
	if f.remove(id) == 0 {
		// A fetcher without partitions has nothing to do: stop it
		// rather than keep a connection to that broker.
		f.stop()
		delete(m.fetchers, leader)
	}
}

// Following reports the source broker a partition is fetched from.
func (m *Manager) Following(id partition.ID) (leader int32, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	leader, ok = m.owner[id]
	return leader, ok
}

// Close stops every fetcher and waits for them to exit.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.fetchers = map[int32]*fetcher{}
	m.owner = map[partition.ID]int32{}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// dialKgo returns a Dial that connects with a franz-go client seeded with
// exactly the leader's address. Requests go to the seed broker handle, so
// they are never routed by metadata: a follower must fetch from the broker
// the controller named, even while its own view of the cluster lags.
// franz-go brings version negotiation, framing and reconnection.
func dialKgo(self int32) func(addr string) (Requester, error) {
	return func(addr string) (Requester, error) {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr),
			kgo.ClientID("spotstream-replica-fetcher"),
			kgo.DialTimeout(5*time.Second),
			kgo.ConnIdleTimeout(time.Minute),
		)
		if err != nil {
			return nil, err
		}
		return &kgoRequester{cl: cl}, nil
	}
}

type kgoRequester struct{ cl *kgo.Client }

func (r *kgoRequester) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	seeds := r.cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, errNoSeed
	}
	return seeds[0].Request(ctx, req)
}

func (r *kgoRequester) Close() { r.cl.Close() }
