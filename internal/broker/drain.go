package broker

import (
	"context"
	"slices"
	"time"

	"github.com/spotstream/spotstream/internal/cloud"
	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/controller"
)

// drainTimeout bounds a controlled shutdown: past it the broker stops
// anyway, as a Kafka broker does when its controlled shutdown retries run
// out, and the controller fails its partitions over as for a crash.
const drainTimeout = 30 * time.Second

// noticePollInterval is how often the instance metadata service is asked
// for notices. AWS suggests every five seconds; an interruption comes two
// minutes ahead, and every second spent before reading it is a second less
// to drain, while a request to the link-local service costs next to
// nothing.
const noticePollInterval = time.Second

// shutdownDrain is the controlled shutdown (controlled.shutdown.enable):
// the broker marks its registration stopping and keeps serving while the
// controller moves the leadership of its partitions to other in-sync
// replicas and takes it out of every ISR. Clients see NOT_LEADER at most
// and follow the new leaders; producers waiting on acks=all do not wait
// for a broker that is about to go. It returns when nothing is left to
// move, or after drainTimeout.
func (b *Broker) shutdownDrain(session *cluster.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	if _, err := session.SetState(ctx, cluster.StateStopping); err != nil {
		b.log.Warn("controlled shutdown: could not mark the broker stopping", "err", err)
		return
	}
	b.log.Info("controlled shutdown: moving leadership away")
	for {
		changed := b.meta.Changed()
		left := b.movable(b.meta.Load())
		if left == 0 {
			b.log.Info("controlled shutdown: done", "took", time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			b.log.Warn("controlled shutdown: gave up", "partitions.left", left, "after", drainTimeout)
			return
		case <-session.Done():
			return
		}
	}
}

// movable counts the partitions this broker still leads or is in the ISR
// of, where another live ISR member that may lead could take its place.
// Partitions with nowhere to go (a single replica, or every other replica
// down) do not hold the shutdown up.
func (b *Broker) movable(snap *cluster.Snapshot) int {
	n := 0
	for _, t := range snap.Topics {
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if !slices.Contains(p.ISR, b.id) && p.Leader != b.id {
				continue
			}
			for _, id := range p.ISR {
				if bi, live := snap.Brokers[id]; id != b.id && live && bi.Leads() {
					n++
					break
				}
			}
		}
	}
	return n
}

// watchNotices drains the broker when the cloud says its machine is going
// (cloud.provider): fully on an interruption notice, and as
// cloud.rebalance.recommendation.action says on a rebalance
// recommendation. The broker keeps serving; it runs until ctx ends, on a
// goroutine owned by Run.
func (b *Broker) watchNotices(ctx context.Context, session *cluster.Session) {
	client := cloud.NewClient(b.cfg.CloudMetadataEndpoint, 2*time.Second, b.log)
	client.Watch(ctx, noticePollInterval, func(n cloud.Notice) {
		d := cluster.DrainFull
		if n.Kind == cloud.Rebalance {
			switch b.cfg.RebalanceAction {
			case "ignore":
				b.log.Info("rebalance recommendation ignored (cloud.rebalance.recommendation.action=ignore)", "notice.time", n.Time)
				return
			case "drain-leadership":
				d = cluster.DrainLeadership
			}
		}
		b.log.Warn("notice from the cloud: draining", "notice", n.Kind, "action", n.Action, "time", n.Time, "drain", d)
		b.drainSelf(ctx, session, d)
	})
}

// drainSelf drains the broker by its own decision, never weakening a drain
// already in force; it retries until the registration says so or ctx
// ends.
func (b *Broker) drainSelf(ctx context.Context, session *cluster.Session, d cluster.Drain) {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		info := session.Info()
		if info.State == cluster.StateStopping || info.State == cluster.StateDraining && (info.Drain == cluster.DrainFull || info.Drain == d) {
			return
		}
		_, err := session.SetDrain(ctx, d)
		if err == nil {
			return
		}
		b.log.Warn("could not mark the broker drained; retrying", "drain", d, "err", err, "retry.in", delay)
		select {
		case <-ctx.Done():
			return
		case <-session.Done():
			return
		case <-time.After(delay):
		}
	}
}

// followDrain reports this broker's drains, its own and the operator's:
// it logs and exports (spotstream_broker_drain_seconds) the time from the
// start of each drain until the broker is drained, that is until it could
// go without any partition losing its leader or its acks=all writes
// (controller.DrainPending). It runs until ctx ends, on a goroutine owned
// by Run.
func (b *Broker) followDrain(ctx context.Context) {
	var start time.Time // of the drain in progress; zero when none
	done := false       // the drain in progress is complete
	for {
		changed := b.meta.Changed()
		snap := b.meta.Load()
		self, live := snap.Brokers[b.id]
		switch {
		case !live || self.Leads():
			if !start.IsZero() {
				b.log.Info("drain undone", "drained", done)
			}
			start, done = time.Time{}, false
			b.metrics.drainPending.Set(0)
		default:
			if start.IsZero() {
				start, done = time.Now(), false
				b.log.Info("draining", "drain", self.Draining(), "operator", self.OperatorDrain)
			}
			pending := controller.DrainPending(snap, b.id, b.cfg)
			b.metrics.drainPending.Set(float64(pending))
			b.log.Debug("drain pending", "partitions", pending)
			switch {
			case pending == 0 && !done:
				done = true
				took := time.Since(start)
				b.metrics.drainSeconds.Observe(took.Seconds())
				b.log.Info("drained", "drain", self.Draining(), "took", took.Round(time.Millisecond))
			case pending > 0 && done:
				// Another broker's drain or death calls for more (temporary
				// replicas): drained again once they are in sync.
				done = false
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
