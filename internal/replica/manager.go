// Package replica manages the partition replicas a broker hosts. It turns
// each new cluster metadata snapshot into local state: it opens (and
// recovers) the logs of partitions assigned to this broker, makes them lead
// or follow, applies topic configuration changes, and deletes the replicas
// of topics that are gone. It also owns the log directories and their
// group-commit syncers, the follower fetchers (package replication), and
// the goroutine that shrinks and expands the ISR of the partitions this
// broker leads (isr.go).
//
// Role changes follow Kafka's order: a replica that becomes leader is
// taken from its fetcher first; one that becomes follower stops leading
// (its waiting produce requests fail with NOT_LEADER_OR_FOLLOWER) before
// its fetcher starts, with truncation.
//
// Partition directories are named <topic>-<partition>, as in Kafka, and hold
// a partition.metadata file with the topic id, so that a directory left by a
// deleted topic is never mistaken for a new topic of the same name.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/replication"
	"github.com/spotstream/spotstream/internal/watermark"
)

// Config configures a Manager.
type Config struct {
	BrokerID int32
	// Broker supplies the log directories and the defaults of topic
	// configurations.
	Broker *config.Broker
	// DirectoryIDs are the directory ids of Broker.LogDirs, in order
	// (meta.properties). A follower names the directory of its copy in
	// every fetch, and a leader records it with the copy's ISR
	// membership. Empty in tests that track no directories.
	DirectoryIDs []string
	Logger       *slog.Logger
	// Leadership, if set, learns when a local replica starts or stops
	// leading: the group coordinator serves the partitions of
	// __consumer_offsets this broker leads.
	Leadership LeadershipObserver
	// Store, if set, is where leaders write ISR changes. Without it the
	// ISR never changes (single-broker tests).
	Store PartitionStore
	// FetcherDial, if set, replaces how fetchers connect to leaders
	// (tests).
	FetcherDial func(addr string) (replication.Requester, error)
}

// LeadershipObserver is told about leadership changes of local replicas.
// Its methods are called from the goroutine that applies metadata, so they
// must not block.
type LeadershipObserver interface {
	// BecameLeader is called after p became leader (or moved to a new
	// leader epoch).
	BecameLeader(p *partition.Partition)
	// StoppedLeading is called before p is closed or deleted, or after it
	// stopped leading.
	StoppedLeading(p *partition.Partition)
}

// logDir is one of log.dirs with its group-commit loop.
type logDir struct {
	path     string
	id       string   // directory.id; "" when not tracked
	binaryID [16]byte // id as a Kafka Uuid, for fetch requests
	syncer   *log.Syncer
}

// holds reports whether recorded, a directory id from a partition state,
// names this directory: the empty id (no record) names any.
func (d *logDir) holds(recorded string) bool { return recorded == "" || recorded == d.id }

// hosted is a local replica and where it lives.
type hosted struct {
	p       *partition.Partition
	dir     *logDir
	configs map[string]string // topic overrides the replica was configured with
}

// Manager holds the broker's replicas.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	dirs []*logDir

	mu    sync.RWMutex
	parts map[partition.ID]*hosted // guarded by mu; written only by Apply

	applied *watermark.Watermark             // the revision of the last applied snapshot
	latest  atomic.Pointer[cluster.Snapshot] // the last snapshot given to Apply

	fetchers *replication.Manager
	isrWake  chan struct{} // poked by leaders when a follower may rejoin the ISR
}

// New prepares the log directories. Replicas are opened by Apply.
func New(cfg Config) (*Manager, error) {
	m := &Manager{cfg: cfg, log: cfg.Logger, parts: make(map[partition.ID]*hosted), applied: watermark.New(0), isrWake: make(chan struct{}, 1)}
	b := cfg.Broker
	m.fetchers = replication.New(replication.Config{
		BrokerID:          cfg.BrokerID,
		MaxBytes:          b.ReplicaFetchResponseMaxBytes,
		PartitionMaxBytes: b.ReplicaFetchMaxBytes,
		MaxWait:           b.ReplicaFetchWaitMax,
		MinBytes:          b.ReplicaFetchMinBytes,
		Logger:            cfg.Logger,
		Dial:              cfg.FetcherDial,
	})
	if len(cfg.DirectoryIDs) != 0 && len(cfg.DirectoryIDs) != len(b.LogDirs) {
		return nil, fmt.Errorf("replica: %d directory ids for %d log dirs", len(cfg.DirectoryIDs), len(b.LogDirs))
	}
	for i, d := range cfg.Broker.LogDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("replica: log dir: %w", err)
		}
		ld := &logDir{path: d, syncer: log.NewSyncer(cfg.Logger)}
		if len(cfg.DirectoryIDs) > 0 {
			bin, err := cluster.ParseID(cfg.DirectoryIDs[i])
			if err != nil {
				return nil, fmt.Errorf("replica: directory id of %s: %w", d, err)
			}
			ld.id, ld.binaryID = cfg.DirectoryIDs[i], bin
		}
		m.dirs = append(m.dirs, ld)
	}
	if len(m.dirs) == 0 {
		return nil, errors.New("replica: no log directories")
	}
	return m, nil
}

// Run runs the log directories' syncers and the ISR maintenance, and
// applies every metadata snapshot the cache publishes, until ctx ends. The
// caller owns the goroutine. Run returns after the fetchers have stopped
// and the syncers have finished their last round; Close the manager
// afterwards.
func (m *Manager) Run(ctx context.Context, cache *cluster.Cache) {
	var wg sync.WaitGroup
	for _, d := range m.dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.syncer.Run(ctx)
		}()
	}
	if interval := m.cfg.Broker.FlushInterval(); !m.cfg.Broker.FlushOnAck && interval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.flushEvery(ctx, interval)
		}()
	}
	if m.cfg.Store != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.maintainISR(ctx)
		}()
	}

	for {
		changed := cache.Changed()
		m.Apply(cache.Load())
		select {
		case <-ctx.Done():
			// Fetchers stop before the syncers, whose flushes they
			// may be waiting for.
			m.fetchers.Close()
			wg.Wait()
			return
		case <-changed:
		}
	}
}

// flushEvery requests a flush of every replica at each interval
// (log.flush.interval.ms without log.flush.on.ack).
func (m *Manager) flushEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.mu.RLock()
			for _, h := range m.parts {
				h.p.RequestFlush()
			}
			m.mu.RUnlock()
		}
	}
}

// Get returns the local replica of a partition, or nil.
func (m *Manager) Get(id partition.ID) *partition.Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if h := m.parts[id]; h != nil {
		return h.p
	}
	return nil
}

// WaitApplied blocks until a snapshot at or after rev has been applied.
func (m *Manager) WaitApplied(ctx context.Context, rev int64) error {
	if !m.applied.Wait(ctx, rev, nil) {
		return ctx.Err()
	}
	return nil
}

// Apply makes local replicas match a snapshot. Only one goroutine applies
// snapshots (Run's), so Apply needs no lock against itself; it takes m.mu
// only to publish changes to readers.
func (m *Manager) Apply(snap *cluster.Snapshot) {
	m.latest.Store(snap)
	// Dynamic broker configs change the defaults of every topic key; they
	// are installed before the partitions are, so that a replica opened by
	// this snapshot already uses them, and WaitApplied covers them.
	reconfigure, err := m.cfg.Broker.SetDynamic(snap.BrokerConfigs(cluster.ClusterDefault), snap.BrokerConfigs(m.cfg.BrokerID))
	if err != nil {
		m.log.Warn("ignoring invalid dynamic broker configs", "err", err)
	}
	if reconfigure {
		m.log.Info("applying changed dynamic broker configs", "revision", snap.Revision)
	}
	addrs := make(map[int32]string, len(snap.Brokers))
	for id, bi := range snap.Brokers {
		addrs[id] = net.JoinHostPort(bi.Host, strconv.Itoa(int(bi.Port)))
	}
	m.fetchers.SetBrokers(addrs)
	wanted := make(map[partition.ID]bool)
	for _, t := range snap.Topics {
		for i := range t.Partitions {
			ps := &t.Partitions[i]
			if !ps.Available() || !slices.Contains(ps.Replicas, m.cfg.BrokerID) {
				continue
			}
			id := partition.ID{Topic: t.Name, Partition: int32(i)}
			wanted[id] = true
			if err := m.applyPartition(id, t, ps, reconfigure); err != nil {
				m.log.Error("applying partition state", "partition", id.String(), "err", err)
			}
		}
	}
	m.mu.RLock()
	var gone []partition.ID
	for id := range m.parts {
		if !wanted[id] {
			gone = append(gone, id)
		}
	}
	m.mu.RUnlock()
	for _, id := range gone {
		m.remove(id)
	}
	m.deleteStrays(snap)
	m.applied.Advance(snap.Revision)
}

// applyPartition opens, reconfigures or re-roles one replica. A replica is
// reconfigured when its topic's overrides changed, or when reconfigure says
// the broker defaults under them did.
func (m *Manager) applyPartition(id partition.ID, t *cluster.Topic, ps *cluster.PartitionState, reconfigure bool) error {
	m.mu.RLock()
	h := m.parts[id]
	m.mu.RUnlock()
	if h != nil && h.p.TopicID() != t.ID {
		m.remove(id) // the topic was deleted and recreated under the same name
		h = nil
	}
	topicCfg, err := m.cfg.Broker.Topic(t.Configs)
	if err != nil {
		return fmt.Errorf("topic config: %w", err)
	}
	if h == nil {
		if h, err = m.open(id, t.ID, topicCfg, ps.Dirs[m.cfg.BrokerID]); err != nil {
			return err
		}
		h.configs = t.Configs
		m.mu.Lock()
		m.parts[id] = h
		m.mu.Unlock()
	} else if reconfigure || !sameConfigs(h.configs, t.Configs) {
		h.p.SetConfig(partitionConfig(m.cfg.Broker, topicCfg))
		h.configs = t.Configs
	}
	return m.applyRole(id, h, ps)
}

// applyRole makes a replica lead or follow as ps says.
func (m *Manager) applyRole(id partition.ID, h *hosted, ps *cluster.PartitionState) error {
	p := h.p
	leader := ps.Leader
	if leader == m.cfg.BrokerID && !h.dir.holds(ps.Dirs[leader]) {
		// The state names another copy of ours, one this broker no
		// longer has (it came back on a new disk before the controller
		// noticed). This copy may lack acknowledged records: it must not
		// lead. The controller elects another replica on seeing our
		// registration's directories.
		m.log.Error("not leading: the partition state records a copy in a directory this broker does not have",
			"partition", id.String(), "epoch", ps.LeaderEpoch, "recorded.dir", ps.Dirs[leader], "dir", h.dir.id)
		leader = cluster.NoLeader
	}
	if leader == m.cfg.BrokerID {
		m.fetchers.Unfollow(id)
		became, err := p.Lead(m.leaderState(ps, h.dir.id))
		if err != nil {
			return err
		}
		if became {
			m.log.Info("leading partition", "partition", id.String(), "epoch", ps.LeaderEpoch, "isr", ps.ISR)
			if m.cfg.Leadership != nil {
				m.cfg.Leadership.BecameLeader(p)
			}
		}
		return nil
	}
	changed, wasLeader := p.BecomeFollower(leader, ps.LeaderEpoch)
	if wasLeader && m.cfg.Leadership != nil {
		m.cfg.Leadership.StoppedLeading(p)
	}
	if leader == cluster.NoLeader {
		m.fetchers.Unfollow(id)
		return nil
	}
	if _, fetching := m.fetchers.Following(id); changed || !fetching {
		m.log.Info("following partition", "partition", id.String(), "leader", leader, "epoch", ps.LeaderEpoch)
		m.fetchers.Follow(p, leader, ps.LeaderEpoch, h.dir.binaryID)
	}
	return nil
}

// open opens a replica: in the directory that already holds it, else in
// the one the partition state records for this broker's copy if that is
// one of ours, else in the log directory with the fewest replicas.
func (m *Manager) open(id partition.ID, topicID [16]byte, topicCfg config.TopicConfig, recorded string) (*hosted, error) {
	dir := m.findDir(id)
	if dir == nil && recorded != "" {
		for _, d := range m.dirs {
			if d.id == recorded {
				dir = d
			}
		}
	}
	if dir == nil {
		dir = m.leastLoadedDir()
	}
	path := filepath.Join(dir.path, id.String())
	if err := checkPartitionMetadata(path, topicID); err != nil {
		if !errors.Is(err, errTopicIDMismatch) {
			return nil, err
		}
		m.log.Warn("removing replica of a deleted topic", "dir", path)
		if err := os.RemoveAll(path); err != nil {
			return nil, fmt.Errorf("replica: %w", err)
		}
	}
	p, err := partition.Open(path, id, topicID, logConfig(topicCfg, m.log), partitionConfig(m.cfg.Broker, topicCfg), dir.syncer, m.log)
	if err != nil {
		return nil, err
	}
	if err := writePartitionMetadata(path, topicID); err != nil {
		p.Close()
		return nil, err
	}
	return &hosted{p: p, dir: dir}, nil
}

// remove closes and deletes a replica.
func (m *Manager) remove(id partition.ID) {
	m.mu.Lock()
	h := m.parts[id]
	delete(m.parts, id)
	m.mu.Unlock()
	if h == nil {
		return
	}
	m.fetchers.Unfollow(id)
	if m.cfg.Leadership != nil {
		m.cfg.Leadership.StoppedLeading(h.p)
	}
	if err := h.p.Delete(); err != nil {
		m.log.Error("deleting replica", "partition", id.String(), "err", err)
		return
	}
	m.log.Info("deleted replica", "partition", id.String())
}

// deleteStrays removes partition directories on disk that no topic of the
// snapshot owns (a topic deleted while this broker was down).
func (m *Manager) deleteStrays(snap *cluster.Snapshot) {
	for _, d := range m.dirs {
		entries, err := os.ReadDir(d.path)
		if err != nil {
			m.log.Error("reading log dir", "dir", d.path, "err", err)
			continue
		}
		for _, e := range entries {
			id, ok := parseDirName(e.Name())
			if !e.IsDir() || !ok {
				continue
			}
			m.mu.RLock()
			_, hostedHere := m.parts[id]
			m.mu.RUnlock()
			if hostedHere {
				continue
			}
			if t := snap.Topics[id.Topic]; t != nil && int(id.Partition) < len(t.Partitions) {
				if ps := t.Partitions[id.Partition]; !ps.Available() || slices.Contains(ps.Replicas, m.cfg.BrokerID) {
					continue // not yet applied, or failed to open: keep the data
				}
			}
			path := filepath.Join(d.path, e.Name())
			m.log.Info("removing replica no longer assigned here", "dir", path)
			if err := os.RemoveAll(path); err != nil {
				m.log.Error("removing replica", "dir", path, "err", err)
			}
		}
	}
}

// findDir returns the log directory that already holds a replica.
func (m *Manager) findDir(id partition.ID) *logDir {
	for _, d := range m.dirs {
		if _, err := os.Stat(filepath.Join(d.path, id.String())); err == nil {
			return d
		}
	}
	return nil
}

func (m *Manager) leastLoadedDir() *logDir {
	counts := make(map[*logDir]int)
	m.mu.RLock()
	for _, h := range m.parts {
		counts[h.dir]++
	}
	m.mu.RUnlock()
	best := m.dirs[0]
	for _, d := range m.dirs[1:] {
		if counts[d] < counts[best] {
			best = d
		}
	}
	return best
}

// Close closes every replica cleanly, so the next start skips recovery.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for id, h := range m.parts {
		if m.cfg.Leadership != nil {
			m.cfg.Leadership.StoppedLeading(h.p)
		}
		if err := h.p.Close(); err != nil {
			errs = append(errs, fmt.Errorf("replica %s: %w", id, err))
		}
	}
	m.parts = map[partition.ID]*hosted{}
	return errors.Join(errs...)
}

// parseDirName parses a partition directory name, <topic>-<partition>.
func parseDirName(name string) (partition.ID, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return partition.ID{}, false
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || n < 0 {
		return partition.ID{}, false
	}
	return partition.ID{Topic: name[:i], Partition: int32(n)}, true
}

func sameConfigs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
