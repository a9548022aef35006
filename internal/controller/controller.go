package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
)

// Retry backoff after etcd errors (unreachable, no leader).
const (
	minRetryDelay = 50 * time.Millisecond
	maxRetryDelay = 2 * time.Second
)

// Config is what a Controller needs. Store, Cache and Session are required.
type Config struct {
	Store *cluster.Store
	// Cache is the broker's metadata cache, run by its owner. The
	// controller decides from its snapshots.
	Cache *cluster.Cache
	// Session is the broker's registration. The controller campaigns under
	// its lease, and stops when it ends.
	Session *cluster.Session
	// Broker supplies the topic defaults (unclean.leader.election.enable);
	// nil means Kafka's defaults.
	Broker *config.Broker
	Logger *slog.Logger
}

// Controller is one broker's part in the controller election and, while
// it holds the election, the controller. Run drives it; the other methods
// are safe for concurrent use.
type Controller struct {
	store   *cluster.Store
	cache   *cluster.Cache
	session *cluster.Session
	broker  *config.Broker
	log     *slog.Logger

	// term is the election this controller holds, nil while it holds none.
	term atomic.Pointer[term]
}

// term is one tenure as controller: the election key and its create
// revision, which every write compares.
type term struct {
	key string
	rev int64
}

// fence returns the condition of every write of the term: the election key
// is still the one the term won with.
func (t *term) fence() []clientv3.Cmp {
	return []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(t.key), "=", t.rev)}
}

// New returns the controller of the broker whose session cfg.Session is.
func New(cfg Config) (*Controller, error) {
	if cfg.Store == nil || cfg.Cache == nil || cfg.Session == nil {
		return nil, errors.New("controller: Store, Cache and Session are required")
	}
	b := cfg.Broker
	if b == nil {
		b = defaultBroker
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Controller{
		store:   cfg.Store,
		cache:   cfg.Cache,
		session: cfg.Session,
		broker:  b,
		log:     log.With("component", "controller"),
	}, nil
}

// Active reports whether this broker is the active controller.
func (c *Controller) Active() bool { return c.term.Load() != nil }

// ID returns the broker id of the elected controller as the cache last saw
// it (any broker's, not only this one's), or -1 if there is none.
func (c *Controller) ID() int32 { return c.cache.Load().ControllerID }

// Run campaigns, acts as controller while elected, and campaigns again if
// deposed, until ctx ends or the broker's session does. It returns nil then;
// the caller owns the goroutine that calls it. Before returning it resigns,
// so that another broker takes over without waiting for this one's lease.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		// The controller is a member's job: it ends with the membership.
		select {
		case <-c.session.Done():
			cancel()
		case <-ctx.Done():
		}
	})

	// A handle on the broker's lease for the election, orphaned at once:
	// cluster.Session alone renews the lease (see the package doc).
	cs, err := concurrency.NewSession(c.store.Client(),
		concurrency.WithLease(c.session.Lease()), concurrency.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("controller: election session on lease %x: %w", c.session.Lease(), err)
	}
	cs.Orphan()

	delay := minRetryDelay
	for {
		e := concurrency.NewElection(cs, c.store.ControllerKey())
		err := e.Campaign(ctx, cluster.ControllerValue(c.session.ID()))
		if err != nil {
			if ctx.Err() != nil {
				// Campaign withdrew the candidacy.
				return nil
			}
			c.log.Warn("controller campaign failed", "err", err, "retry.in", delay)
			if !sleep(ctx, delay) {
				return nil
			}
			delay = min(2*delay, maxRetryDelay)
			continue
		}
		delay = minRetryDelay
		t := &term{key: e.Key(), rev: e.Rev()}
		if ctx.Err() == nil {
			c.log.Info("elected controller", "epoch", t.rev)
			c.term.Store(t)
			c.lead(ctx, t)
			c.term.Store(nil)
		}
		// Deposed, or stopping: either way withdraw, so that a stop hands
		// over at once. Resign compares the create revision, so it never
		// deletes a newer candidacy of the same lease.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if err := e.Resign(rctx); err != nil {
			c.log.Debug("resigning controllership", "err", err)
		}
		rcancel()
		if ctx.Err() != nil {
			c.log.Info("stopped controller", "epoch", t.rev)
			return nil
		}
		c.log.Warn("deposed as controller; campaigning again", "epoch", t.rev)
	}
}

// lead acts as controller for term t until ctx ends or t is deposed: it
// reconciles each new snapshot, and again when a dead broker's grace
// period ends or the leader imbalance is due for a check.
func (c *Controller) lead(ctx context.Context, t *term) {
	var waitRev int64 // skip snapshots older than our last write: nothing new to do
	delay := minRetryDelay
	var retry, expiry <-chan time.Time
	var mem tenure // what this term remembers (repair.go)
	for {
		ch := c.cache.Changed()
		snap := c.cache.Load()
		switch {
		case snap.ControllerEpoch > t.rev || snap.ControllerEpoch == 0 && snap.Revision >= t.rev:
			// A newer candidate leads, or none does, at a revision where
			// ours existed: our key was deleted.
			return
		case snap.ControllerEpoch < t.rev || snap.Revision < waitRev:
			// The cache has not yet seen our victory (or our writes):
			// decide from a snapshot that has.
		default:
			rev, err := c.reconcileAll(ctx, snap, t, &mem)
			switch {
			case errors.Is(err, cluster.ErrConditionFailed):
				return
			case err != nil && ctx.Err() == nil:
				c.log.Warn("reconciling the cluster failed; retrying", "err", err, "retry.in", delay)
				retry = time.After(delay)
				delay = min(2*delay, maxRetryDelay)
			default:
				retry, delay = nil, minRetryDelay
				waitRev = max(waitRev, rev)
			}
			expiry = nil
			every := time.Duration(0)
			if c.broker.AutoLeaderRebalance {
				every = c.broker.LeaderImbalanceInterval
			}
			if next := mem.nextWake(c.broker.ReplacementGrace, every); !next.IsZero() {
				expiry = time.After(max(time.Until(next), 0) + time.Millisecond)
			}
		}
		select {
		case <-ch:
		case <-retry:
			retry = nil
			waitRev = 0
		case <-expiry:
			expiry = nil
			waitRev = 0
		case <-ctx.Done():
			return
		}
	}
}

// sleep waits for d or ctx, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
