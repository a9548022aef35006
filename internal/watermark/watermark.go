// Package watermark provides a monotonically increasing int64 that
// goroutines can wait on: a partition's high watermark, an applied metadata
// revision. Reads are lock-free; waiting uses a channel that is closed and
// replaced on every advance, so an advance wakes every waiter once and costs
// nothing when nobody waits.
package watermark

import (
	"context"
	"sync"
	"sync/atomic"
)

// Watermark is a value that only advances (but see Reset), with waiters.
// The zero value is not usable; call New.
type Watermark struct {
	v atomic.Int64

	mu      sync.Mutex
	changed chan struct{}                // guarded by mu; closed on the next advance
	subs    map[chan<- struct{}]struct{} // guarded by mu; poked on every advance
}

// New returns a watermark at v.
func New(v int64) *Watermark {
	w := &Watermark{changed: make(chan struct{}), subs: make(map[chan<- struct{}]struct{})}
	w.v.Store(v)
	return w
}

// Load returns the current value.
func (w *Watermark) Load() int64 { return w.v.Load() }

// Advance raises the value to v; a lower v is ignored.
func (w *Watermark) Advance(v int64) {
	if v <= w.v.Load() {
		return
	}
	w.mu.Lock()
	if v <= w.v.Load() {
		w.mu.Unlock()
		return
	}
	w.v.Store(v)
	close(w.changed)
	w.changed = make(chan struct{})
	for ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// Reset sets the value unconditionally (a leader change or truncation may
// lower it) and wakes waiters so they re-check.
func (w *Watermark) Reset(v int64) {
	w.mu.Lock()
	w.v.Store(v)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Wait blocks until the value reaches target, ctx ends, or abort (which may be nil) is closed.
// It reports whether the target was reached.
func (w *Watermark) Wait(ctx context.Context, target int64, abort <-chan struct{}) bool {
	for {
		w.mu.Lock()
		if w.v.Load() >= target {
			w.mu.Unlock()
			return true
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-abort:
			return w.v.Load() >= target
		}
	}
}

// Subscribe makes every advance send a non-blocking signal to ch until the
// returned function is called. Fetches waiting on many partitions share one
// channel this way.
func (w *Watermark) Subscribe(ch chan<- struct{}) (unsubscribe func()) {
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}
