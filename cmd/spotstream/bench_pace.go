package main

import (
	"context"
	"time"
)

// pacerBurst is how much sending time a pacer may bank: after a sleep that
// overran (timers are coarse next to microsecond sends), the sender catches
// up with at most this much worth of records at once.
const pacerBurst = 10 * time.Millisecond

// pacer holds a sender to a rate with a token bucket. Tokens accrue at rate
// per second up to burst; each send takes one and, if the bucket is empty,
// waits for its token. Over any window of length w at most rate*w + burst
// sends happen, and a sender that falls behind (the broker stalls) does not
// make up for lost time with a flood beyond burst.
//
// A nil *pacer places no limit. A pacer is not safe for concurrent use.
type pacer struct {
	rate   float64 // tokens per second
	burst  float64 // bucket size, at least one token
	tokens float64 // may go negative: tokens already promised to waiters
	last   time.Time
}

// newPacer returns a pacer for rate events per second that starts with a
// full bucket at now, or nil if rate <= 0.
func newPacer(rate float64, now time.Time) *pacer {
	if rate <= 0 {
		return nil
	}
	burst := max(1, rate*pacerBurst.Seconds())
	return &pacer{rate: rate, burst: burst, tokens: burst, last: now}
}

// reserve takes a token at time now and returns how long the caller must
// wait before using it: zero if the bucket had one.
func (p *pacer) reserve(now time.Time) time.Duration {
	if elapsed := now.Sub(p.last); elapsed > 0 {
		p.tokens = min(p.burst, p.tokens+elapsed.Seconds()*p.rate)
		p.last = now
	}
	p.tokens--
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}

// wait blocks until the caller may send one event, or until ctx is done, in
// which case it returns ctx's error.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	d := p.reserve(time.Now())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
