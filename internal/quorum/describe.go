package quorum

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/spotstream/spotstream/internal/cluster"
)

// describeDialTimeout bounds connecting to one member.
const describeDialTimeout = 2 * time.Second

// Status is the state of the etcd quorum, as one broker sees it.
type Status struct {
	// Leader is the leading member's id, 0 when no member that answered
	// knows one.
	Leader uint64
	// Term is the leader's Raft term, and Index the highest Raft index a
	// member reported.
	Term, Index uint64
	Members     []MemberStatus
}

// MemberStatus is one member of the quorum.
type MemberStatus struct {
	ID         uint64
	Name       string
	Learner    bool
	ClientURLs []string
	// Host is the live broker that runs the member, -1 if none does.
	Host int32
	// Up: the member answered a status request on its client URL.
	Up bool
	// Index is the member's Raft index when it is up.
	Index uint64
}

// Describe lists the members of the cluster client is connected to, asks
// each for its status (in parallel, within ctx), and names the brokers of
// snap that run them.
func Describe(ctx context.Context, client *clientv3.Client, snap *cluster.Snapshot) (Status, error) {
	list, err := client.MemberList(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("quorum: listing etcd members: %w", err)
	}
	host := map[string]int32{}
	for id, b := range snap.Brokers {
		if b.Quorum != nil && b.Quorum.Member != "" {
			host[b.Quorum.Member] = id
		}
	}
	st := Status{Members: make([]MemberStatus, len(list.Members))}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards st.Leader, st.Term, st.Index
	for i, m := range list.Members {
		ms := &st.Members[i] // each goroutine writes only its own member
		*ms = MemberStatus{ID: m.ID, Name: m.Name, Learner: m.IsLearner, ClientURLs: slices.Clone(m.ClientURLs), Host: -1}
		if h, ok := host[memberHex(m.ID)]; ok {
			ms.Host = h
		}
		if len(m.ClientURLs) == 0 {
			continue // added, never started
		}
		wg.Go(func() {
			resp, err := memberStatus(ctx, m.ClientURLs[0])
			// A member that replaced this one may serve on the same URL.
			if err != nil || resp.Header.MemberId != m.ID {
				return
			}
			ms.Up, ms.Index = true, resp.RaftIndex
			mu.Lock()
			defer mu.Unlock()
			if resp.RaftTerm >= st.Term {
				st.Leader, st.Term = resp.Leader, resp.RaftTerm
			}
			st.Index = max(st.Index, resp.RaftIndex)
		})
	}
	wg.Wait()
	slices.SortFunc(st.Members, func(a, b MemberStatus) int {
		return cmpHost(a.Host, b.Host)
	})
	return st, nil
}

// memberStatus asks the member at url for its status through a client of
// its own: the broker's client follows the membership (AutoSync), and
// etcd's client reads its endpoints without a lock when it dials a single
// one, which races with that.
func memberStatus(ctx context.Context, url string) (*clientv3.StatusResponse, error) {
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: describeDialTimeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return cl.Status(ctx, url)
}

// cmpHost orders members by host broker, those without one last.
func cmpHost(a, b int32) int {
	switch {
	case a == b:
		return 0
	case a < 0:
		return 1
	case b < 0:
		return -1
	case a < b:
		return -1
	}
	return 1
}
