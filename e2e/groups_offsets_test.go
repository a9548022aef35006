package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitOffsets commits offsets (partition → next offset to consume) of
// topic as the group member m, and fails the test on any error.
func commitOffsets(t *testing.T, m *franzMember, topic string, offsets map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, o := range offsets {
		commit[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var commitErr error
	m.cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 && commitErr == nil {
					commitErr = fmt.Errorf("partition %d: error code %d", rp.Partition, rp.ErrorCode)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit %v as %s: %v", offsets, m.name, commitErr)
	}
}

// groupLag returns kadm's Lag for group, failing the test on an error.
func groupLag(t *testing.T, adm *kadm.Client, group string) kadm.DescribedGroupLag {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	l, ok := lags[group]
	if !ok {
		t.Fatalf("Lag has no entry for %s", group)
	}
	if err := l.Error(); err != nil {
		t.Fatalf("Lag of %s: %v", group, err)
	}
	return l
}

// formatLag renders a group's lag per partition.
func formatLag(l kadm.DescribedGroupLag) string {
	out := fmt.Sprintf("state=%s total=%d:", l.State, l.Lag.Total())
	for _, ml := range l.Lag.Sorted() {
		member := "-"
		if ml.Member != nil {
			member = ml.Member.ClientID
		}
		out += fmt.Sprintf(" [%s/%d commit=%d end=%d lag=%d member=%s err=%v]",
			ml.Topic, ml.Partition, ml.Commit.At, ml.End.Offset, ml.Lag, member, ml.Err)
	}
	return out
}

// TestGroupLag: 100 records in six partitions, a member that consumed them
// all and committed 40; Lag must total 60 with the right commit, end and
// owner on each partition, and FetchOffsets and DescribeGroups must agree,
// both while the member is in the group and once it left.
func TestGroupLag(t *testing.T) {
	b := groupBroker(t)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	// 16 records on each partition, and one more on partitions 0..3.
	want := append(produceSeq(t, addr, topic, 6, 0, 16), produceSeq(t, addr, topic, 4, 16, 1)...)
	if len(want) != 100 {
		t.Fatalf("produced %d records", len(want))
	}
	ends := map[int32]int64{0: 17, 1: 17, 2: 17, 3: 17, 4: 16, 5: 16}
	commits := map[int32]int64{0: 7, 1: 7, 2: 7, 3: 7, 4: 6, 5: 6} // 40 in all

	l := newLedger()
	m := startFranzMember(t, addr, group, topic, "lagger", l, memberOpts{manualCommit: true})
	d := waitAssignment(t, addr, group, 1, 6)
	waitConsumed(t, l, want, func() string { return describeMembers(m) })
	commitOffsets(t, m, topic, commits)
	memberID, _ := m.cl.GroupMetadata()
	if got := assignmentOf(d)[memberID]; len(got) != 6 {
		t.Fatalf("DescribeGroups: member %s has %v: %s", memberID, got, formatGroup(d))
	}

	adm := kadm.NewClient(newClient(t, addr))
	check := func(when, wantState string, wantMember bool) {
		t.Helper()
		lag := groupLag(t, adm, group)
		t.Logf("%s: %s", when, formatLag(lag))
		if lag.State != wantState || lag.ProtocolType != "consumer" {
			t.Errorf("%s: Lag says state %s protocol type %q, want %s consumer", when, lag.State, lag.ProtocolType, wantState)
		}
		if total := lag.Lag.Total(); total != 60 {
			t.Errorf("%s: total lag %d, want 60", when, total)
		}
		for p := range int32(6) {
			ml, ok := lag.Lag.Lookup(topic, p)
			switch {
			case !ok:
				t.Errorf("%s: no lag for partition %d", when, p)
			case ml.Err != nil || ml.Commit.At != commits[p] || ml.End.Offset != ends[p] || ml.Lag != ends[p]-commits[p]:
				t.Errorf("%s: partition %d: commit %d end %d lag %d err %v, want %d %d %d", when, p,
					ml.Commit.At, ml.End.Offset, ml.Lag, ml.Err, commits[p], ends[p], ends[p]-commits[p])
			case wantMember && (ml.Member == nil || ml.Member.MemberID != memberID):
				t.Errorf("%s: partition %d: lag names member %+v, want %s", when, p, ml.Member, memberID)
			case !wantMember && ml.Member != nil:
				t.Errorf("%s: partition %d: lag names member %s of an empty group", when, p, ml.Member.MemberID)
			}
		}
		if got := fetchCommitted(t, addr, group, topic); fmt.Sprint(got) != fmt.Sprint(commits) {
			t.Errorf("%s: FetchOffsets says %v, committed %v", when, got, commits)
		}
	}
	check("member in the group", "Stable", true)

	m.close(t)
	waitGroup(t, addr, group, "an empty group", func(d kadm.DescribedGroup) string {
		if d.State != "Empty" || len(d.Members) != 0 {
			return formatGroup(d)
		}
		return ""
	})
	check("member left", "Empty", false)
}

// TestGroupOffsetsSurviveBrokerSIGKILL: a group member commits offsets
// and leaves; the broker process is SIGKILLed and restarted on the same
// data; FetchOffsets and Lag must give the same answers as before, and the
// group must still be listed, Empty, with protocol type "consumer".
func TestGroupOffsetsSurviveBrokerSIGKILL(t *testing.T) {
	b := startProcess(t, groupOverrides...)
	addr, topic, group := b.Addr(), topicName(t), topicName(t)+"-group"
	createTopic(t, addr, topic, 6, nil)
	// 30 records per partition plus 10 on partitions 0..2, all consumed
	// and committed; then 7 more on partitions 0 and 1, consumed but not
	// committed. Committed [40 40 40 30 30 30], ends [47 47 40 30 30 30].
	l := newLedger()
	want := append(produceSeq(t, addr, topic, 6, 0, 30), produceSeq(t, addr, topic, 3, 30, 10)...)
	m := startFranzMember(t, addr, group, topic, "member-1", l, memberOpts{manualCommit: true})
	waitAssignment(t, addr, group, 1, 6)
	waitConsumed(t, l, want, func() string { return describeMembers(m) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	want2 := produceSeq(t, addr, topic, 2, 40, 7)
	waitConsumed(t, l, want2, func() string { return describeMembers(m) })
	m.close(t)
	waitGroup(t, addr, group, "an empty group", func(d kadm.DescribedGroup) string {
		if d.State != "Empty" || len(d.Members) != 0 {
			return formatGroup(d)
		}
		return ""
	})

	// What a client sees before the crash.
	adm := kadm.NewClient(newClient(t, addr, kgo.RetryTimeout(30*time.Second)))
	// After a restart the coordinator loads its groups in the background
	// and answers COORDINATOR_LOAD_IN_PROGRESS meanwhile (ListGroups until
	// every shard is loaded); retry until a request succeeds, and report
	// the last error if none does.
	retry := func(what string, try func() error) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := try()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still failing after 30s: %v\nbroker output:\n%s", what, err, b.Output())
			}
			time.Sleep(50 * time.Millisecond) // retry interval
		}
	}
	fetch := func() (resps kadm.OffsetResponses) {
		t.Helper()
		retry("FetchOffsets", func() (err error) {
			resps, err = adm.FetchOffsets(ctx, group)
			if err == nil {
				err = resps.Error()
			}
			return err
		})
		return resps
	}
	offsetsBefore := fetch()
	lagBefore := groupLag(t, adm, group)
	wantCommitted := map[int32]int64{0: 40, 1: 40, 2: 40, 3: 30, 4: 30, 5: 30}
	for p, at := range wantCommitted {
		if r, ok := offsetsBefore.Lookup(topic, p); !ok || r.At != at {
			t.Fatalf("before the crash, partition %d committed %+v, want %d", p, r, at)
		}
	}
	if total := lagBefore.Lag.Total(); total != 14 {
		t.Fatalf("before the crash, lag %d, want 14: %s", total, formatLag(lagBefore))
	}

	b.kill()
	b.restart()
	restarted := time.Now()

	offsetsAfter := fetch()
	t.Logf("committed offsets readable %v after the restarted broker answered Metadata", time.Since(restarted))
	if fmt.Sprint(offsetsAfter.Offsets()) != fmt.Sprint(offsetsBefore.Offsets()) {
		t.Errorf("committed offsets changed across the crash:\nbefore %v\nafter  %v", offsetsBefore.Offsets(), offsetsAfter.Offsets())
	}
	lagAfter := groupLag(t, adm, group)
	if formatLag(lagAfter) != formatLag(lagBefore) {
		t.Errorf("lag changed across the crash:\nbefore %s\nafter  %s", formatLag(lagBefore), formatLag(lagAfter))
	}
	t.Logf("after the restart: %s", formatLag(lagAfter))

	var listed kadm.ListedGroups
	retry("ListGroups", func() (err error) {
		listed, err = adm.ListGroups(ctx)
		return err
	})
	if g, ok := listed[group]; !ok || g.State != "Empty" || g.ProtocolType != "consumer" {
		t.Errorf("after the restart ListGroups has %+v (present %v), want %s Empty consumer; all: %v", g, ok, group, listed.Groups())
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroups: %v", err)
	}
	if d := described[group]; d.Err != nil || d.State != "Empty" || d.ProtocolType != "consumer" || len(d.Members) != 0 {
		t.Errorf("after the restart DescribeGroups says %s (err %v)", formatGroup(d), d.Err)
	}
}
