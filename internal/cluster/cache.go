package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// loadPageSize is how many keys one Get of a full load reads: big enough to
// load a large cluster in few round trips, small enough to keep responses
// far below gRPC's message limits.
const loadPageSize = 2000

// Reload backoff after errors (etcd unreachable, no leader).
const (
	minRetryDelay = 50 * time.Millisecond
	maxRetryDelay = 2 * time.Second
)

// Cache keeps a Snapshot of the namespace up to date: it loads every key
// with one read at revision R, then applies the watch from R+1. Readers call
// Load, which never blocks; Changed and WaitRevision wait for newer
// snapshots.
//
// The watch requires a leader: an etcd member cut off from its quorum
// cancels it, and the cache reloads through a member that has one (the
// client fails over), rather than serving a snapshot that silently stopped
// moving. A watch that cannot resume because the revision it needs was
// compacted away also ends in a full reload. A reconnect of the client
// resumes the watch where it was (clientv3 does that) and needs no reload.
type Cache struct {
	store *Store
	snap  atomic.Pointer[Snapshot]

	mu      sync.Mutex    // guards changed
	changed chan struct{} // closed, and replaced, whenever a snapshot is published

	// beforeWatch, if set, runs between a load and the watch that follows
	// it (tests use it to compact the revision the watch needs).
	beforeWatch func(rev int64)
}

// NewCache returns a cache of the store's namespace. It is empty (revision
// 0) until Run has loaded the namespace: WaitRevision(ctx, 1) waits for
// that.
func NewCache(store *Store) *Cache {
	c := &Cache{store: store, changed: make(chan struct{})}
	c.snap.Store(emptySnapshot())
	return c
}

// Load returns the latest snapshot. It never returns nil.
func (c *Cache) Load() *Snapshot { return c.snap.Load() }

// Changed returns a channel that is closed when a snapshot newer than the
// current one is published. To follow the cache without missing a change,
// take the channel before loading:
//
//	for {
//		ch := cache.Changed()
//		react(cache.Load())
//		select {
//		case <-ch:
//		case <-ctx.Done():
//			return
//		}
//	}
//
// A slow reader skips intermediate snapshots and sees the latest; it never
// holds up the cache.
func (c *Cache) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

func (c *Cache) publish(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.Store(s)
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitRevision waits until the snapshot reflects revision rev (a revision
// returned by a write of this package, say), so that a broker reads its own
// writes. It returns ctx's error if ctx ends first.
func (c *Cache) WaitRevision(ctx context.Context, rev int64) error {
	var retry *time.Timer
	delay := minRetryDelay
	for {
		ch := c.Changed()
		cur := c.Load().Revision
		if cur >= rev {
			if retry != nil {
				retry.Stop()
			}
			return nil
		}
		var retryC <-chan time.Time
		if cur > 0 {
			// A revision written outside the namespace produces no event
			// here: ask etcd for a progress notification on the watch
			// stream (the context must carry the watch's metadata to reach
			// it). etcd ignores the request while the watch is catching
			// up, so ask again, less and less often, until rev shows.
			_ = c.store.client.RequestProgress(clientv3.WithRequireLeader(ctx))
			if retry == nil {
				retry = time.NewTimer(delay)
			} else {
				retry.Reset(delay)
			}
			retryC = retry.C
			delay = min(2*delay, maxRetryDelay)
		}
		select {
		case <-ch:
		case <-retryC:
		case <-ctx.Done():
			if retry != nil {
				retry.Stop()
			}
			return ctx.Err()
		}
	}
}

// Run keeps the cache up to date until ctx ends, and then returns nil. The
// caller owns the goroutine that calls it. Run handles every etcd error
// itself (reload, with backoff), so it does not return early.
func (c *Cache) Run(ctx context.Context) error {
	log := c.store.log
	delay := minRetryDelay
	for {
		rev, err := c.reload(ctx)
		if err == nil {
			err = c.watch(ctx, rev)
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			// The watch fell behind compaction: reload at once.
			log.Info("metadata watch compacted; reloading", "namespace", c.store.namespace, "err", err)
			delay = minRetryDelay
			continue
		}
		log.Warn("metadata watch failed; reloading", "namespace", c.store.namespace, "err", err, "retry.in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// reload reads the whole namespace at one revision, in pages, publishes it
// as a new snapshot and returns its revision.
func (c *Cache) reload(ctx context.Context) (int64, error) {
	s := c.store
	b := newBuilder(s.keys, s.log, emptySnapshot())
	end := clientv3.GetPrefixRangeEnd(s.keys.prefix)
	var rev int64
	var partitions []*mvccpb.KeyValue // applied after the topics they belong to
	for key := s.keys.prefix; ; {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(loadPageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("cluster: loading %s: %w", s.keys.prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if s.keys.parse(string(kv.Key)).kind == kindPartition {
				partitions = append(partitions, kv)
			} else {
				b.apply(kv, false)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for _, kv := range partitions {
		b.apply(kv, false)
	}
	c.publish(b.finish(rev))
	return rev, nil
}

// watch applies changes after revision rev until the watch fails or ctx
// ends. Each response becomes one snapshot.
func (c *Cache) watch(ctx context.Context, rev int64) error {
	if c.beforeWatch != nil {
		c.beforeWatch(rev)
	}
	s := c.store
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.client.Watch(wctx, s.keys.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("cluster: watching %s from revision %d: %w", s.keys.prefix, rev+1, err)
		}
		cur := c.Load()
		if resp.IsProgressNotify() {
			// Every event up to the header's revision has been delivered.
			if resp.Header.Revision > cur.Revision {
				next := *cur
				next.Revision = resp.Header.Revision
				c.publish(&next)
			}
			continue
		}
		if len(resp.Events) == 0 {
			continue
		}
		b := newBuilder(s.keys, s.log, cur)
		b.applyEvents(resp.Events)
		// The events' revision, not the header's: the header may run ahead
		// of the events sent so far.
		last := cur.Revision
		for _, ev := range resp.Events {
			last = max(last, ev.Kv.ModRevision)
		}
		c.publish(b.finish(last))
	}
	return fmt.Errorf("cluster: watch of %s closed", s.keys.prefix)
}
