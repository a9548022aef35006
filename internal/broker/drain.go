package broker

import (
	"context"
	"slices"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
)

// drainTimeout bounds a controlled shutdown: past it the broker stops
// anyway, as a Kafka broker does when its controlled shutdown retries run
// out, and the controller fails its partitions over as for a crash.
const drainTimeout = 30 * time.Second

// drain is the controlled shutdown (controlled.shutdown.enable): the
// broker marks its registration draining and keeps serving while the
// controller moves the leadership of its partitions to other in-sync
// replicas and takes it out of every ISR. Clients see NOT_LEADER at most
// and follow the new leaders; producers waiting on acks=all do not wait
// for a broker that is about to go. It returns when nothing is left to
// move, or after drainTimeout.
func (b *Broker) drain(session *cluster.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	if _, err := session.SetState(ctx, cluster.StateDraining); err != nil {
		b.log.Warn("controlled shutdown: could not mark the broker draining", "err", err)
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
// of, where another live, non-draining ISR member could take its place.
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
				if bi, live := snap.Brokers[id]; id != b.id && live && bi.State != cluster.StateDraining {
					n++
					break
				}
			}
		}
	}
	return n
}
