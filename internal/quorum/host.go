package quorum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/etcdmember"
)

// joinFile records, in the member's data directory, how a member that
// joined a running cluster was started, so that it restarts as the same
// member.
const joinFile = "spotstream-member.json"

// joinTimeout bounds the start of a member that joins: it must reach the
// cluster's leader and publish itself.
const joinTimeout = time.Minute

// HostConfig configures a Host.
type HostConfig struct {
	// Member is the member's configuration: Dir, URLs, and, for a member
	// of a new cluster, InitialCluster. For a broker that only joins
	// running clusters, InitialCluster is empty.
	Member etcdmember.Config
	// Standby: the broker runs no member of its own accord, only those the
	// manager asks it to (coordinator.endpoints and peer URLs are both
	// set).
	Standby bool
	// Endpoints are the configured client URLs of the cluster
	// (coordinator.endpoints), if any.
	Endpoints []string
	Logger    *slog.Logger
}

// Host runs this broker's embedded etcd member, when it has one: from its
// data at startup, as a new cluster's member, or as the member the manager
// added for it. When its member is removed from the cluster, the Host
// stops it and clears its data, and the broker goes on as a client of the
// others.
type Host struct {
	cfg HostConfig
	log *slog.Logger

	mu     sync.Mutex
	member *etcdmember.Member // guarded by mu; nil while none runs
}

// NewHost returns a Host; Start starts its member, if any.
func NewHost(cfg HostConfig) *Host {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Host{cfg: cfg, log: log.With("component", "quorum")}
}

// Start starts the member the broker runs at startup, if any, and returns
// the client URLs to reach the cluster through: the member's own, the
// configured ones, and those of members found through the peers.
//
//   - A member with data in its directory starts from it. If it fails and
//     its cluster no longer lists it (it was removed while the broker was
//     down), its data is cleared and the broker starts as a client.
//   - A member of a new cluster (InitialCluster) without data bootstraps.
//     If that fails because the cluster runs already without it (the
//     broker came back on a fresh disk: joining with an empty log under
//     its old identity would be unsafe, and etcd refuses), the broker
//     starts as a client; the manager adds a new member for it.
//   - A standby starts none.
func (h *Host) Start(ctx context.Context) ([]string, error) {
	cfg := h.cfg.Member
	rec, hasRec := h.readJoin()
	hasData := etcdmember.HasData(cfg.Dir)
	switch {
	case hasData && hasRec:
		cfg.Name, cfg.InitialCluster, cfg.InitialClusterState = rec.Name, rec.InitialCluster, "existing"
	case hasData && h.cfg.Standby:
		// A joined member whose record is gone: it starts from its data,
		// with itself as the nominal cluster.
		cfg.InitialCluster, cfg.InitialClusterState = cfg.Name+"="+strings.Join(cfg.AdvertisePeerURLs, ","), "existing"
	case !hasData && h.cfg.Standby:
		return h.cfg.Endpoints, nil
	}
	e, err := etcdmember.Start(ctx, cfg)
	if err == nil {
		h.started(e, cfg)
		return union(e.Endpoints(), h.cfg.Endpoints), nil
	}
	if ctx.Err() != nil || cfg.InitialCluster == "" {
		return nil, err
	}
	// Ask the peers whether the cluster runs without this member.
	remote, rerr := etcdmember.RemoteMembers(otherPeers(cfg.InitialCluster, cfg.Name, cfg.AdvertisePeerURLs), h.log)
	if rerr != nil {
		return nil, fmt.Errorf("%w (and no peer answered: %v)", err, rerr)
	}
	if hasData && listed(remote, rec, cfg.Name) {
		return nil, err // still a member: the failure is something else
	}
	h.log.Warn("the etcd cluster runs without this broker's member (it was removed, or this is a fresh disk under its name): "+
		"starting as a client; the controller adds a new member here if the quorum needs one",
		"member", cfg.Name, "start.err", err)
	if err := h.clear(); err != nil {
		return nil, err
	}
	var eps []string
	for _, m := range remote {
		eps = append(eps, m.ClientURLs...)
	}
	return union(h.cfg.Endpoints, eps), nil
}

// started adopts a member that started, and records how it did.
func (h *Host) started(e *etcdmember.Member, cfg etcdmember.Config) {
	h.mu.Lock()
	h.member = e
	h.mu.Unlock()
	rec := cluster.QuorumJoin{Member: memberHex(e.MemberID()), Name: cfg.Name, InitialCluster: cfg.InitialCluster}
	if err := h.writeJoin(rec); err != nil {
		h.log.Warn("recording the etcd member", "err", err)
	}
}

// listed reports whether the cluster lists this broker's member: by the id
// recorded when it last started, else by name.
func listed(remote []etcdmember.RemoteMember, rec cluster.QuorumJoin, name string) bool {
	for _, m := range remote {
		if rec.Member != "" && memberHex(m.ID) == rec.Member || rec.Member == "" && m.Name == name {
			return true
		}
	}
	return false
}

// Running reports whether a member runs here. A nil Host runs none.
func (h *Host) Running() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.member != nil
}

// Peer returns what the broker announces about its place in the quorum,
// or nil when it cannot host a member others reach (or h is nil: the
// broker has no member configuration).
func (h *Host) Peer() *cluster.QuorumPeer {
	if h == nil {
		return nil
	}
	cfg := h.cfg.Member
	peers := cfg.AdvertisePeerURLs
	if len(peers) == 0 {
		peers = cfg.ListenPeerURLs
	}
	clients := cfg.AdvertiseClientURLs
	if len(clients) == 0 {
		clients = cfg.ListenClientURLs
	}
	if !reachable(peers) || !reachable(clients) {
		return nil
	}
	q := &cluster.QuorumPeer{PeerURLs: slices.Clone(peers), ClientURLs: slices.Clone(clients)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.member != nil {
		q.Member = memberHex(h.member.MemberID())
	}
	return q
}

// Run serves the manager's requests to start a member here and watches
// the running member, until ctx ends. It runs on the caller's goroutine.
// session records the member the broker runs in its registration.
func (h *Host) Run(ctx context.Context, store *cluster.Store, session *cluster.Session) {
	joins := make(chan cluster.QuorumJoin, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		delay := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := store.WatchQuorumJoin(ctx, session.ID(), func(j cluster.QuorumJoin) {
				select {
				case joins <- j:
				case <-ctx.Done():
				}
			})
			if ctx.Err() == nil {
				h.log.Debug("watching etcd member requests", "err", err)
				sleep(ctx, delay)
				delay = min(2*delay, 5*time.Second)
			}
		}
	})
	for {
		var stopped <-chan struct{}
		h.mu.Lock()
		if h.member != nil {
			stopped = h.member.Stopped()
		}
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case j := <-joins:
			h.join(ctx, session, j)
		case <-stopped:
			h.stopped(ctx, store, session)
		}
	}
}

// join starts the member j describes, unless one runs already.
func (h *Host) join(ctx context.Context, session *cluster.Session, j cluster.QuorumJoin) {
	h.mu.Lock()
	running := h.member
	h.mu.Unlock()
	if running != nil {
		if memberHex(running.MemberID()) != j.Member {
			h.log.Warn("asked to start an etcd member while running another; ignoring", "member", j.Member,
				"running", memberHex(running.MemberID()))
		}
		return
	}
	if err := h.clear(); err != nil {
		h.log.Error("starting etcd member", "member", j.Member, "err", err)
		return
	}
	cfg := h.cfg.Member
	cfg.Name, cfg.InitialCluster, cfg.InitialClusterState = j.Name, j.InitialCluster, "existing"
	h.log.Info("starting etcd member to join the quorum", "member", j.Member, "name", j.Name)
	sctx, cancel := context.WithTimeout(ctx, joinTimeout)
	e, err := etcdmember.Start(sctx, cfg)
	cancel()
	if err != nil {
		// The manager removes a learner that never starts, after its
		// grace; it may ask again.
		h.log.Error("starting etcd member", "member", j.Member, "err", err)
		_ = h.clear()
		return
	}
	h.started(e, cfg)
	if _, err := session.SetQuorumMember(ctx, j.Member); err != nil {
		h.log.Warn("recording the etcd member in the registration", "member", j.Member, "err", err)
	}
	h.log.Info("etcd member started", "member", j.Member)
}

// stopped handles a member that stopped on its own: if the cluster no
// longer lists it, it was removed, and the broker goes on as a client.
// Otherwise the member failed; the broker's session will end with it
// (its lease is renewed through the other members only if any are
// reachable) and the broker restarts it.
func (h *Host) stopped(ctx context.Context, store *cluster.Store, session *cluster.Session) {
	h.mu.Lock()
	e := h.member
	h.member = nil
	h.mu.Unlock()
	id := e.MemberID()
	e.Close()
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := store.Client().MemberList(lctx)
	if err != nil {
		h.log.Error("etcd member stopped, and the cluster cannot be asked why", "member", memberHex(id), "err", err)
		return
	}
	if slices.ContainsFunc(list.Members, func(m *etcdserverpb.Member) bool { return m.ID == id }) {
		h.log.Error("etcd member stopped while still a member of the cluster", "member", memberHex(id))
		return
	}
	h.log.Warn("this broker's etcd member was removed from the quorum; clearing its data and going on as a client", "member", memberHex(id))
	if err := h.clear(); err != nil {
		h.log.Error("clearing the removed member's data", "err", err)
	}
	if _, err := session.SetQuorumMember(ctx, ""); err != nil {
		h.log.Warn("recording the member's removal in the registration", "err", err)
	}
}

// Close stops the member, if one runs.
func (h *Host) Close() {
	h.mu.Lock()
	e := h.member
	h.member = nil
	h.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// clear deletes the member's data and its join record.
func (h *Host) clear() error {
	if err := etcdmember.ClearData(h.cfg.Member.Dir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(h.cfg.Member.Dir, joinFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("quorum: %w", err)
	}
	return nil
}

func (h *Host) writeJoin(j cluster.QuorumJoin) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	if err := os.MkdirAll(h.cfg.Member.Dir, 0o700); err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	if err := os.WriteFile(filepath.Join(h.cfg.Member.Dir, joinFile), b, 0o600); err != nil {
		return fmt.Errorf("quorum: recording the etcd member: %w", err)
	}
	return nil
}

func (h *Host) readJoin() (cluster.QuorumJoin, bool) {
	b, err := os.ReadFile(filepath.Join(h.cfg.Member.Dir, joinFile))
	if err != nil {
		return cluster.QuorumJoin{}, false
	}
	var j cluster.QuorumJoin
	if err := json.Unmarshal(b, &j); err != nil || j.Name == "" {
		h.log.Warn("ignoring an unreadable etcd member record", "file", joinFile, "err", err)
		return cluster.QuorumJoin{}, false
	}
	return j, true
}

// otherPeers returns the peer URLs of initialCluster other than this
// member's.
func otherPeers(initialCluster, name string, own []string) []string {
	var out []string
	for item := range strings.SplitSeq(initialCluster, ",") {
		n, u, ok := strings.Cut(strings.TrimSpace(item), "=")
		if ok && n != name && !slices.Contains(own, u) {
			out = append(out, u)
		}
	}
	return out
}

// union returns a, then the members of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sleep waits for d or ctx.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
