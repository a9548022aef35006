package group

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func commit(group string, offsets ...OffsetCommit) CommitRequest {
	return CommitRequest{Group: group, Generation: -1, Offsets: offsets}
}

func TestSimpleCommit(t *testing.T) {
	s, l := newTestShard(t, nil)
	perr, err := s.CommitOffsets(context.Background(), commit("g",
		OffsetCommit{Topic: "t", Partition: 0, Offset: 10, LeaderEpoch: 3, Metadata: "m"},
		OffsetCommit{Topic: "t", Partition: 1, Offset: 20, LeaderEpoch: -1},
		OffsetCommit{Topic: "t", Partition: 2, Offset: 30, Metadata: strings.Repeat("x", 4097)},
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(perr) != 1 || !errors.Is(perr[TopicPartition{"t", 2}], ErrOffsetMetadataTooLarge) {
		t.Fatalf("partition errors %v", perr)
	}
	got, _ := s.FetchOffsets("g", nil)
	want := map[TopicPartition]CommittedOffset{
		{"t", 0}: {10, 3, "m"},
		{"t", 1}: {20, -1, ""},
	}
	if len(got) != len(want) || got[TopicPartition{"t", 0}] != want[TopicPartition{"t", 0}] ||
		got[TopicPartition{"t", 1}] != want[TopicPartition{"t", 1}] {
		t.Fatalf("fetched %v, want %v", got, want)
	}
	got, _ = s.FetchOffsets("g", []TopicPartition{{"t", 1}, {"t", 9}})
	if len(got) != 1 {
		t.Fatalf("fetched %v", got)
	}
	if recs := l.records(); len(recs) != 2 {
		t.Fatalf("%d records, want 2 (one batch)", len(recs))
	}
	d, _ := s.Describe("g")
	if d.State != "Empty" || d.ProtocolType != "" {
		t.Fatalf("simple group %+v", d)
	}
	if got, _ := s.FetchOffsets("unknown", nil); len(got) != 0 {
		t.Fatal("offsets of an unknown group")
	}
}

func TestCommitValidation(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := stableGroup(t, s, "g", joinReq("", "a"))
	m := res[0].MemberID
	oc := OffsetCommit{Topic: "t", Offset: 1}
	tests := []struct {
		name string
		req  CommitRequest
		want error
	}{
		{"simple commit to a live group", commit("g", oc), ErrUnknownMemberID},
		{"old generation", CommitRequest{Group: "g", MemberID: m, Generation: 0, Offsets: []OffsetCommit{oc}}, ErrIllegalGeneration},
		{"unknown member", CommitRequest{Group: "g", MemberID: "x", Generation: 1, Offsets: []OffsetCommit{oc}}, ErrUnknownMemberID},
		{"generation for an unknown group", CommitRequest{Group: "nope", MemberID: "x", Generation: 3, Offsets: []OffsetCommit{oc}}, ErrIllegalGeneration},
		{"member commit", CommitRequest{Group: "g", MemberID: m, Generation: 1, Offsets: []OffsetCommit{oc}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CommitOffsets(context.Background(), tt.req)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCommitVisibleOnlyWhenCommitted(t *testing.T) {
	s, l := newTestShard(t, nil)
	l.setHold(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.CommitOffsets(context.Background(), commit("g", OffsetCommit{Topic: "t", Offset: 7}))
		done <- err
	}()
	waitFor(t, "append", func() bool { return l.held() == 1 })
	if got, _ := s.FetchOffsets("g", nil); len(got) != 0 {
		t.Fatalf("uncommitted offsets visible: %v", got)
	}
	notYet(t, done)
	// The snapshot carries the in-flight batch too.
	if recs := s.Snapshot(); len(recs) != 1 {
		t.Fatalf("snapshot has %d records, want the in-flight one", len(recs))
	}
	l.release(nil)
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FetchOffsets("g", nil); got[TopicPartition{"t", 0}].Offset != 7 {
		t.Fatalf("committed offsets not visible: %v", got)
	}
}

func TestCommitFailureLeavesStateUnchanged(t *testing.T) {
	s, l := newTestShard(t, nil)
	if _, err := s.CommitOffsets(context.Background(), commit("g", OffsetCommit{Topic: "t", Offset: 1})); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("not leader any more")
	l.setHold(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.CommitOffsets(context.Background(), commit("g", OffsetCommit{Topic: "t", Offset: 2}))
		done <- err
	}()
	waitFor(t, "append", func() bool { return l.held() == 1 })
	l.release(boom)
	wantErr(t, "commit", recv(t, done), boom)
	if got, _ := s.FetchOffsets("g", nil); got[TopicPartition{"t", 0}].Offset != 1 {
		t.Fatalf("offsets after a failed commit: %v", got)
	}
	// An Append error fails at once, and a simple group that never got an
	// offset is not left behind.
	l.mu.Lock()
	l.appendErr = boom
	l.mu.Unlock()
	_, err := s.CommitOffsets(context.Background(), commit("h", OffsetCommit{Topic: "t", Offset: 2}))
	wantErr(t, "commit with append error", err, boom)
	if d, _ := s.Describe("h"); d.State != "Dead" {
		t.Fatalf("group h left as %s", d.State)
	}
}

func TestCommitContextCancel(t *testing.T) {
	s, l := newTestShard(t, nil)
	l.setHold(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.CommitOffsets(ctx, commit("g", OffsetCommit{Topic: "t", Offset: 1}))
	wantErr(t, "commit", err, context.Canceled)
	// The batch still applies once committed.
	l.release(nil)
	waitFor(t, "apply", func() bool { got, _ := s.FetchOffsets("g", nil); return len(got) == 1 })
}

func TestDeleteOffsets(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := stableGroup(t, s, "g", joinReq("", "a")) // subscribed to t1
	m := res[0].MemberID
	_, err := s.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: m, Generation: 1,
		Offsets: []OffsetCommit{{Topic: "t1", Offset: 1}, {Topic: "t2", Offset: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	perr, err := s.DeleteOffsets(context.Background(), "g", []TopicPartition{{"t1", 0}, {"t2", 0}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(perr[TopicPartition{"t1", 0}], ErrGroupSubscribedToTopic) || perr[TopicPartition{"t2", 0}] != nil || len(perr) != 2 {
		t.Fatalf("partition errors %v", perr)
	}
	got, _ := s.FetchOffsets("g", nil)
	if len(got) != 1 || got[TopicPartition{"t1", 0}].Offset != 1 {
		t.Fatalf("offsets %v", got)
	}
	_, err = s.DeleteOffsets(context.Background(), "nope", []TopicPartition{{"t1", 0}})
	wantErr(t, "unknown group", err, ErrGroupIDNotFound)

	// A non-consumer group with members refuses.
	req := joinReq("c", "w")
	req.ProtocolType = "connect"
	r, err := s.Join(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	syncAll(t, s, "c", []JoinResult{r})
	_, err = s.DeleteOffsets(context.Background(), "c", []TopicPartition{{"t1", 0}})
	wantErr(t, "connect group", err, ErrNonEmptyGroup)
}

func TestDeleteGroups(t *testing.T) {
	s, l := newTestShard(t, nil)
	stableGroup(t, s, "live", joinReq("", "a"))
	if _, err := s.CommitOffsets(context.Background(), commit("simple",
		OffsetCommit{Topic: "t", Offset: 1}, OffsetCommit{Topic: "u", Offset: 2})); err != nil {
		t.Fatal(err)
	}
	before := len(l.records())
	errs := s.Delete(context.Background(), []string{"live", "simple", "nope"})
	if !errors.Is(errs["live"], ErrNonEmptyGroup) || errs["simple"] != nil || !errors.Is(errs["nope"], ErrGroupIDNotFound) {
		t.Fatalf("delete: %v", errs)
	}
	recs := l.records()[before:]
	if len(recs) != 3 {
		t.Fatalf("%d tombstones, want 3", len(recs))
	}
	for _, r := range recs {
		if r.Value != nil {
			t.Fatal("not a tombstone")
		}
	}
	if d, _ := s.Describe("simple"); d.State != "Dead" {
		t.Fatalf("deleted group is %s", d.State)
	}
	if got, _ := s.FetchOffsets("simple", nil); len(got) != 0 {
		t.Fatal("offsets survive deletion")
	}
	// A failed deletion leaves the group as it was.
	if _, err := s.CommitOffsets(context.Background(), commit("again", OffsetCommit{Topic: "t", Offset: 1})); err != nil {
		t.Fatal(err)
	}
	l.setHold(true)
	done := make(chan map[string]error, 1)
	go func() { done <- s.Delete(context.Background(), []string{"again"}) }()
	waitFor(t, "append", func() bool { return l.held() == 1 })
	_, err := s.CommitOffsets(context.Background(), commit("again", OffsetCommit{Topic: "t", Offset: 1}))
	wantErr(t, "commit during deletion", err, ErrCoordinatorNotAvailable)
	l.release(errors.New("boom"))
	if errs := recv(t, done); errs["again"] == nil {
		t.Fatal("delete succeeded")
	}
	if d, _ := s.Describe("again"); d.State != "Empty" {
		t.Fatalf("group after failed delete: %s", d.State)
	}
}

func TestExpireOffsets(t *testing.T) {
	clock := newFakeClock()
	const retention = time.Hour
	s, _ := newTestShard(t, func(c *Config) { c.Now = clock.Now; c.OffsetsRetention = retention })
	ctx := context.Background()

	// A simple group: retention from the commit.
	if _, err := s.CommitOffsets(ctx, commit("simple", OffsetCommit{Topic: "t", Offset: 1})); err != nil {
		t.Fatal(err)
	}
	// A stable consumer group subscribed to t1.
	res := stableGroup(t, s, "live", joinReq("", "a"))
	live := CommitRequest{Group: "live", MemberID: res[0].MemberID, Generation: 1,
		Offsets: []OffsetCommit{{Topic: "t1", Offset: 1}, {Topic: "t2", Offset: 2}}}
	if _, err := s.CommitOffsets(ctx, live); err != nil {
		t.Fatal(err)
	}
	// A consumer group that becomes empty 30 minutes after its commit.
	res = stableGroup(t, s, "gone", joinReq("", "b"))
	if _, err := s.CommitOffsets(ctx, CommitRequest{Group: "gone", MemberID: res[0].MemberID, Generation: 1,
		Offsets: []OffsetCommit{{Topic: "t", Offset: 3}}}); err != nil {
		t.Fatal(err)
	}
	// An explicit retention time.
	short := commit("short", OffsetCommit{Topic: "t", Offset: 4, LeaderEpoch: 9})
	short.RetentionOverride = 10 * time.Minute
	if _, err := s.CommitOffsets(ctx, short); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FetchOffsets("short", nil); got[TopicPartition{"t", 0}].LeaderEpoch != -1 {
		t.Fatal("an expiring commit kept its leader epoch, which its v1 record cannot hold")
	}
	clock.Advance(30 * time.Minute)
	if _, err := s.Leave(context.Background(), "gone", []LeavingMember{{MemberID: res[0].MemberID}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "empty", func() bool { d, _ := s.Describe("gone"); return d.State == "Empty" })

	n, g, err := s.expireOffsets(ctx, clock.Now())
	if err != nil || n != 1 || g != 1 {
		t.Fatalf("at 30m: expired %d offsets, %d groups, %v; want the short one", n, g, err)
	}
	if d, _ := s.Describe("short"); d.State != "Dead" {
		t.Fatal("group short survived without offsets")
	}

	clock.Advance(31 * time.Minute) // 61m after the commits, 31m after "gone" emptied
	n, g, err = s.expireOffsets(ctx, clock.Now())
	if err != nil || n != 2 || g != 1 {
		t.Fatalf("at 61m: expired %d offsets, %d groups, %v", n, g, err)
	}
	if got, _ := s.FetchOffsets("simple", nil); len(got) != 0 {
		t.Fatal("simple group's offset did not expire")
	}
	if got, _ := s.FetchOffsets("live", nil); len(got) != 1 || got[TopicPartition{"t1", 0}].Offset != 1 {
		t.Fatalf("live group's offsets %v: the subscribed topic must stay, the other expire", got)
	}
	if got, _ := s.FetchOffsets("gone", nil); len(got) != 1 {
		t.Fatal("empty group's offset expired before retention after it emptied")
	}
	if d, _ := s.Describe("live"); d.State != "Stable" {
		t.Fatal("live group touched")
	}

	clock.Advance(time.Hour)
	n, g, err = s.expireOffsets(ctx, clock.Now())
	if err != nil || n != 1 || g != 1 {
		t.Fatalf("at 2h: expired %d offsets, %d groups, %v", n, g, err)
	}
	if d, _ := s.Describe("gone"); d.State != "Dead" {
		t.Fatal("empty group without offsets survived")
	}
}

func TestExpireSkipsCommitsInFlight(t *testing.T) {
	clock := newFakeClock()
	s, l := newTestShard(t, func(c *Config) { c.Now = clock.Now; c.OffsetsRetention = time.Minute })
	if _, err := s.CommitOffsets(context.Background(), commit("g", OffsetCommit{Topic: "t", Offset: 1})); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	l.setHold(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.CommitOffsets(context.Background(), commit("g", OffsetCommit{Topic: "t", Offset: 2}))
		done <- err
	}()
	waitFor(t, "append", func() bool { return l.held() == 1 })
	l.setHold(false)
	n, g, err := s.expireOffsets(context.Background(), clock.Now())
	if err != nil || n != 0 || g != 0 {
		t.Fatalf("expired %d, %d, %v with a commit in flight", n, g, err)
	}
	l.release(nil)
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FetchOffsets("g", nil); got[TopicPartition{"t", 0}].Offset != 2 {
		t.Fatal(got)
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(l.records()[1].Value); err != nil || v.Offset != 2 {
		t.Fatal(err)
	}
}
