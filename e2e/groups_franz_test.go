package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzMember is a franz-go group member consuming in the background. It
// records every record it polls in a ledger and its partition callbacks in
// owned and events.
type franzMember struct {
	name   string
	cl     *kgo.Client
	ledger *ledger
	done   chan struct{}
	closed sync.Once

	// heartbeats counts Heartbeat responses read from the coordinator.
	heartbeats atomic.Int64

	mu     sync.Mutex
	owned  map[int32]bool  // partitions assigned and not revoked or lost, per the callbacks
	events []string        // every callback invocation, in order
	first  map[int32]int64 // first offset polled from each partition
	errs   []string        // fetch errors and failed commits
}

// memberOpts configures a franzMember.
type memberOpts struct {
	balancer     kgo.GroupBalancer // default: range (eager)
	instanceID   string            // static membership if set
	session      time.Duration     // default groupSession
	manualCommit bool              // no autocommit and no commit on revoke
}

// startFranzMember starts a group member with client ID name. Unless
// manualCommit is set it autocommits every 500 ms and commits what it
// polled when partitions are revoked (rebalances wait for each poll to be
// recorded: BlockRebalanceOnPoll), so that it is an at-least-once consumer.
func startFranzMember(t *testing.T, addr, group, topic, name string, l *ledger, o memberOpts) *franzMember {
	t.Helper()
	m := &franzMember{name: name, ledger: l, done: make(chan struct{}), owned: map[int32]bool{}, first: map[int32]int64{}}
	if o.balancer == nil {
		o.balancer = kgo.RangeBalancer()
	}
	if o.session == 0 {
		o.session = groupSession
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Balancers(o.balancer),
		kgo.SessionTimeout(o.session),
		kgo.HeartbeatInterval(groupHeartbeat),
		kgo.RebalanceTimeout(groupRebalance),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.BlockRebalanceOnPoll(),
		kgo.WithHooks(heartbeatCounter{&m.heartbeats}),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.note("assigned", a[topic], true)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			m.note("revoked", r[topic], false)
			if !o.manualCommit {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					m.noteErr("commit on revoke: %v", err)
				}
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			m.note("lost", lost[topic], false)
		}),
	}
	if o.manualCommit {
		opts = append(opts, kgo.DisableAutoCommit())
	} else {
		opts = append(opts, kgo.AutoCommitInterval(500*time.Millisecond))
	}
	if o.instanceID != "" {
		opts = append(opts, kgo.InstanceID(o.instanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	go m.poll()
	t.Cleanup(func() { m.close(t) })
	return m
}

func (m *franzMember) poll() {
	defer close(m.done)
	for {
		fs := m.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			m.cl.AllowRebalance()
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			m.noteErr("fetch %s/%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			m.ledger.add(m.name, r.Partition, r.Offset, r.Value)
			m.mu.Lock()
			if _, ok := m.first[r.Partition]; !ok {
				m.first[r.Partition] = r.Offset
			}
			m.mu.Unlock()
		})
		m.cl.AllowRebalance()
	}
}

// close closes the client (which leaves the group unless it is static)
// and waits for the poll loop to end.
func (m *franzMember) close(t *testing.T) {
	m.closed.Do(func() {
		m.cl.Close()
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s: poll loop still running 30s after Close", m.name)
		}
	})
}

func (m *franzMember) note(kind string, partitions []int32, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range partitions {
		m.owned[p] = add
	}
	slices.Sort(partitions)
	m.events = append(m.events, fmt.Sprintf("%s %v", kind, partitions))
}

func (m *franzMember) noteErr(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
}

// state returns what the callbacks say the member owns, and its events.
func (m *franzMember) state() (owned []int32, events []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedPartitions(m.owned), slices.Clone(m.events)
}

func (m *franzMember) String() string {
	owned, events := m.state()
	member, gen := m.cl.GroupMetadata()
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("%s(member %s gen %d owns %v events %v errors %v)", m.name, member, gen, owned, events, m.errs)
}

// heartbeatCounter counts successful reads of Heartbeat responses.
type heartbeatCounter struct{ n *atomic.Int64 }

func (h heartbeatCounter) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 12 && err == nil {
		h.n.Add(1)
	}
}

// describeMembers renders the members for failure messages.
func describeMembers(members ...*franzMember) string {
	var parts []string
	for _, m := range members {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, "; ")
}

// assignee is a group member whose client tells it (through callbacks)
// which partitions it owns.
type assignee interface {
	owns() (memberID string, owned []int32)
	String() string
}

func (m *franzMember) owns() (string, []int32) {
	id, _ := m.cl.GroupMetadata()
	owned, _ := m.state()
	return id, owned
}

// assignees converts a slice of members.
func assignees[T assignee](members []T) []assignee {
	out := make([]assignee, len(members))
	for i, m := range members {
		out[i] = m
	}
	return out
}

// waitCallbacksMatch waits until each member's callbacks say it owns what
// DescribeGroups says it was assigned.
func waitCallbacksMatch(t *testing.T, d kadm.DescribedGroup, members ...assignee) {
	t.Helper()
	assigned := assignmentOf(d)
	deadline := time.Now().Add(assignTimeout)
	for {
		var wrong []string
		for _, m := range members {
			id, owned := m.owns()
			if want, ok := assigned[id]; !ok || !slices.Equal(owned, want) {
				wrong = append(wrong, fmt.Sprintf("member %s: callbacks say %v, DescribeGroups says %v (present %v)", id, owned, want, ok))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var states []string
			for _, m := range members {
				states = append(states, m.String())
			}
			t.Fatalf("callbacks disagree with DescribeGroups after %v: %v\ngroup: %s\nmembers: %s",
				assignTimeout, wrong, formatGroup(d), strings.Join(states, "; "))
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// fetchCommitted returns the group's committed offsets of topic.
func fetchCommitted(t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resps, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("FetchOffsets %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, r := range resps[topic] {
		out[p] = r.At
	}
	return out
}

// TestGroupFranzEager runs three franz-go members with the eager range
// balancer; see testFranzGroup.
func TestGroupFranzEager(t *testing.T) {
	testFranzGroup(t, kgo.RangeBalancer(), false)
}

// TestGroupFranzCooperative runs three franz-go members with the
// cooperative-sticky balancer; see testFranzGroup. Survivors of a member's
// departure must also keep the partitions they had.
func TestGroupFranzCooperative(t *testing.T) {
	testFranzGroup(t, kgo.CooperativeStickyBalancer(), true)
}

// testFranzGroup: three members share six partitions 2/2/2 (DescribeGroups
// and callbacks agree) and consume everything; one member closes (leaving
// the group) and the other two own 3/3 within moveBound and consume what
// is produced next; then the survivors close, more is produced, and a new
// member resumes exactly at the committed offsets: no record below them is
// read again, none above them is skipped.
func testFranzGroup(t *testing.T, balancer kgo.GroupBalancer, sticky bool) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	l := newLedger()
	want := produceSeq(t, addr, topic, 6, 0, 50)

	opts := memberOpts{balancer: balancer}
	var members []*franzMember
	for i := range 3 {
		members = append(members, startFranzMember(t, addr, group, topic, fmt.Sprintf("member-%d", i+1), l, opts))
	}
	d := waitAssignment(t, addr, group, 3, 2)
	if wantProtocol := balancer.ProtocolName(); d.ProtocolType != "consumer" || d.Protocol != wantProtocol {
		t.Errorf("group protocol %s/%s, want consumer/%s", d.ProtocolType, d.Protocol, wantProtocol)
	}
	waitCallbacksMatch(t, d, assignees(members)...)
	waitConsumed(t, l, want, func() string { return describeMembers(members...) })
	before := assignmentOf(d)

	// Close member-2: it leaves, and its partitions move to the others.
	start := time.Now()
	members[1].close(t)
	d = checkMove(t, addr, group, start, "closed")
	survivors := []*franzMember{members[0], members[2]}
	waitCallbacksMatch(t, d, assignees(survivors)...)
	if sticky {
		after := assignmentOf(d)
		for _, m := range survivors {
			id, _ := m.cl.GroupMetadata()
			for _, p := range before[id] {
				if !slices.Contains(after[id], p) {
					t.Errorf("%s lost partition %d in a cooperative-sticky rebalance: before %v, after %v", m.name, p, before[id], after[id])
				}
			}
		}
	}
	want2 := produceSeq(t, addr, topic, 6, 50, 50)
	waitConsumed(t, l, want2, func() string { return describeMembers(survivors...) })

	// The survivors close, committing what they consumed; the group is
	// empty and its committed offsets are the end offsets.
	for _, m := range survivors {
		m.close(t)
	}
	committed := fetchCommitted(t, addr, group, topic)
	for p := range int32(6) {
		if committed[p] != 100 {
			t.Fatalf("after every member closed, committed offsets are %v, want 100 on each partition; members: %s",
				committed, describeMembers(members...))
		}
	}

	// Produce while nobody consumes, then start a new member: it must
	// resume at offset 100 on every partition.
	want3 := produceSeq(t, addr, topic, 6, 100, 20)
	newcomer := startFranzMember(t, addr, group, topic, "member-4", l, opts)
	d = waitAssignment(t, addr, group, 1, 6)
	waitCallbacksMatch(t, d, newcomer)
	waitConsumed(t, l, want3, func() string { return describeMembers(newcomer) })
	newcomer.mu.Lock()
	first := maps2str(newcomer.first)
	for p := range int32(6) {
		if got, ok := newcomer.first[p]; !ok || got != committed[p] {
			t.Errorf("new member's first offset on partition %d is %d (polled: %v), want the committed %d; first offsets %s",
				p, got, ok, committed[p], first)
		}
	}
	newcomer.mu.Unlock()
	t.Logf("new member resumed at %s", first)
}

// maps2str renders a partition → offset map in partition order.
func maps2str(m map[int32]int64) string {
	var ps []int32
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%d:%d ", p, m[p])
	}
	return strings.TrimSpace(b.String())
}
