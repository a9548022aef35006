package quorum

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/spotstream/spotstream/internal/cluster"
)

// DefaultVoters is how many voting members the manager keeps: three
// tolerate the loss of one, and spot reclaims are replaced within the
// grace period, so five would buy little for two more fsyncing members.
const DefaultVoters = 3

// ManagerConfig configures a Manager. Store, Snapshots and Active are
// required.
type ManagerConfig struct {
	Store *cluster.Store
	// Snapshots returns the latest metadata snapshot (cluster.Cache.Load).
	Snapshots func() *cluster.Snapshot
	// Changed returns a channel closed at the next snapshot
	// (cluster.Cache.Changed); nil polls only.
	Changed func() <-chan struct{}
	// Active reports whether this broker is the controller: only the
	// controller changes the membership.
	Active func() bool
	// Voters is how many voting members to keep; DefaultVoters if 0.
	Voters int
	// Grace is how long a member may run on no live broker before it is
	// replaced (coordinator.quorum.replace.grace.ms).
	Grace time.Duration
	// Interval is how often the manager looks when nothing wakes it; one
	// second if 0.
	Interval time.Duration
	Logger   *slog.Logger
}

// Manager carries out Plan while its broker is the controller.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	// downSince is when each member was first seen without a live host.
	// Only Run's goroutine touches it.
	downSince map[uint64]time.Time
}

// NewManager returns a manager; Run drives it.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Voters == 0 {
		cfg.Voters = DefaultVoters
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{cfg: cfg, log: log.With("component", "quorum"), downSince: map[uint64]time.Time{}}
}

// Run looks at the quorum every Interval and on every snapshot, and makes
// one change at a time while the broker is the controller, until ctx
// ends. It runs on the caller's goroutine.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		var changed <-chan struct{}
		if m.cfg.Changed != nil {
			changed = m.cfg.Changed()
		}
		if m.cfg.Active() {
			if err := m.step(ctx, time.Now()); err != nil && ctx.Err() == nil {
				m.log.Warn("changing the etcd quorum", "err", err)
			}
		} else {
			// A new controller starts its grace periods afresh.
			clear(m.downSince)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
		}
	}
}

// step reads the membership, plans and carries out one change.
func (m *Manager) step(ctx context.Context, now time.Time) error {
	snap := m.cfg.Snapshots()
	if !embeddedQuorum(snap) {
		// An external etcd: its members are its operators' business.
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := m.cfg.Store.Client()
	list, err := client.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("listing etcd members: %w", err)
	}
	members, brokers := m.view(list.Members, snap, now)
	a := Plan(members, brokers, m.cfg.Voters, m.cfg.Grace, now)
	switch a.Kind {
	case None:
		return nil
	case Remove:
		if _, err := client.MemberRemove(ctx, a.Member); err != nil {
			return fmt.Errorf("removing etcd member %x (%s): %w", a.Member, a.Reason, err)
		}
		delete(m.downSince, a.Member)
		m.log.Warn("removed etcd member", "member", memberHex(a.Member), "reason", a.Reason)
		return m.withdrawJoins(ctx, snap, list.Members, a.Member)
	case Add:
		return m.add(ctx, snap.Brokers[a.Broker], list.Members, a.Reason)
	case Promote:
		if _, err := client.MemberPromote(ctx, a.Member); err != nil {
			if errors.Is(err, rpctypes.ErrGRPCLearnerNotReady) || errors.Is(err, rpctypes.ErrMemberLearnerNotReady) {
				m.log.Debug("etcd learner not caught up yet", "member", memberHex(a.Member))
				return nil
			}
			return fmt.Errorf("promoting etcd member %x: %w", a.Member, err)
		}
		m.log.Info("promoted etcd member to voter", "member", memberHex(a.Member))
		return m.withdrawJoins(ctx, snap, list.Members, a.Member)
	}
	return nil
}

// add adds a learner for broker b and asks b to start it.
func (m *Manager) add(ctx context.Context, b cluster.BrokerInfo, current []*etcdserverpb.Member, reason string) error {
	if b.Quorum == nil {
		return fmt.Errorf("broker %d cannot host an etcd member", b.ID)
	}
	resp, err := m.cfg.Store.Client().MemberAddAsLearner(ctx, b.Quorum.PeerURLs)
	if err != nil {
		return fmt.Errorf("adding an etcd learner on broker %d: %w", b.ID, err)
	}
	id := resp.Member.ID
	name := fmt.Sprintf("broker-%d-%x", b.ID, id)
	var initial []string
	for _, mem := range resp.Members {
		n := mem.Name
		if mem.ID == id {
			n = name
		}
		if n == "" {
			continue // another learner that never started: not needed to join
		}
		for _, u := range mem.PeerURLs {
			initial = append(initial, n+"="+u)
		}
	}
	join := cluster.QuorumJoin{Member: memberHex(id), Name: name, InitialCluster: strings.Join(initial, ",")}
	if err := m.cfg.Store.PutQuorumJoin(ctx, b.ID, join); err != nil {
		return err
	}
	m.log.Info("added etcd learner; its broker starts it", "member", join.Member, "broker", b.ID, "peer.urls", b.Quorum.PeerURLs,
		"reason", reason, "members.before", len(current))
	return nil
}

// withdrawJoins deletes the join request for member, which is done with
// (promoted or removed). The broker it was for runs the member, or, for a
// learner that never started, is the one whose peer URLs it was added
// with.
func (m *Manager) withdrawJoins(ctx context.Context, snap *cluster.Snapshot, list []*etcdserverpb.Member, member uint64) error {
	var peers []string
	for _, em := range list {
		if em.ID == member {
			peers = em.PeerURLs
		}
	}
	for id, b := range snap.Brokers {
		if q := b.Quorum; q != nil && (q.Member == memberHex(member) || len(peers) > 0 && slices.Equal(q.PeerURLs, peers)) {
			return m.cfg.Store.DeleteQuorumJoin(ctx, id)
		}
	}
	return nil
}

// view turns etcd's member list and the live brokers into the planner's
// terms, and keeps downSince current.
func (m *Manager) view(list []*etcdserverpb.Member, snap *cluster.Snapshot, now time.Time) ([]Member, []Broker) {
	host := map[string]int32{} // member hex id -> live broker running it
	var brokers []Broker
	for id, b := range snap.Brokers {
		pb := Broker{ID: id, Rack: b.Rack, Draining: !b.Leads(),
			OnDemand: b.Capacity == "on-demand", Spot: b.Capacity == "spot"}
		if q := b.Quorum; q != nil {
			pb.CanHost = reachable(q.PeerURLs)
			if q.Member != "" {
				if v, err := strconv.ParseUint(q.Member, 16, 64); err == nil {
					pb.Member = v
					host[q.Member] = id
				}
			}
		}
		brokers = append(brokers, pb)
	}
	slices.SortFunc(brokers, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	members := make([]Member, 0, len(list))
	seen := map[uint64]bool{}
	for _, em := range list {
		pm := Member{ID: em.ID, Name: em.Name, Learner: em.IsLearner, Host: -1}
		if h, ok := host[memberHex(em.ID)]; ok {
			pm.Host = h
			delete(m.downSince, em.ID)
		} else {
			if _, ok := m.downSince[em.ID]; !ok {
				m.downSince[em.ID] = now
			}
			pm.DownSince = m.downSince[em.ID]
		}
		seen[em.ID] = true
		members = append(members, pm)
	}
	for id := range m.downSince {
		if !seen[id] {
			delete(m.downSince, id)
		}
	}
	return members, brokers
}

// embeddedQuorum reports whether any live broker can run a member, that is
// whether the quorum is the brokers' own.
func embeddedQuorum(snap *cluster.Snapshot) bool {
	for _, b := range snap.Brokers {
		if b.Quorum != nil {
			return true
		}
	}
	return false
}

// reachable reports whether peer URLs are TCP ones other machines can
// dial: unix sockets serve one member alone.
func reachable(urls []string) bool {
	if len(urls) == 0 {
		return false
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" {
			return false
		}
	}
	return true
}

// memberHex formats a member id as etcd prints it.
func memberHex(id uint64) string { return strconv.FormatUint(id, 16) }
