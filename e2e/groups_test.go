package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer group tests: every client library we support consumes a topic as
// a group of three members over six partitions, survives losing a member,
// and resumes from committed offsets. The helpers below are shared by
// groups_*_test.go.

// groupOverrides make rebalances fast enough to test: no initial join
// delay, session timeouts down to a second, and an offsets topic that a
// single broker can host.
var groupOverrides = []string{
	"group.initial.rebalance.delay.ms=0",
	"group.min.session.timeout.ms=1000",
	"offsets.topic.replication.factor=1",
}

// Client-side group timing used by every client in these tests.
const (
	groupSession   = 3 * time.Second
	groupHeartbeat = 300 * time.Millisecond
	groupRebalance = 5 * time.Second

	// moveSlack is what a partition move may take beyond the session
	// timeout. A member that leaves is removed at once; one that dies is
	// expired at most one session timeout after its last heartbeat. Either
	// way the coordinator then starts a rebalance, which the survivors see
	// at their next heartbeat (one heartbeat interval) and complete with one
	// JoinGroup and one SyncGroup round trip; the rebalance timeout only
	// matters for a member that never rejoins, and none is left. So a move
	// takes at most session + heartbeat + two round trips; 5 s covers the
	// heartbeat, the round trips, the race detector on two cores and the
	// 50 ms at which we poll DescribeGroups.
	moveSlack = 5 * time.Second
	moveBound = groupSession + moveSlack

	// assignTimeout bounds every wait for an assignment; a move is checked
	// against moveBound separately so that a slow move reports its time.
	assignTimeout = 20 * time.Second
)

// groupBroker starts an in-process broker tuned for group tests.
func groupBroker(t *testing.T) *inProcess {
	t.Helper()
	return startBroker(t, groupOverrides...)
}

// waitAssignment polls DescribeGroups until group is Stable with
// wantMembers members, each assigned wantPerMember partitions, and every
// partition 0..wantMembers*wantPerMember-1 owned by exactly one member. It
// fails with the last observed state after assignTimeout.
func waitAssignment(t *testing.T, addr, group string, wantMembers, wantPerMember int) kadm.DescribedGroup {
	t.Helper()
	return waitGroup(t, addr, group, fmt.Sprintf("a stable %d×%d assignment", wantMembers, wantPerMember),
		func(d kadm.DescribedGroup) string { return checkAssignment(d, wantMembers, wantPerMember) })
}

// waitGroup polls DescribeGroups until check returns "" for the group, and
// fails with the last thing check (or the request) reported after
// assignTimeout.
func waitGroup(t *testing.T, addr, group, what string, check func(kadm.DescribedGroup) string) kadm.DescribedGroup {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(assignTimeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		described, err := adm.DescribeGroups(ctx, group)
		cancel()
		switch d, ok := described[group]; {
		case err != nil:
			last = "DescribeGroups: " + err.Error()
		case !ok:
			last = "group missing from DescribeGroups"
		default:
			last = check(d)
			if last == "" {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: no %s after %v; last observed: %s", group, what, assignTimeout, last)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// checkAssignment returns "" if d is the wanted assignment, else what is
// wrong with it and the state it is in.
func checkAssignment(d kadm.DescribedGroup, wantMembers, wantPerMember int) string {
	if d.Err != nil {
		return fmt.Sprintf("group error %v (%s)", d.Err, d.ErrMessage)
	}
	state := formatGroup(d)
	if d.State != "Stable" {
		return "not Stable: " + state
	}
	if len(d.Members) != wantMembers {
		return fmt.Sprintf("%d members, want %d: %s", len(d.Members), wantMembers, state)
	}
	owner := map[int32]string{}
	for member, parts := range assignmentOf(d) {
		if len(parts) != wantPerMember {
			return fmt.Sprintf("member %s has %d partitions, want %d: %s", member, len(parts), wantPerMember, state)
		}
		for _, p := range parts {
			if prev, dup := owner[p]; dup {
				return fmt.Sprintf("partition %d owned by %s and %s: %s", p, prev, member, state)
			}
			owner[p] = member
		}
	}
	for p := range int32(wantMembers * wantPerMember) {
		if _, ok := owner[p]; !ok {
			return fmt.Sprintf("partition %d unowned: %s", p, state)
		}
	}
	return ""
}

// assignmentOf decodes each member's assigned partitions (of any topic; the
// group tests consume one topic) keyed by member ID.
func assignmentOf(d kadm.DescribedGroup) map[string][]int32 {
	out := map[string][]int32{}
	for _, m := range d.Members {
		out[m.MemberID] = nil
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, topic := range c.Topics {
				out[m.MemberID] = append(out[m.MemberID], topic.Partitions...)
			}
		}
		slices.Sort(out[m.MemberID])
	}
	return out
}

// formatGroup renders a described group for failure messages.
func formatGroup(d kadm.DescribedGroup) string {
	assigned := assignmentOf(d)
	var b strings.Builder
	fmt.Fprintf(&b, "state=%s protocol=%s/%s members:", d.State, d.ProtocolType, d.Protocol)
	for _, m := range d.Members {
		instance := ""
		if m.InstanceID != nil {
			instance = " instance=" + *m.InstanceID
		}
		fmt.Fprintf(&b, " [%s client=%s%s %v]", m.MemberID, m.ClientID, instance, assigned[m.MemberID])
	}
	return b.String()
}

// memberByClientID returns the described member with the given client ID.
func memberByClientID(t *testing.T, d kadm.DescribedGroup, clientID string) kadm.DescribedGroupMember {
	t.Helper()
	for _, m := range d.Members {
		if m.ClientID == clientID {
			return m
		}
	}
	t.Fatalf("no member with client ID %q: %s", clientID, formatGroup(d))
	return kadm.DescribedGroupMember{}
}

// recordID names a produced record: its partition and its sequence number
// within that partition, which is also the offset it is written at (each
// test writes its topic from one producer, in order).
type recordID struct {
	partition int32
	seq       int64
}

// produceSeq produces perPartition records to each of partitions
// partitions of topic, with sequence numbers from..from+perPartition-1,
// key "p<partition>" and value "<partition>/<seq>", and returns their IDs.
func produceSeq(t *testing.T, addr, topic string, partitions int32, from, perPartition int64) []recordID {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var records []*kgo.Record
	var ids []recordID
	for seq := from; seq < from+perPartition; seq++ {
		for p := range partitions {
			records = append(records, &kgo.Record{
				Partition: p,
				Key:       fmt.Appendf(nil, "p%d", p),
				Value:     fmt.Appendf(nil, "%d/%d", p, seq),
			})
			ids = append(ids, recordID{p, seq})
		}
	}
	produceAll(t, cl, records)
	for _, r := range records {
		if r.Offset != mustSeq(t, r.Value) {
			t.Fatalf("record %s written at offset %d of partition %d", r.Value, r.Offset, r.Partition)
		}
	}
	return ids
}

func mustSeq(t *testing.T, value []byte) int64 {
	t.Helper()
	id, err := parseRecordID(string(value))
	if err != nil {
		t.Fatal(err)
	}
	return id.seq
}

func parseRecordID(value string) (recordID, error) {
	p, seq, ok := strings.Cut(value, "/")
	pn, err1 := strconv.ParseInt(p, 10, 32)
	sn, err2 := strconv.ParseInt(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return recordID{}, fmt.Errorf("record value %q is not partition/seq", value)
	}
	return recordID{int32(pn), sn}, nil
}

// ledger records which produced records group members consumed, and
// anything inconsistent about them.
type ledger struct {
	mu   sync.Mutex
	seen map[recordID]int
	bad  []string
}

func newLedger() *ledger { return &ledger{seen: map[recordID]int{}} }

// add records that a member consumed value from partition at offset.
func (l *ledger) add(who string, partition int32, offset int64, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, err := parseRecordID(string(value))
	switch {
	case err != nil:
		l.bad = append(l.bad, fmt.Sprintf("%s: %v", who, err))
	case id.partition != partition || id.seq != offset:
		l.bad = append(l.bad, fmt.Sprintf("%s: record %s read from partition %d offset %d", who, value, partition, offset))
	default:
		l.seen[id]++
	}
}

// missing returns the records of want not consumed yet.
func (l *ledger) missing(want []recordID) []recordID {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []recordID
	for _, id := range want {
		if l.seen[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// waitConsumed waits until every record of want was consumed at least once
// and checks that nothing inconsistent was read. more describes the
// consumers' state for a failure message.
func waitConsumed(t *testing.T, l *ledger, want []recordID, more func() string) {
	t.Helper()
	deadline := time.Now().Add(assignTimeout)
	for {
		miss := l.missing(want)
		if len(miss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			perPartition := map[int32]int{}
			for _, id := range miss {
				perPartition[id.partition]++
			}
			t.Fatalf("%d of %d records never consumed after %v (missing per partition %v, first %v); %s",
				len(miss), len(want), assignTimeout, perPartition, miss[:min(len(miss), 5)], more())
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		t.Fatalf("inconsistent records consumed: %v", l.bad)
	}
}

// sortedPartitions returns the keys of a partition set in order.
func sortedPartitions(set map[int32]bool) []int32 {
	var out []int32
	for p, ok := range set {
		if ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
