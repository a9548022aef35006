package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
)

// maxWriters bounds the elections written at once. etcd commits concurrent
// proposals together (one fsync for many), so a failover of hundreds of
// partitions takes a few round trips, not hundreds; more writers than this
// would only queue in etcd.
const maxWriters = 16

// job is one partition to write.
type job struct {
	topic     string
	partition int32
	i         int // the caller's index of the job
}

// reconcile elects a leader for every partition of snap that needs one,
// and returns the revision of its last write (0 if it wrote nothing). It
// stops at the first ErrConditionFailed (deposed) and returns it; other
// errors are returned once every partition has been tried.
func (c *Controller) reconcile(ctx context.Context, snap *cluster.Snapshot, t *term) (int64, error) {
	var jobs []job
	for name, topic := range snap.Topics {
		var pol policy // the topic's, parsed once it matters
		parsed := false
		for i := range topic.Partitions {
			p := &topic.Partitions[i]
			if !needsLeader(p, snap.Brokers) {
				continue
			}
			if !parsed {
				pol, parsed = c.policy(topic), true
			}
			// Offline partitions that must stay so are skipped here rather
			// than re-read from etcd on every snapshot.
			if _, k := electLeader(*p, snap.Brokers, pol); k != kindNone {
				jobs = append(jobs, job{topic: name, partition: int32(i)})
			}
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	return c.run(ctx, jobs, func(ctx context.Context, j job) (int64, error) {
		return c.electLeader(ctx, snap, t, j)
	})
}

// run calls write for each job on up to maxWriters goroutines, which it
// owns and waits for. It returns the highest revision written, and the
// first ErrConditionFailed (after which it starts no more jobs) or else
// the first other error.
func (c *Controller) run(ctx context.Context, jobs []job, write func(context.Context, job) (int64, error)) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan job)
	var (
		mu      sync.Mutex
		lastRev int64
		fenced  error
		failed  error
	)
	var wg sync.WaitGroup
	for range min(maxWriters, len(jobs)) {
		wg.Go(func() {
			for j := range next {
				rev, err := write(ctx, j)
				mu.Lock()
				lastRev = max(lastRev, rev)
				switch {
				case errors.Is(err, cluster.ErrConditionFailed):
					if fenced == nil {
						fenced = err
					}
					cancel()
				case err != nil && failed == nil:
					failed = err
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if fenced != nil {
		return lastRev, fenced
	}
	return lastRev, failed
}

// update writes one partition's change decided by fn, starting from its
// state in snap (the controller follows the snapshots, so that state is
// nearly always current and the write takes one round trip), fenced by
// the term.
func (c *Controller) update(ctx context.Context, snap *cluster.Snapshot, t *term, j job, fn func(*cluster.PartitionState) error) (cluster.PartitionState, int64, error) {
	var known *cluster.PartitionState
	if p, ok := snap.Partition(j.topic, j.partition); ok {
		known = &p
	}
	return c.store.UpdatePartitionFrom(ctx, j.topic, j.partition, known, t.fence(), fn)
}

// electLeader writes the election of one partition, deciding again on the
// partition's current state, and returns the revision written (0 if
// nothing was). Liveness is the snapshot's: a broker it shows dead had its
// lease expire, whatever happened since.
func (c *Controller) electLeader(ctx context.Context, snap *cluster.Snapshot, t *term, j job) (int64, error) {
	pol := c.policy(snap.Topics[j.topic])
	var k kind
	var old cluster.PartitionState
	state, rev, err := c.update(ctx, snap, t, j, func(p *cluster.PartitionState) error {
		old = *p
		*p, k = electLeader(*p, snap.Brokers, pol)
		return nil
	})
	switch {
	case errors.Is(err, cluster.ErrUnknownTopic) || errors.Is(err, cluster.ErrUnknownPartition):
		return 0, nil // deleted meanwhile: nothing to lead
	case err != nil:
		return 0, fmt.Errorf("controller: electing a leader of %s-%d: %w", j.topic, j.partition, err)
	case k == kindNone:
		return 0, nil
	}
	attrs := []any{"topic", j.topic, "partition", j.partition, "leader", state.Leader,
		"leader.epoch", state.LeaderEpoch, "isr", state.ISR, "elr", state.ELR,
		"previous.leader", old.Leader, "previous.isr", old.ISR, "previous.elr", old.ELR}
	switch k {
	case kindClean:
		c.log.Info("elected partition leader", attrs...)
	case kindOffline:
		c.log.Warn("partition offline: no live in-sync or eligible replica", attrs...)
	case kindUnclean:
		c.log.Warn("unclean leader election: records the new leader lacks are lost", attrs...)
	case kindMoved:
		c.log.Info("moved partition leadership off a drained broker", attrs...)
	case kindShrunk:
		c.log.Info("removed dead or stopping brokers from the ISR", attrs...)
	}
	return rev, nil
}

// policy returns the topic's unclean.leader.election.enable and
// min.insync.replicas, else the broker defaults.
func (c *Controller) policy(t *cluster.Topic) policy { return topicPolicy(c.broker, t, c.log) }

// topicPolicy returns t's election policy under the broker defaults of cfg
// (Kafka's defaults when nil); invalid topic configs are logged to log,
// when not nil, and replaced by the defaults.
func topicPolicy(cfg *config.Broker, t *cluster.Topic, log *slog.Logger) policy {
	if cfg == nil {
		cfg = defaultBroker
	}
	defaults := cfg.TopicDefaults()
	pol := policy{unclean: defaults.UncleanLeaderElection, minISR: defaults.MinInsyncReplicas}
	if t == nil {
		return pol
	}
	tc, err := cfg.Topic(t.Configs)
	if err != nil {
		// Configs were validated when written; a bad one here (hand-edited
		// etcd) must not make data loss the default.
		if log != nil {
			log.Warn("invalid topic configs; using the broker defaults for elections", "topic", t.Name, "err", err)
		}
		return pol
	}
	return policy{unclean: tc.UncleanLeaderElection, minISR: tc.MinInsyncReplicas}
}

// defaultBroker is the configuration of a broker without settings.
var defaultBroker = func() *config.Broker {
	b, _, err := config.NewBroker(nil)
	if err != nil {
		panic(fmt.Sprintf("controller: default broker config: %v", err))
	}
	return b
}()

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ElectionResult is the outcome of one partition's election: Err is nil
// when Leader now leads, at LeaderEpoch.
type ElectionResult struct {
	TopicPartition
	Leader      int32
	LeaderEpoch int32
	Err         error
}

// ElectPreferredLeaders moves the leadership of each partition to its
// preferred replica, the first of its Replicas, if that replica is live
// and in the ISR (Kafka's ElectLeaders with ElectionType PREFERRED). It
// bumps LeaderEpoch, and leaves the ISR alone. Results come in the order
// of parts; a partition's error is ErrElectionNotNeeded,
// ErrPreferredNotAvailable, cluster.ErrUnknownTopic or
// cluster.ErrUnknownPartition, or one of etcd's. The call fails as a whole
// with ErrNotController when this broker is not the active controller, or
// stops being it during the call.
func (c *Controller) ElectPreferredLeaders(ctx context.Context, parts []TopicPartition) ([]ElectionResult, error) {
	t := c.term.Load()
	if t == nil {
		return nil, ErrNotController
	}
	// Liveness from the latest snapshot: the partition states themselves
	// are read fresh by UpdatePartitionIf.
	brokers := c.cache.Load().Brokers
	results := make([]ElectionResult, len(parts))
	jobs := make([]job, len(parts))
	for i, tp := range parts {
		results[i].TopicPartition = tp
		jobs[i] = job{topic: tp.Topic, partition: tp.Partition, i: i}
	}
	_, err := c.run(ctx, jobs, func(ctx context.Context, j job) (int64, error) {
		r := &results[j.i] // each job writes only its own result
		state, rev, err := c.store.UpdatePartitionIf(ctx, j.topic, j.partition, t.fence(), func(p *cluster.PartitionState) error {
			next, err := electPreferred(*p, brokers)
			if err != nil {
				return err
			}
			*p = next
			return nil
		})
		if errors.Is(err, cluster.ErrConditionFailed) {
			return 0, err
		}
		r.Err = err
		if err == nil {
			r.Leader, r.LeaderEpoch = state.Leader, state.LeaderEpoch
			c.log.Info("elected preferred leader", "topic", j.topic, "partition", j.partition,
				"leader", state.Leader, "leader.epoch", state.LeaderEpoch)
		}
		return rev, nil
	})
	if errors.Is(err, cluster.ErrConditionFailed) {
		return nil, fmt.Errorf("%w: deposed during the election: %w", ErrNotController, err)
	}
	if err := ctx.Err(); err != nil {
		// Some partitions were not tried.
		return nil, fmt.Errorf("controller: electing preferred leaders: %w", err)
	}
	return results, nil
}
