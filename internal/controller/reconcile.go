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
	pols := map[string]policy{} // by topic, parsed once it matters
	for name, topic := range snap.Topics {
		for i := range topic.Partitions {
			p := &topic.Partitions[i]
			if !needsLeader(p, snap.Brokers) {
				continue
			}
			pol, ok := pols[name]
			if !ok {
				pol = c.policy(topic)
				pols[name] = pol
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
	// Liveness is the snapshot's: a broker it shows dead had its lease
	// expire, whatever happened since.
	return c.writeAll(ctx, snap, t, jobs, "electing a leader of",
		func(j job, p *cluster.PartitionState) error {
			next, k := electLeader(*p, snap.Brokers, pols[j.topic])
			if k == kindNone {
				return errNothingToDo
			}
			*p = next
			return nil
		},
		func(j job, old, state cluster.PartitionState) {
			_, k := electLeader(old, snap.Brokers, pols[j.topic])
			c.logElection(j, k, old, state)
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

// writeAll decides and writes the change of each job's partition: decide
// turns a copy of the partition's state into the state to write (an
// unchanged state, or errNothingToDo, writes nothing), and done reports
// each write. The decisions are made on snap's states and written in
// batches of one etcd transaction each (cluster.Store.WritePartitions),
// up to maxWriters batches at once; a batch that finds a partition
// changed since snap is written again one partition at a time, deciding
// again on the current state. It returns the highest revision written,
// and ErrConditionFailed (deposed) in preference to other errors.
func (c *Controller) writeAll(ctx context.Context, snap *cluster.Snapshot, t *term, jobs []job, what string,
	decide func(j job, p *cluster.PartitionState) error, done func(j job, old, next cluster.PartitionState)) (int64, error) {
	var batches [][]cluster.PartitionWrite
	var batch []cluster.PartitionWrite
	byPartition := make(map[TopicPartition]job, len(jobs))
	var lastErr error
	for _, j := range jobs {
		known, ok := snap.Partition(j.topic, j.partition)
		if !ok || !known.Available() {
			continue
		}
		next := known.Clone()
		if err := decide(j, &next); err != nil {
			if !errors.Is(err, errNothingToDo) {
				lastErr = fmt.Errorf("controller: %s %s-%d: %w", what, j.topic, j.partition, err)
			}
			continue
		}
		if next.Equal(&known) {
			continue
		}
		byPartition[TopicPartition{j.topic, j.partition}] = j
		batch = append(batch, cluster.PartitionWrite{Topic: j.topic, Partition: j.partition, Known: known, Next: next})
		if len(batch) == c.store.MaxPartitionWrites() {
			batches, batch = append(batches, batch), nil
		}
	}
	if len(batch) > 0 {
		batches = append(batches, batch)
	}
	bjobs := make([]job, len(batches))
	for i := range batches {
		bjobs[i] = job{i: i}
	}
	rev, err := c.run(ctx, bjobs, func(ctx context.Context, bj job) (int64, error) {
		b := batches[bj.i]
		rev, err := c.store.WritePartitions(ctx, b, t.fence())
		if err == nil {
			for _, w := range b {
				next := w.Next
				next.PartitionEpoch, next.Revision = w.Known.PartitionEpoch+1, rev
				done(byPartition[TopicPartition{w.Topic, w.Partition}], w.Known, next)
			}
			return rev, nil
		}
		if !errors.Is(err, cluster.ErrStale) {
			return 0, err
		}
		// Some partition moved on: decide again, one at a time.
		var last int64
		for _, w := range b {
			j := byPartition[TopicPartition{w.Topic, w.Partition}]
			var old cluster.PartitionState
			state, rev, err := c.update(ctx, snap, t, j, func(p *cluster.PartitionState) error {
				old = p.Clone()
				return decide(j, p)
			})
			if ok, err := written(err, what, j); !ok {
				if err != nil {
					return last, err
				}
				continue
			}
			if rev != 0 {
				done(j, old, state)
			}
			last = max(last, rev)
		}
		return last, nil
	})
	if err == nil {
		err = lastErr
	}
	return rev, err
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

// logElection reports an election of kind k from old to state.
func (c *Controller) logElection(j job, k kind, old, state cluster.PartitionState) {
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
