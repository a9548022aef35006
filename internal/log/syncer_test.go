package log

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// funcFlusher adapts a function to Flusher. It is a pointer type so that
// each one is a distinct map key.
type funcFlusher struct{ fn func() }

func (f *funcFlusher) FlushDurable() { f.fn() }

func startSyncer(t testing.TB) (*Syncer, func()) {
	s := NewSyncer(quietLogger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	return s, func() {
		cancel()
		<-done
	}
}

// TestSyncerGroupsRequests holds the first round open while many requests
// arrive, and checks that a single second round serves all of them, each
// Flusher once however often it was requested.
func TestSyncerGroupsRequests(t *testing.T) {
	s, stop := startSyncer(t)
	defer stop()

	started, release := make(chan struct{}), make(chan struct{})
	s.Request(&funcFlusher{func() {
		close(started)
		<-release
	}})
	<-started

	const n = 100
	var (
		calls             [n]atomic.Int32
		running, maxConc  atomic.Int32
		requesters, flush sync.WaitGroup
	)
	flushers := make([]*funcFlusher, n)
	for i := range flushers {
		flushers[i] = &funcFlusher{func() {
			c := running.Add(1)
			for m := maxConc.Load(); c > m && !maxConc.CompareAndSwap(m, c); m = maxConc.Load() {
			}
			calls[i].Add(1)
			running.Add(-1)
			flush.Done()
		}}
	}
	flush.Add(n)
	for i := range n {
		requesters.Go(func() {
			s.Request(flushers[i])
			s.Request(flushers[i]) // a duplicate in the same round
		})
	}
	requesters.Wait()
	close(release)
	flush.Wait()

	if got := s.Rounds(); got != 2 {
		t.Fatalf("%d requests served in %d rounds, want 2", 2*n+1, got)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("flusher %d called %d times", i, c)
		}
	}
	if m := maxConc.Load(); m > syncWorkers {
		t.Fatalf("%d flushers ran at once, limit %d", m, syncWorkers)
	}
}

// TestSyncerRoundIsParallel checks that the flushers of one round run
// concurrently: each of these waits until the other has started.
func TestSyncerRoundIsParallel(t *testing.T) {
	s, stop := startSyncer(t)
	defer stop()
	started, release := make(chan struct{}), make(chan struct{})
	s.Request(&funcFlusher{func() {
		close(started)
		<-release
	}})
	<-started

	a, b := make(chan struct{}), make(chan struct{})
	var done sync.WaitGroup
	done.Add(2)
	meet := func(mine, other chan struct{}) func() {
		return func() {
			close(mine)
			select {
			case <-other:
			case <-time.After(10 * time.Second):
				t.Error("flushers of one round did not run concurrently")
			}
			done.Done()
		}
	}
	s.Request(&funcFlusher{meet(a, b)})
	s.Request(&funcFlusher{meet(b, a)})
	close(release)
	done.Wait()
}

// TestSyncerLaterRequestsGoToNextRound checks that a request made during a
// round, for a Flusher in that round, is served again afterwards.
func TestSyncerLaterRequestsGoToNextRound(t *testing.T) {
	s, stop := startSyncer(t)
	defer stop()
	var calls atomic.Int32
	served := make(chan struct{}, 2)
	var f *funcFlusher
	f = &funcFlusher{func() {
		if calls.Add(1) == 1 {
			s.Request(f) // new data arrived while flushing
		}
		served <- struct{}{}
	}}
	s.Request(f)
	<-served
	<-served
	if calls.Load() != 2 || s.Rounds() != 2 {
		t.Fatalf("%d calls in %d rounds, want 2 in 2", calls.Load(), s.Rounds())
	}
}

func TestSyncerStopsAfterRound(t *testing.T) {
	s := NewSyncer(nil)
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(returned)
	}()
	started, release := make(chan struct{}), make(chan struct{})
	finished := false
	s.Request(&funcFlusher{func() {
		close(started)
		<-release
		finished = true
	}})
	<-started
	cancel()
	close(release)
	<-returned
	if !finished {
		t.Fatal("Run returned before its round finished")
	}
}

// durableLog is what a partition does with a Log and a Syncer: appends,
// requests a flush, and waits until the flush covers its batch.
type durableLog struct {
	l        *Log
	appendMu sync.Mutex

	mu      sync.Mutex
	cond    *sync.Cond
	durable int64
	err     error
}

func newDurableLog(l *Log) *durableLog {
	d := &durableLog{l: l}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *durableLog) FlushDurable() {
	off, err := d.l.Flush()
	d.mu.Lock()
	d.durable, d.err = max(d.durable, off), err
	d.cond.Broadcast()
	d.mu.Unlock()
}

// appendDurably appends batch and waits until it is durable.
func (d *durableLog) appendDurably(s *Syncer, batch []byte) error {
	d.appendMu.Lock()
	_, err := d.l.Append(batch)
	next := d.l.EndOffset()
	d.appendMu.Unlock()
	if err != nil {
		return err
	}
	s.Request(d)
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.durable < next && d.err == nil {
		d.cond.Wait()
	}
	return d.err
}

// TestSyncerWithLogs has many goroutines append to a few logs durably; all
// of them must be served, with fewer rounds than requests.
func TestSyncerWithLogs(t *testing.T) {
	s, stop := startSyncer(t)
	defer stop()
	logs := make([]*durableLog, 4)
	for i := range logs {
		l := mustOpen(t, t.TempDir(), testConfig())
		defer l.Close()
		logs[i] = newDurableLog(l)
	}
	const writers, each = 16, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			d := logs[w%len(logs)]
			for range each {
				if err := d.appendDurably(s, makeBatch(t, 1, 100, 0)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	requests := int64(writers * each)
	if r := s.Rounds(); r >= requests {
		t.Fatalf("%d rounds for %d requests", r, requests)
	}
	t.Logf("%d durable appends in %d sync rounds", requests, s.Rounds())
	for _, d := range logs {
		if d.l.EndOffset() != writers/int64(len(logs))*each {
			t.Fatalf("log has %d batches", d.l.EndOffset())
		}
	}
}

// BenchmarkSyncer measures durable appends of 1 KiB batches from many
// goroutines over 8 logs sharing one Syncer: the group commit path.
func BenchmarkSyncer(b *testing.B) {
	for _, nlogs := range []int{1, 8} {
		b.Run(fmt.Sprintf("logs=%d", nlogs), func(b *testing.B) {
			s, stop := startSyncer(b)
			defer stop()
			logs := make([]*durableLog, nlogs)
			for i := range logs {
				cfg := Config{Preallocate: true, SegmentBytes: 64 << 20, Logger: quietLogger}
				l := mustOpen(b, b.TempDir(), cfg)
				defer l.Close()
				logs[i] = newDurableLog(l)
			}
			batch := makeBatch(b, 1, 1024-61-10, 0)
			var next atomic.Int64
			b.SetBytes(int64(len(batch)))
			b.SetParallelism(16) // requests in flight, as with many producers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				d := logs[int(next.Add(1))%len(logs)]
				mine := append([]byte(nil), batch...)
				for pb.Next() {
					if err := d.appendDurably(s, mine); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(s.Rounds())/float64(b.N), "rounds/op")
		})
	}
}
