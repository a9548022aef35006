package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Session is a broker's membership in the cluster: its registration key
// brokers/<id>, bound to a lease that the session keeps alive. When the
// lease is lost, Done is closed: the broker must stop doing what only a
// member may do (leading partitions, acting as controller), because the
// rest of the cluster considers it dead (or is about to).
//
// A Session owns two goroutines: one renews the lease, the other watches
// the registration key (so that a revoked lease or a deleted key ends the
// session at once, not at the next renewal). Both stop when the session
// ends: lease lost, or Close.
//
// The lease is considered lost when etcd says so (expired, revoked) or when
// no renewal succeeded for 3/4 of the TTL. The latter fires before etcd can
// expire the lease, so that a broker cut off from etcd stops leading before
// the controller hands its partitions to others.
type Session struct {
	store *Store
	id    int32
	lease clientv3.LeaseID
	key   string
	ttl   time.Duration

	// ctx is the session's lifetime: cancel ends it and stops both
	// goroutines, the keepalive (started by startSession) and the
	// registration watch (started by Register once the key is claimed).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed by the keepalive goroutine when the session ends
	// deleted is closed by the registration watch when the key is deleted
	// (lease revoked, key deleted by hand): the session ends at once rather
	// than at the next keepalive.
	deleted chan struct{}

	// writeMu serializes SetState calls, so that the last state written to
	// etcd is the one in info. It is held across the etcd transaction.
	writeMu sync.Mutex

	mu   sync.Mutex // guards info and err
	info BrokerInfo
	err  error // why the session ended; set before done is closed
}

// Register makes the broker a live member: it registers brokers/<reg.ID>
// under a lease with the given TTL (broker.session.timeout.ms; etcd counts
// whole seconds and enforces a minimum), and keeps the lease alive until
// the session ends. The same transaction records the id's rack and log
// directories in broker-ids/<id>, which outlives the lease.
//
// With reg.ID -1, Register claims an id above the reserved maximum
// ([WithReservedBrokerMaxID]): the lowest one that is not live and was
// last held in reg.Rack (a replacement in the zone of a dead broker takes
// over its id), else the lowest one never held. Ids up to the maximum are
// never claimed: they belong to brokers configured with them.
//
// previousLease is the lease of this broker's previous process (kept in
// meta.properties), or 0. A broker restarted within its TTL (after SIGKILL,
// say) finds its old registration still there; when previousLease is still
// alive the new session adopts it, and with it the old registration,
// instead of waiting for it to expire. With reg.ID == -1, adopting the old
// lease also keeps the old id.
//
// If brokers/<id> is held by another live lease, Register fails at once:
// with ErrBrokerIDConflict when both registrations list log directories
// and share none (another broker runs with this id), else with
// ErrBrokerIDInUse (the holder may be an earlier process of this broker on
// the same directory, whose lease is unknown; the caller may wait for it
// to expire and retry).
func (s *Store) Register(ctx context.Context, reg Registration, ttl time.Duration, previousLease clientv3.LeaseID) (*Session, error) {
	if reg.State == "" {
		reg.State = StateStarting
	}
	if !reg.State.valid() {
		return nil, fmt.Errorf("cluster: registering broker %d: invalid state %q", reg.ID, reg.State)
	}
	if reg.ID < -1 {
		return nil, fmt.Errorf("cluster: registering broker %d: invalid broker id", reg.ID)
	}
	ttlSec := max(int64(math.Ceil(ttl.Seconds())), 1)

	for {
		lease, remaining, ownID, fresh, err := s.acquireLease(ctx, reg.ID, ttlSec, previousLease)
		if err != nil {
			return nil, fmt.Errorf("cluster: registering broker %d: %w", reg.ID, err)
		}
		claim := reg
		if claim.ID == -1 && ownID >= 0 {
			claim.ID = ownID
		}
		sess := s.startSession(lease, remaining)
		info, rev, err := s.claim(ctx, claim, lease)
		if err == nil {
			sess.id = info.ID
			sess.key = s.keys.broker(info.ID)
			sess.info = info
			sess.wg.Add(1)
			go sess.watchRegistration(rev)
			s.log.Info("registered broker", "broker.id", info.ID, "lease", fmt.Sprintf("%x", lease),
				"epoch", info.Epoch, "adopted.lease", !fresh)
			return sess, nil
		}
		sess.stop()
		if !fresh && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// The previous lease expired between the check and the claim:
			// start over with a lease of our own.
			previousLease = 0
			continue
		}
		if fresh {
			// Best effort: the lease would expire on its own anyway.
			_, _ = s.client.Revoke(context.WithoutCancel(ctx), lease)
		}
		return nil, fmt.Errorf("cluster: registering broker %d: %w", reg.ID, err)
	}
}

// acquireLease adopts previous if it is alive and holds no registration of
// another id in this namespace, and grants a new lease otherwise. It returns
// the lease, its remaining TTL in seconds, the broker id registered under
// an adopted lease (-1 if none) and whether the lease is new.
func (s *Store) acquireLease(ctx context.Context, id int32, ttlSec int64, previous clientv3.LeaseID) (clientv3.LeaseID, int64, int32, bool, error) {
	if previous != 0 {
		resp, err := s.client.TimeToLive(ctx, previous, clientv3.WithAttachedKeys())
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return 0, 0, -1, false, fmt.Errorf("checking previous lease %x: %w", previous, err)
		}
		if err == nil && resp.TTL > 0 {
			ownID := int32(-1)
			for _, k := range resp.Keys {
				if pk := s.keys.parse(string(k)); pk.kind == kindBroker {
					ownID = pk.broker
				}
			}
			if id < 0 || ownID < 0 || ownID == id {
				return previous, resp.TTL, ownID, false, nil
			}
			// The old lease holds another id's registration (broker.id was
			// changed): leave it to expire rather than keep it alive.
			s.log.Warn("previous lease holds another broker id; not adopting it",
				"lease", fmt.Sprintf("%x", previous), "broker.id", id, "lease.broker.id", ownID)
		}
	}
	resp, err := s.client.Grant(ctx, ttlSec)
	if err != nil {
		return 0, 0, -1, false, fmt.Errorf("granting lease: %w", err)
	}
	return resp.ID, resp.TTL, -1, true, nil
}

// claim writes the registration of reg.ID under lease, or, for reg.ID -1,
// of an id it claims (see claimNew). It returns the registration and the
// revision of the write.
func (s *Store) claim(ctx context.Context, reg Registration, lease clientv3.LeaseID) (BrokerInfo, int64, error) {
	info := BrokerInfo{Registration: reg, Incarnation: FormatID(NewID())}
	if reg.ID >= 0 {
		rev, err := s.claimID(ctx, &info, lease)
		return info, rev, err
	}
	rev, err := s.claimNew(ctx, &info, lease)
	return info, rev, err
}

// startSession starts keeping lease alive. ttlSec is the lease's remaining
// TTL: the session considers the lease lost if no renewal arrives within
// 3/4 of it.
func (s *Store) startSession(lease clientv3.LeaseID, ttlSec int64) *Session {
	// The keepalive outlives Register's ctx: it lives as long as the session.
	ctx, cancel := context.WithCancel(context.Background())
	sess := &Session{
		store:   s,
		id:      -1,
		lease:   lease,
		ttl:     time.Duration(ttlSec) * time.Second,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		deleted: make(chan struct{}),
	}
	ch, err := s.client.KeepAlive(ctx, lease)
	if err != nil {
		// The client is closed: the session is over before it began.
		sess.end(fmt.Errorf("%w: keeping lease %x alive: %v", ErrSessionLost, lease, err))
		cancel()
		close(sess.done)
		return sess
	}
	sess.wg.Add(1)
	go sess.keepAlive(ch, ttlSec)
	return sess
}

// fenceAfter is how long a session trusts a renewal of ttlSec seconds. The
// lease expires ttlSec after etcd renewed it, which is before we heard of
// it; the last quarter is the margin for that delay, so that a broker cut
// off from etcd gives up before the others see its lease expire.
func fenceAfter(ttlSec int64) time.Duration {
	return time.Duration(ttlSec) * time.Second * 3 / 4
}

// keepAlive is the session's goroutine: it consumes keepalive responses
// and ends the session when they stop (lease expired or revoked, client
// closed) or do not arrive in time, or when the registration key is
// deleted.
func (ss *Session) keepAlive(ch <-chan *clientv3.LeaseKeepAliveResponse, ttlSec int64) {
	defer ss.wg.Done()
	defer close(ss.done)
	// Once the session has ended, stop renewing: a lost session must not
	// keep its registration alive behind the broker's back.
	defer ss.cancel()
	ctx := ss.ctx
	fence := time.NewTimer(fenceAfter(ttlSec))
	defer fence.Stop()
	for {
		select {
		case <-ctx.Done():
			ss.end(ErrSessionClosed)
			return
		case <-ss.deleted:
			ss.end(fmt.Errorf("%w: registration %s deleted", ErrSessionLost, ss.key))
			return
		case resp, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					ss.end(ErrSessionClosed)
				} else {
					ss.end(fmt.Errorf("%w: lease %x expired, was revoked, or its client closed", ErrSessionLost, ss.lease))
				}
				return
			}
			fence.Reset(fenceAfter(resp.TTL))
		case <-fence.C:
			ss.end(fmt.Errorf("%w: lease %x not renewed in time", ErrSessionLost, ss.lease))
			return
		}
	}
}

// watchRegistration closes deleted when the registration key is deleted or
// taken over by another lease. Watching may block while etcd is
// unreachable, which is why it has a goroutine of its own.
func (ss *Session) watchRegistration(rev int64) {
	defer ss.wg.Done()
	for resp := range ss.store.client.Watch(ss.ctx, ss.key, clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			// The keepalive still guards the session.
			ss.store.log.Debug("registration watch ended", "key", ss.key, "err", err)
			return
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete || clientv3.LeaseID(ev.Kv.Lease) != ss.lease {
				close(ss.deleted)
				return
			}
		}
	}
}

func (ss *Session) end(err error) {
	ss.mu.Lock()
	if ss.err == nil {
		ss.err = err
	}
	ss.mu.Unlock()
	if errors.Is(err, ErrSessionLost) {
		// Only immutable fields here: Register may still be filling in id.
		ss.store.log.Warn("broker session lost", "lease", fmt.Sprintf("%x", ss.lease), "err", err)
	}
}

// stop ends the session's goroutines and waits for them.
func (ss *Session) stop() {
	ss.cancel()
	ss.wg.Wait()
}

// ID returns the broker id the session registered.
func (ss *Session) ID() int32 { return ss.id }

// Lease returns the session's lease. Record it (meta.properties) and pass
// it to Register after a restart. The controller election binds to it too
// (concurrency.WithLease), so that losing the session loses controllership.
func (ss *Session) Lease() clientv3.LeaseID { return ss.lease }

// TTL returns the lease's TTL as granted by etcd.
func (ss *Session) TTL() time.Duration { return ss.ttl }

// Info returns the registration as last written.
func (ss *Session) Info() BrokerInfo {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.info
}

// Done returns a channel that is closed when the session ends: the lease
// was lost (this is the fencing signal) or Close was called.
func (ss *Session) Done() <-chan struct{} { return ss.done }

// Err returns nil while the session is live; afterwards an error wrapping
// ErrSessionLost or ErrSessionClosed.
func (ss *Session) Err() error {
	select {
	case <-ss.done:
	default:
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.err
}

// SetState rewrites the registration with a new state and returns the
// revision of the write. It fails with ErrSessionLost when the
// registration is no longer held by the session's lease.
func (ss *Session) SetState(ctx context.Context, state BrokerState) (int64, error) {
	if !state.valid() {
		return 0, fmt.Errorf("cluster: broker %d: invalid state %q", ss.id, state)
	}
	rev, err := ss.update(ctx, func(r *Registration) { r.State = state })
	if err != nil {
		return 0, fmt.Errorf("cluster: setting state of broker %d to %s: %w", ss.id, state, err)
	}
	return rev, nil
}

// SetDrain drains the broker by its own decision (an interruption notice,
// a rebalance recommendation): StateDraining with drain d, or, for
// DrainNone, StateRunning again.
func (ss *Session) SetDrain(ctx context.Context, d Drain) (int64, error) {
	rev, err := ss.update(ctx, func(r *Registration) {
		r.State, r.Drain = StateDraining, d
		if d == DrainNone {
			r.State = StateRunning
		}
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: setting drain of broker %d to %s: %w", ss.id, d, err)
	}
	return rev, nil
}

// SetQuorumMember rewrites the registration with the id of the embedded
// etcd member the broker now runs ("" for none). The broker must have
// registered a QuorumPeer.
func (ss *Session) SetQuorumMember(ctx context.Context, member string) (int64, error) {
	rev, err := ss.update(ctx, func(r *Registration) {
		if r.Quorum != nil {
			q := *r.Quorum
			q.Member = member
			r.Quorum = &q
		}
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: recording etcd member %q of broker %d: %w", member, ss.id, err)
	}
	return rev, nil
}

// update rewrites the registration with fn's change and returns the
// revision of the write, or ErrSessionLost when the registration is no
// longer held by the session's lease.
func (ss *Session) update(ctx context.Context, fn func(*Registration)) (int64, error) {
	ss.writeMu.Lock()
	defer ss.writeMu.Unlock()
	info := ss.Info()
	fn(&info.Registration)
	tr, err := ss.store.client.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(ss.key), "=", ss.lease)).
		Then(clientv3.OpPut(ss.key, mustJSON(&info), clientv3.WithLease(ss.lease))).
		Commit()
	if err != nil {
		return 0, err
	}
	if !tr.Succeeded {
		return 0, fmt.Errorf("%w: broker %d: registration no longer held by lease %x", ErrSessionLost, ss.id, ss.lease)
	}
	ss.mu.Lock()
	ss.info = info
	ss.mu.Unlock()
	return tr.Header.Revision, nil
}

// Close ends the session. If it was live, Close revokes the lease, so the
// registration disappears at once (a clean shutdown is seen immediately,
// not after the TTL). A session that was already lost is not revoked: its
// lease may have been adopted by a newer session (Register with
// previousLease).
func (ss *Session) Close(ctx context.Context) error {
	ss.stop()
	if errors.Is(ss.Err(), ErrSessionLost) {
		return nil
	}
	if _, err := ss.store.client.Revoke(ctx, ss.lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("cluster: revoking lease %x of broker %d: %w", ss.lease, ss.id, err)
	}
	return nil
}
