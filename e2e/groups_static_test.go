package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// memberByInstance returns the described member with the given instance ID.
func memberByInstance(d kadm.DescribedGroup, instance string) (kadm.DescribedGroupMember, bool) {
	for _, m := range d.Members {
		if m.InstanceID != nil && *m.InstanceID == instance {
			return m, true
		}
	}
	return kadm.DescribedGroupMember{}, false
}

// TestGroupStaticMembership: three static franz-go members (KIP-345) share
// six partitions 2/2/2. Member 2's client closes (a static franz-go member
// with the eager balancer sends no LeaveGroup) and a new client with the
// same instance ID starts within the session timeout. The coordinator must
// hand it member 2's partitions without a rebalance: members 1 and 3 see no
// partition callback and keep their member IDs and generation, and the
// group's assignment is unchanged.
func TestGroupStaticMembership(t *testing.T) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	l := newLedger()
	want := produceSeq(t, addr, topic, 6, 0, 20)

	// The session timeout leaves room for the restart.
	const session = 6 * time.Second
	static := func(instance string) memberOpts { return memberOpts{instanceID: instance, session: session} }

	// Member 1 starts alone, so that it is the group leader (the leader
	// stays the leader while it remains in the group): the member that
	// restarts is then a plain follower.
	m1 := startFranzMember(t, addr, group, topic, "member-1", l, static("member-1"))
	waitAssignment(t, addr, group, 1, 6)
	m2 := startFranzMember(t, addr, group, topic, "member-2", l, static("member-2"))
	m3 := startFranzMember(t, addr, group, topic, "member-3", l, static("member-3"))
	d := waitAssignment(t, addr, group, 3, 2)
	waitCallbacksMatch(t, d, m1, m2, m3)
	waitConsumed(t, l, want, func() string { return describeMembers(m1, m2, m3) })

	before := assignmentOf(d)
	old2, ok := memberByInstance(d, "member-2")
	if !ok {
		t.Fatalf("no member with instance ID member-2: %s", formatGroup(d))
	}
	id1, gen1 := m1.cl.GroupMetadata()
	id3, gen3 := m3.cl.GroupMetadata()
	_, events1 := m1.state()
	_, events3 := m3.state()

	// Close member 2's client. It must still be in the group: it did not
	// leave and its session has not expired.
	m2.close(t)
	closedAt := time.Now()
	d = waitGroup(t, addr, group, "any state", func(kadm.DescribedGroup) string { return "" })
	if m, ok := memberByInstance(d, "member-2"); !ok || m.MemberID != old2.MemberID {
		t.Fatalf("right after member 2 closed, the group no longer has it (static members do not leave): %s", formatGroup(d))
	}

	// Restart it with the same instance ID.
	m2b := startFranzMember(t, addr, group, topic, "member-2-restarted", l, static("member-2"))
	d = waitGroup(t, addr, group, "member 2 replaced by its restart", func(d kadm.DescribedGroup) string {
		if m, ok := memberByInstance(d, "member-2"); !ok || m.ClientID != "member-2-restarted" {
			return "member-2 not replaced yet: " + formatGroup(d)
		}
		return checkAssignment(d, 3, 2)
	})
	rejoined := time.Since(closedAt)
	t.Logf("member 2 rejoined %v after its client closed (session timeout %v)", rejoined, session)
	if rejoined >= session {
		t.Fatalf("the restart took %v, longer than the session timeout %v: the test proves nothing", rejoined, session)
	}
	waitCallbacksMatch(t, d, m1, m2b, m3)
	new2, _ := memberByInstance(d, "member-2")
	after := assignmentOf(d)
	if !slices.Equal(after[new2.MemberID], before[old2.MemberID]) {
		t.Errorf("restarted member 2 got %v, before the restart it had %v", after[new2.MemberID], before[old2.MemberID])
	}

	// Had the rejoin started a rebalance, members 1 and 3 would learn of
	// it from their next heartbeat and, being eager, revoke everything
	// before heartbeating again. Let each complete five more heartbeats.
	hb1, hb3 := m1.heartbeats.Load(), m3.heartbeats.Load()
	waitFor(t, assignTimeout, "five heartbeats of members 1 and 3", func() bool {
		return m1.heartbeats.Load() >= hb1+5 && m3.heartbeats.Load() >= hb3+5
	})
	for _, c := range []struct {
		m          *franzMember
		id         string
		gen        int32
		events     []string
		assignment []int32
	}{{m1, id1, gen1, events1, before[id1]}, {m3, id3, gen3, events3, before[id3]}} {
		id, gen := c.m.cl.GroupMetadata()
		owned, events := c.m.state()
		if !slices.Equal(events, c.events) {
			t.Errorf("%s saw partition callbacks after the static restart: before %v, now %v", c.m.name, c.events, events)
		}
		if id != c.id || gen != c.gen {
			t.Errorf("%s went from member %s generation %d to member %s generation %d", c.m.name, c.id, c.gen, id, gen)
		}
		if !slices.Equal(owned, c.assignment) || !slices.Equal(after[id], c.assignment) {
			t.Errorf("%s had %v, now owns %v (callbacks) / %v (DescribeGroups)", c.m.name, c.assignment, owned, after[id])
		}
	}
	if _, gen := m2b.cl.GroupMetadata(); gen != gen1 {
		t.Errorf("restarted member 2 is in generation %d, the group was in %d", gen, gen1)
	}

	// The restarted member consumes its partitions from where member 2
	// committed.
	want2 := produceSeq(t, addr, topic, 6, 20, 20)
	waitConsumed(t, l, want2, func() string { return describeMembers(m1, m2b, m3) })
	m2b.mu.Lock()
	for _, p := range after[new2.MemberID] {
		if got := m2b.first[p]; got != 20 {
			t.Errorf("restarted member 2 started partition %d at offset %d, want the committed 20", p, got)
		}
	}
	m2b.mu.Unlock()
}

// TestGroupStaticFencing drives static membership at the protocol level: a
// second JoinGroup with a live member's instance ID replaces that member,
// which from then on gets FENCED_INSTANCE_ID from Heartbeat, JoinGroup,
// SyncGroup, OffsetCommit and LeaveGroup, while the replacement inherits
// its assignment without a new generation.
func TestGroupStaticFencing(t *testing.T) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	// Kafka 3.6's versions: the classic group protocol, with topics named
	// (not identified by ID) in OffsetCommit.
	cl := newClient(t, addr, kgo.MaxVersions(kversion.V3_6_0()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	instance := "dup"

	join := func(memberID string) *kmsg.JoinGroupResponse {
		t.Helper()
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.InstanceID = group, memberID, &instance
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 6000, 5000
		req.ProtocolType = "consumer"
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Topics = []string{topic}
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = "range", meta.AppendTo(nil)
		req.Protocols = append(req.Protocols, proto)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("JoinGroup: %v", err)
		}
		return resp
	}
	sync := func(memberID string, gen int32, assignments []kmsg.SyncGroupRequestGroupAssignment) *kmsg.SyncGroupResponse {
		t.Helper()
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group, req.Generation, req.MemberID, req.InstanceID = group, gen, memberID, &instance
		protocolType, protocol := "consumer", "range"
		req.ProtocolType, req.Protocol = &protocolType, &protocol
		req.GroupAssignment = assignments
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("SyncGroup: %v", err)
		}
		return resp
	}
	heartbeat := func(memberID string, gen int32) error {
		t.Helper()
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID, req.InstanceID = group, gen, memberID, &instance
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("Heartbeat: %v", err)
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	commit := func(memberID string, gen int32, offset int64) error {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID, req.InstanceID = group, gen, memberID, &instance
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("OffsetCommit: %v", err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("OffsetCommit response %+v", resp)
		}
		return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	leave := func(memberID string) (top, member error) {
		t.Helper()
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = group
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID, m.InstanceID = memberID, &instance
		req.Members = append(req.Members, m)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("LeaveGroup: %v", err)
		}
		if len(resp.Members) != 1 {
			t.Fatalf("LeaveGroup response has %d members, want 1: %+v", len(resp.Members), resp)
		}
		return kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(resp.Members[0].ErrorCode)
	}
	expect := func(what string, got, want error) {
		t.Helper()
		if !errors.Is(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}

	// Member A joins as the only member and leads; it assigns itself
	// every partition.
	a := join("")
	if err := kerr.ErrorForCode(a.ErrorCode); err != nil || a.MemberID == "" || a.LeaderID != a.MemberID {
		t.Fatalf("first static JoinGroup: error %v, member %q, leader %q", err, a.MemberID, a.LeaderID)
	}
	assignment := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = topic, []int32{0, 1, 2, 3, 4, 5}
	assignment.Topics = append(assignment.Topics, at)
	assignmentBytes := assignment.AppendTo(nil)
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID, ga.MemberAssignment = a.MemberID, assignmentBytes
	sa := sync(a.MemberID, a.Generation, []kmsg.SyncGroupRequestGroupAssignment{ga})
	if err := kerr.ErrorForCode(sa.ErrorCode); err != nil || string(sa.MemberAssignment) != string(assignmentBytes) {
		t.Fatalf("leader SyncGroup: error %v, assignment %x, want %x", err, sa.MemberAssignment, assignmentBytes)
	}
	expect("Heartbeat of A", heartbeat(a.MemberID, a.Generation), nil)
	expect("OffsetCommit of A", commit(a.MemberID, a.Generation, 1), nil)

	// B joins with the same instance ID and replaces A.
	bj := join("")
	if err := kerr.ErrorForCode(bj.ErrorCode); err != nil || bj.MemberID == "" || bj.MemberID == a.MemberID {
		t.Fatalf("second static JoinGroup: error %v, member %q (A was %q)", err, bj.MemberID, a.MemberID)
	}
	if bj.Generation != a.Generation {
		t.Errorf("replacing a static member of a stable group moved the generation from %d to %d", a.Generation, bj.Generation)
	}
	t.Logf("A=%s replaced by B=%s in generation %d (leader %s)", a.MemberID, bj.MemberID, bj.Generation, bj.LeaderID)

	// A is fenced everywhere.
	expect("Heartbeat of fenced A", heartbeat(a.MemberID, a.Generation), kerr.FencedInstanceID)
	expect("OffsetCommit of fenced A", commit(a.MemberID, a.Generation, 2), kerr.FencedInstanceID)
	expect("SyncGroup of fenced A", kerr.ErrorForCode(sync(a.MemberID, a.Generation, nil).ErrorCode), kerr.FencedInstanceID)
	expect("JoinGroup of fenced A", kerr.ErrorForCode(join(a.MemberID).ErrorCode), kerr.FencedInstanceID)

	// B inherits A's assignment and works.
	sb := sync(bj.MemberID, bj.Generation, nil)
	if err := kerr.ErrorForCode(sb.ErrorCode); err != nil || string(sb.MemberAssignment) != string(assignmentBytes) {
		t.Errorf("replacement SyncGroup: error %v, assignment %x, want A's %x", err, sb.MemberAssignment, assignmentBytes)
	}
	expect("Heartbeat of B", heartbeat(bj.MemberID, bj.Generation), nil)
	expect("OffsetCommit of B", commit(bj.MemberID, bj.Generation, 3), nil)

	top, member := leave(a.MemberID)
	expect("LeaveGroup of fenced A (request)", top, nil)
	expect("LeaveGroup of fenced A (member)", member, kerr.FencedInstanceID)

	committed := fetchCommitted(t, addr, group, topic)
	if committed[0] != 3 {
		t.Errorf("committed offset of partition 0 is %d, want B's 3 (A's fenced commit of 2 must not apply)", committed[0])
	}

	top, member = leave(bj.MemberID)
	expect("LeaveGroup of B (request)", top, nil)
	expect("LeaveGroup of B (member)", member, nil)
	waitGroup(t, addr, group, "an empty group", func(d kadm.DescribedGroup) string {
		if d.State != "Empty" || len(d.Members) != 0 {
			return fmt.Sprintf("after B left: %s", formatGroup(d))
		}
		return ""
	})
}
