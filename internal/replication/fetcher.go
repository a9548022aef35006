package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/partition"
)

var errNoSeed = errors.New("replication: client has no seed broker")

// followed is one partition a fetcher fetches. Only the fetcher's
// goroutine reads or writes the fields after add.
type followed struct {
	p     *partition.Partition
	epoch int32 // the leader epoch it follows
	// dir is the directory id of the log directory holding p, named in
	// every fetch so that the leader counts this copy, not an older one
	// of the same broker id (zero: not tracked).
	dir [16]byte
	// truncate is set until the log has been truncated to where it
	// diverges from the leader's; askEpoch is the epoch to ask about
	// next (Undefined: the latest local one).
	truncate bool
	askEpoch int32
	// delayed holds the partition back after an error.
	delayed time.Time
}

// fetcher fetches the partitions this broker follows on one leader.
type fetcher struct {
	m      *Manager
	leader int32
	log    *slog.Logger
	cancel context.CancelFunc // set by run; guarded by mu
	wake   chan struct{}      // poked when the partitions or the address change

	mu      sync.Mutex
	addr    string                     // guarded by mu
	parts   map[partition.ID]*followed // guarded by mu
	stopped bool                       // guarded by mu
}

func newFetcher(m *Manager, leader int32, addr string) *fetcher {
	return &fetcher{
		m:      m,
		leader: leader,
		log:    m.log.With("leader", leader),
		wake:   make(chan struct{}, 1),
		addr:   addr,
		parts:  map[partition.ID]*followed{},
	}
}

func (f *fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) add(fp *followed) {
	f.mu.Lock()
	f.parts[fp.p.ID()] = fp
	f.mu.Unlock()
	f.poke()
}

// remove drops a partition and returns how many are left.
func (f *fetcher) remove(id partition.ID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, id)
	return len(f.parts)
}

func (f *fetcher) setAddr(addr string) {
	f.mu.Lock()
	changed := addr != f.addr
	f.addr = addr
	f.mu.Unlock()
	if changed {
		f.poke()
	}
}

// stop ends the fetcher's goroutine (asynchronously; Manager.Close waits).
func (f *fetcher) stop() {
	f.mu.Lock()
	f.stopped = true
	cancel := f.cancel
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// current returns the partitions and the address to fetch them from.
func (f *fetcher) current() (string, []*followed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := make([]*followed, 0, len(f.parts))
	for _, fp := range f.parts {
		parts = append(parts, fp)
	}
	return f.addr, parts
}

// stillFollowed reports whether fp is still the fetcher's entry for its
// partition (Follow may have replaced it with a new epoch).
func (f *fetcher) stillFollowed(fp *followed) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts[fp.p.ID()] == fp
}

// run is the fetcher's goroutine: it connects to the leader, then loops
// over truncation and fetch rounds until ctx ends or stop is called.
func (f *fetcher) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.mu.Lock()
	f.cancel = cancel
	if f.stopped {
		cancel()
	}
	f.mu.Unlock()

	var conn Requester
	var connAddr string
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for ctx.Err() == nil {
		addr, parts := f.current()
		if conn != nil && addr != connAddr {
			conn.Close()
			conn = nil
		}
		now := time.Now()
		var trunc, fetch []*followed
		next := now.Add(time.Hour)
		for _, fp := range parts {
			switch {
			case fp.delayed.After(now):
				next = earlier(next, fp.delayed)
			case fp.truncate:
				trunc = append(trunc, fp)
			default:
				fetch = append(fetch, fp)
			}
		}
		if addr == "" || len(trunc)+len(fetch) == 0 {
			f.sleep(ctx, next)
			continue
		}
		if conn == nil {
			c, err := f.m.cfg.Dial(addr)
			if err != nil {
				f.log.Warn("replication: connecting to leader", "addr", addr, "err", err)
				f.sleep(ctx, now.Add(f.m.cfg.Backoff))
				continue
			}
			conn, connAddr = c, addr
		}
		var err error
		if len(trunc) > 0 {
			err = f.truncate(ctx, conn, trunc)
		} else {
			err = f.fetch(ctx, conn, fetch)
		}
		if err != nil && ctx.Err() == nil {
			// The connection failed: every partition waits, so that a
			// dead leader is not hammered.
			f.log.Info("replication: request to leader failed", "addr", addr, "err", err)
			conn.Close()
			conn = nil
			f.sleep(ctx, time.Now().Add(f.m.cfg.Backoff))
		}
	}
}

// sleep waits until t, a wake-up, or the end of ctx.
func (f *fetcher) sleep(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-f.wake:
	case <-timer.C:
	}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// delay holds fp back after an error, until the backoff passes or the
// replica manager re-points it (a new followed entry).
func (f *fetcher) delay(fp *followed, why string, err error) {
	fp.delayed = time.Now().Add(f.m.cfg.Backoff)
	f.log.Info("replication: partition backs off", "partition", fp.p.ID().String(), "why", why, "err", err)
}

// truncate sends one OffsetsForLeaderEpoch request for the partitions that
// must find where they diverge, and truncates them.
func (f *fetcher) truncate(ctx context.Context, conn Requester, parts []*followed) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = f.m.cfg.BrokerID
	asked := map[partition.ID]*followed{}
	topics := map[string]int{}
	for _, fp := range parts {
		ask := fp.askEpoch
		if ask == Undefined {
			latest, ok := fp.p.LatestEpoch()
			if !ok {
				// No epoch history (an empty or pre-epoch log):
				// only the high watermark is known to agree.
				f.truncateTo(fp, fp.p.HighWatermark(), false, 0)
				continue
			}
			ask = latest
		}
		id := fp.p.ID()
		asked[id] = fp
		ti, ok := topics[id.Topic]
		if !ok {
			ti = len(req.Topics)
			topics[id.Topic] = ti
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = id.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition = id.Partition
		rp.CurrentLeaderEpoch = fp.epoch
		rp.LeaderEpoch = ask
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, rp)
	}
	if len(asked) == 0 {
		return nil
	}
	raw, err := conn.Request(ctx, req)
	if err != nil {
		return fmt.Errorf("replication: OffsetForLeaderEpoch: %w", err)
	}
	resp := raw.(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			fp := asked[partition.ID{Topic: rt.Topic, Partition: rp.Partition}]
			if fp == nil {
				continue
			}
			delete(asked, fp.p.ID())
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				f.delay(fp, "OffsetForLeaderEpoch", err)
				continue
			}
			hw := fp.p.HighWatermark()
			t := decideTruncation(localLog{endOffsetFor: fp.p.LocalEndOffsetFor, end: fp.p.LogEndOffset(), hw: hw}, rp.LeaderEpoch, rp.EndOffset)
			f.truncateTo(fp, t.offset, t.again, t.epoch)
		}
	}
	for _, fp := range asked {
		f.delay(fp, "OffsetForLeaderEpoch", errors.New("partition missing from the response"))
	}
	return nil
}

// truncateTo truncates fp's log and, unless again, lets it fetch.
func (f *fetcher) truncateTo(fp *followed, offset int64, again bool, askEpoch int32) {
	if err := fp.p.TruncateFromLeader(fp.epoch, offset); err != nil {
		if errors.Is(err, partition.ErrNotFollowing) || errors.Is(err, partition.ErrClosed) {
			f.drop(fp)
			return
		}
		f.delay(fp, "truncating", err)
		return
	}
	if again {
		fp.askEpoch = askEpoch
		return
	}
	fp.truncate, fp.askEpoch = false, Undefined
}

// drop forgets a partition that no longer follows this leader at fp's
// epoch; the replica manager re-follows it if it should.
func (f *fetcher) drop(fp *followed) {
	f.mu.Lock()
	if f.parts[fp.p.ID()] == fp {
		delete(f.parts, fp.p.ID())
	}
	f.mu.Unlock()
}
