package group

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartition(t *testing.T) {
	// Java hash codes computed by hand over UTF-16 code units, e.g.
	// "ab" = 97*31 + 98 = 3105, "g😀" = ((103*31 + 0xD83D)*31 + 0xDE00).
	tests := []struct {
		id   string
		hash int32
	}{
		{"", 0},
		{"a", 97},
		{"ab", 3105},
		{"Aa", 2112},
		{"BB", 2112},
		{"my-group", -1906497762},
		{"grüße", 98768023},
		{"g😀", 1871882},
		{"polygenelubricants", -2147483648}, // Integer.MIN_VALUE: Utils.abs gives 0
	}
	for _, tt := range tests {
		for _, n := range []int32{1, 50, 7} {
			want := (tt.hash & 0x7fffffff) % n
			if got := Partition(tt.id, n); got != want {
				t.Errorf("Partition(%q, %d) = %d, want %d", tt.id, n, got, want)
			}
		}
	}
	if got := Partition("my-group", 50); got != 36 {
		t.Errorf("Partition(my-group, 50) = %d, want 36", got)
	}
}

func TestJoinSyncOneMember(t *testing.T) {
	s, l := newTestShard(t, nil)
	req := joinReq("g", "client")
	res, err := s.Join(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != 1 || res.Leader != res.MemberID || res.Protocol != "range" || res.ProtocolType != "consumer" {
		t.Fatalf("join result %+v", res)
	}
	if !strings.HasPrefix(res.MemberID, "client-") || len(res.MemberID) != len("client-")+36 {
		t.Fatalf("member id %q is not client-<uuid>", res.MemberID)
	}
	if len(res.Members) != 1 || res.Members[0].MemberID != res.MemberID {
		t.Fatalf("leader's members %+v", res.Members)
	}
	d, _ := s.Describe("g")
	if d.State != "CompletingRebalance" {
		t.Fatalf("state %s", d.State)
	}
	syncAll(t, s, "g", []JoinResult{res})
	if err := s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: res.MemberID, Generation: 1}); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Describe("g")
	if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 ||
		string(d.Members[0].Assignment) != "a-"+res.MemberID || d.Members[0].ClientID != "client" {
		t.Fatalf("description %+v", d)
	}
	// The assignment is in the log as a GroupMetadataValue.
	recs := l.records()
	if len(recs) != 1 {
		t.Fatalf("log has %d records, want 1", len(recs))
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(recs[0].Value); err != nil {
		t.Fatal(err)
	}
	if v.Version != 3 || v.Generation != 1 || *v.Protocol != "range" || len(v.Members) != 1 ||
		string(v.Members[0].Assignment) != "a-"+res.MemberID {
		t.Fatalf("stored value %+v", v)
	}
	ls := s.List()
	if len(ls) != 1 || ls[0] != (Listing{Group: "g", ProtocolType: "consumer", State: "Stable"}) {
		t.Fatalf("list %+v", ls)
	}
}

func TestJoinSyncThreeMembers(t *testing.T) {
	// Joins arriving within the initial delay share the first generation.
	s, _ := newTestShard(t, func(c *Config) { c.InitialRebalanceDelay = 300 * time.Millisecond })
	var chans []<-chan joinRet
	for _, c := range []string{"c1", "c2", "c3"} {
		chans = append(chans, goJoin(s, joinReq("g", c)))
	}
	var res []JoinResult
	for _, ch := range chans {
		r := recv(t, ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		res = append(res, r.res)
	}
	leaders := 0
	for _, r := range res {
		if r.Generation != 1 || r.Leader != res[0].Leader {
			t.Fatalf("results disagree: %+v", res)
		}
		if r.MemberID == r.Leader {
			leaders++
			if len(r.Members) != 3 {
				t.Fatalf("leader sees %d members", len(r.Members))
			}
		} else if len(r.Members) != 0 {
			t.Fatal("a follower got the member list")
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}
	// Followers wait in Sync until the leader's assignment is stored.
	var follower JoinResult
	for _, r := range res {
		if r.MemberID != r.Leader {
			follower = r
		}
	}
	ch := goSync(s, SyncRequest{Group: "g", MemberID: follower.MemberID, Generation: 1})
	notYet(t, ch)
	var others []JoinResult
	for _, r := range res {
		if r.MemberID != follower.MemberID {
			others = append(others, r)
		}
	}
	syncAll(t, s, "g", others)
	if r := recv(t, ch); r.err != nil || string(r.res.Assignment) != "a-"+follower.MemberID {
		t.Fatalf("waiting follower got %+v", r)
	}
}

func TestProtocolSelection(t *testing.T) {
	tests := []struct {
		name    string
		members [][]string // each member's protocols, in preference order
		want    string
	}{
		{"single", [][]string{{"range"}}, "range"},
		{"first preference of all", [][]string{{"sticky", "range"}, {"sticky", "range"}}, "sticky"},
		{"only common one", [][]string{{"sticky", "range"}, {"range"}}, "range"},
		{"most votes", [][]string{{"a", "b"}, {"b", "a"}, {"b", "a"}}, "b"},
		{"uncommon preference ignored", [][]string{{"x", "a", "b"}, {"b", "a"}, {"a", "b"}}, "a"},
		{"tie goes to first voter", [][]string{{"b", "a"}, {"a", "b"}}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroup("g")
			for i, ps := range tt.members {
				m := &member{id: string(rune('A' + i))}
				for _, p := range ps {
					m.protocols = append(m.protocols, Protocol{Name: p})
				}
				g.add(m, "consumer")
			}
			if got := g.selectProtocol(); got != tt.want {
				t.Fatalf("selected %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJoinValidation(t *testing.T) {
	s, _ := newTestShard(t, func(c *Config) { c.MaxSize = 1 })
	stableGroup(t, s, "g", joinReq("", "c1", "range"))
	tests := []struct {
		name string
		mod  func(*JoinRequest)
		want error
	}{
		{"empty group id", func(r *JoinRequest) { r.Group = "" }, ErrInvalidGroupID},
		{"session too short", func(r *JoinRequest) { r.SessionTimeout = time.Millisecond }, ErrInvalidSessionTimeout},
		{"session too long", func(r *JoinRequest) { r.SessionTimeout = time.Hour }, ErrInvalidSessionTimeout},
		{"unknown member of unknown group", func(r *JoinRequest) { r.Group, r.MemberID = "other", "x" }, ErrUnknownMemberID},
		{"group full", func(r *JoinRequest) {}, ErrGroupMaxSize},
		{"no protocols", func(r *JoinRequest) { r.Group, r.Protocols = "new", nil }, ErrInconsistentProtocol},
		{"no protocol type", func(r *JoinRequest) { r.Group, r.ProtocolType = "new", "" }, ErrInconsistentProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := joinReq("g", "c2")
			tt.mod(&req)
			_, err := s.Join(context.Background(), req)
			wantErr(t, "join", err, tt.want)
		})
	}
	s2, _ := newTestShard(t, nil)
	stableGroup(t, s2, "g", joinReq("", "c1", "range"))
	_, err := s2.Join(context.Background(), joinReq("g", "c2", "sticky"))
	wantErr(t, "join with no common protocol", err, ErrInconsistentProtocol)
	req := joinReq("g", "c2", "range")
	req.ProtocolType = "connect"
	_, err = s2.Join(context.Background(), req)
	wantErr(t, "join with another protocol type", err, ErrInconsistentProtocol)
	req = joinReq("g", "c2", "range")
	req.MemberID = "x"
	_, err = s2.Join(context.Background(), req)
	wantErr(t, "join with an unknown member id", err, ErrUnknownMemberID)
}

func TestMemberIDRequired(t *testing.T) {
	s, _ := newTestShard(t, nil)
	req := joinReq("g", "c1")
	req.RequireKnownMemberID = true
	res, err := s.Join(context.Background(), req)
	wantErr(t, "first join", err, ErrMemberIDRequired)
	if !strings.HasPrefix(res.MemberID, "c1-") {
		t.Fatalf("member id %q", res.MemberID)
	}
	req.MemberID = res.MemberID
	res2, err := s.Join(context.Background(), req)
	if err != nil || res2.MemberID != res.MemberID || res2.Generation != 1 {
		t.Fatalf("second join: %+v, %v", res2, err)
	}
}

func TestPendingMemberDelaysJoinThenExpires(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := stableGroup(t, s, "g", joinReq("", "c1"))
	// A member that got MEMBER_ID_REQUIRED holds the next join until it
	// rejoins or its session (here 100 ms) expires.
	req := joinReq("g", "c2")
	req.RequireKnownMemberID = true
	req.SessionTimeout = 100 * time.Millisecond
	if _, err := s.Join(context.Background(), req); !errors.Is(err, ErrMemberIDRequired) {
		t.Fatal(err)
	}
	lead := joinReq("g", "c1")
	lead.MemberID = res[0].MemberID
	ch := goJoin(s, lead)
	r := recv(t, ch)
	if r.err != nil || r.res.Generation != 2 || len(r.res.Members) != 1 {
		t.Fatalf("join after pending expiry: %+v", r)
	}
}

func TestRebalanceOnNewMember(t *testing.T) {
	s, _ := newTestShard(t, nil)
	a := stableGroup(t, s, "g", joinReq("", "a"))[0]
	chB := goJoin(s, joinReq("g", "b"))
	hb := HeartbeatRequest{Group: "g", MemberID: a.MemberID, Generation: 1}
	waitFor(t, "rebalance", func() bool { return errors.Is(s.Heartbeat(context.Background(), hb), ErrRebalanceInProgress) })
	notYet(t, chB)
	reqA := joinReq("g", "a")
	reqA.MemberID = a.MemberID
	ra := recv(t, goJoin(s, reqA))
	rb := recv(t, chB)
	if ra.err != nil || rb.err != nil || ra.res.Generation != 2 || rb.res.Generation != 2 {
		t.Fatalf("rejoin: %+v %+v", ra, rb)
	}
	if ra.res.Leader != a.MemberID || len(ra.res.Members) != 2 {
		t.Fatalf("leader result %+v", ra.res)
	}
	// Old generation is fenced everywhere.
	wantErr(t, "old heartbeat", s.Heartbeat(context.Background(), hb), ErrIllegalGeneration)
	_, err := s.Sync(context.Background(), SyncRequest{Group: "g", MemberID: a.MemberID, Generation: 1})
	wantErr(t, "old sync", err, ErrIllegalGeneration)
	_, err = s.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: a.MemberID, Generation: 2,
		Offsets: []OffsetCommit{{Topic: "t", Offset: 1}}})
	wantErr(t, "commit while completing", err, ErrRebalanceInProgress)
	syncAll(t, s, "g", []JoinResult{ra.res, rb.res})
}

func TestRebalanceOnLeave(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := stableGroup(t, s, "g", joinReq("", "a"), joinReq("", "b"))
	gen := res[0].Generation
	errs, err := s.Leave(context.Background(), "g", []LeavingMember{{MemberID: res[1].MemberID}, {MemberID: "nobody"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
		t.Fatalf("leave: %v %v", errs, err)
	}
	hb := HeartbeatRequest{Group: "g", MemberID: res[0].MemberID, Generation: gen}
	wantErr(t, "heartbeat", s.Heartbeat(context.Background(), hb), ErrRebalanceInProgress)
	req := joinReq("g", "a")
	req.MemberID = res[0].MemberID
	r, err := s.Join(context.Background(), req)
	if err != nil || r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v %v", r, err)
	}
	// The last member leaving empties the group, which is persisted.
	syncAll(t, s, "g", []JoinResult{r})
	if _, err := s.Leave(context.Background(), "g", []LeavingMember{{MemberID: r.MemberID}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "empty", func() bool { d, _ := s.Describe("g"); return d.State == "Empty" })
	d, _ := s.Describe("g")
	if d.ProtocolType != "consumer" || len(d.Members) != 0 {
		t.Fatalf("empty group %+v", d)
	}
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	s, _ := newTestShard(t, nil)
	a, b := joinReq("", "a"), joinReq("", "b")
	b.SessionTimeout = 100 * time.Millisecond
	res := stableGroup(t, s, "g", a, b)
	gen := res[0].Generation
	// a heartbeats, b goes silent.
	hb := HeartbeatRequest{Group: "g", MemberID: res[0].MemberID, Generation: gen}
	waitFor(t, "b's expiry", func() bool { return errors.Is(s.Heartbeat(context.Background(), hb), ErrRebalanceInProgress) })
	a.Group, a.MemberID = "g", res[0].MemberID
	r, err := s.Join(context.Background(), a)
	if err != nil || r.Generation != gen+1 || len(r.Members) != 1 || r.Members[0].MemberID != res[0].MemberID {
		t.Fatalf("rejoin: %+v %v", r, err)
	}
	wantErr(t, "expired member", s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: res[1].MemberID, Generation: gen}),
		ErrUnknownMemberID)
}

func TestRebalanceTimeoutKicksLaggard(t *testing.T) {
	s, _ := newTestShard(t, nil)
	a, b := joinReq("", "a"), joinReq("", "b")
	a.RebalanceTimeout, b.RebalanceTimeout = 150*time.Millisecond, 150*time.Millisecond
	res := stableGroup(t, s, "g", a, b)
	gen := res[0].Generation
	a.Group, a.MemberID = "g", res[0].MemberID
	chA := goJoin(s, a) // the leader rejoins: rebalance; b never does
	start := time.Now()
	r := recv(t, chA)
	if r.err != nil || r.res.Generation != gen+1 || len(r.res.Members) != 1 {
		t.Fatalf("join: %+v", r)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("join completed after %v, before the rebalance timeout", el)
	}
	wantErr(t, "laggard heartbeat", s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: res[1].MemberID, Generation: gen}),
		ErrUnknownMemberID)
}

func TestInitialDelayExtends(t *testing.T) {
	s, _ := newTestShard(t, func(c *Config) { c.InitialRebalanceDelay = 150 * time.Millisecond })
	start := time.Now()
	ch1 := goJoin(s, joinReq("g", "c1"))
	time.Sleep(30 * time.Millisecond)
	ch2 := goJoin(s, joinReq("g", "c2")) // arrives during the delay: one more delay
	r1, r2 := recv(t, ch1), recv(t, ch2)
	if r1.err != nil || r2.err != nil || r1.res.Generation != 1 || r2.res.Generation != 1 {
		t.Fatalf("joins: %+v %+v", r1, r2)
	}
	if el := time.Since(start); el < 290*time.Millisecond {
		t.Fatalf("join completed after %v; the delay was not extended", el)
	}
}

func staticReq(client, instance string) JoinRequest {
	r := joinReq("", client)
	r.InstanceID = instance
	return r
}

func TestStaticMemberRejoinWithoutRebalance(t *testing.T) {
	for _, skip := range []bool{false, true} {
		for _, rejoinLeader := range []bool{false, true} {
			name := map[bool]string{false: "follower", true: "leader"}[rejoinLeader]
			if skip {
				name += "/v9"
			}
			t.Run(name, func(t *testing.T) { testStaticRejoin(t, rejoinLeader, skip) })
		}
	}
}

func testStaticRejoin(t *testing.T, rejoinLeader, skip bool) {
	s, l := newTestShard(t, nil)
	res := stableGroup(t, s, "g", staticReq("a", "ia"), staticReq("b", "ib"))
	gen := res[0].Generation
	leader := res[0].Leader
	var old, other JoinResult
	var instance string
	for i, r := range res {
		if (r.MemberID == leader) == rejoinLeader {
			old, instance = r, []string{"ia", "ib"}[i]
		} else {
			other = r
		}
	}
	before := len(l.records())

	req := staticReq("restarted", instance)
	req.Group = "g"
	req.SupportsSkipAssignment = skip
	r, err := s.Join(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r.MemberID == old.MemberID || !strings.HasPrefix(r.MemberID, instance+"-") || r.Generation != gen {
		t.Fatalf("rejoin result %+v", r)
	}
	switch {
	case rejoinLeader && skip:
		if r.Leader != r.MemberID || !r.SkipAssignment || len(r.Members) != 2 {
			t.Fatalf("v9 static leader result %+v", r)
		}
	case rejoinLeader:
		// Older clients are told the old leader id so they do not assign.
		if r.Leader != old.MemberID || r.SkipAssignment || len(r.Members) != 0 {
			t.Fatalf("static leader result %+v", r)
		}
	default:
		if r.Leader != leader || len(r.Members) != 0 {
			t.Fatalf("static follower result %+v", r)
		}
	}
	// The replacement was persisted; nobody else saw a rebalance.
	if got := len(l.records()); got != before+1 {
		t.Fatalf("%d records written, want 1", got-before)
	}
	if err := s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: other.MemberID, Generation: gen}); err != nil {
		t.Fatalf("other member's heartbeat: %v", err)
	}
	sr, err := s.Sync(context.Background(), SyncRequest{Group: "g", MemberID: r.MemberID, InstanceID: instance, Generation: gen})
	if err != nil || string(sr.Assignment) != "a-"+old.MemberID {
		t.Fatalf("sync: %+v %v", sr, err)
	}
	// The old member id is fenced.
	wantErr(t, "old id heartbeat", s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: old.MemberID, InstanceID: instance, Generation: gen}),
		ErrFencedInstanceID)
	d, _ := s.Describe("g")
	if d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("description %+v", d)
	}
	for _, m := range d.Members {
		if m.MemberID == r.MemberID && m.ClientID != "restarted" {
			t.Fatalf("replaced member described as client %q", m.ClientID)
		}
	}
	if err := s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: other.MemberID, Generation: gen}); err != nil {
		t.Fatalf("other member's heartbeat after: %v", err)
	}
}

func TestStaticMemberFencing(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := stableGroup(t, s, "g", staticReq("a", "ia"))
	req := staticReq("a", "ia")
	req.Group, req.MemberID = "g", "ia-someone-else"
	_, err := s.Join(context.Background(), req)
	wantErr(t, "join with a foreign member id", err, ErrFencedInstanceID)
	_, err = s.Sync(context.Background(), SyncRequest{Group: "g", MemberID: "ia-someone-else", InstanceID: "ia", Generation: 1})
	wantErr(t, "sync", err, ErrFencedInstanceID)
	_, err = s.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: "x", InstanceID: "ia", Generation: 1})
	wantErr(t, "commit", err, ErrFencedInstanceID)
	errs, _ := s.Leave(context.Background(), "g", []LeavingMember{{MemberID: "x", InstanceID: "ia"}})
	wantErr(t, "leave", errs[0], ErrFencedInstanceID)

	// A leave by instance id alone removes the static member.
	errs, _ = s.Leave(context.Background(), "g", []LeavingMember{{InstanceID: "ia"}})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantErr(t, "heartbeat after leave", s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: res[0].MemberID, Generation: 1}),
		ErrUnknownMemberID)
}

func TestStaticMemberSessionExpiry(t *testing.T) {
	s, _ := newTestShard(t, nil)
	a, b := staticReq("a", "ia"), staticReq("b", "ib")
	b.SessionTimeout = 80 * time.Millisecond
	res := stableGroup(t, s, "g", a, b)
	gen := res[0].Generation
	hb := HeartbeatRequest{Group: "g", MemberID: res[0].MemberID, InstanceID: "ia", Generation: gen}
	waitFor(t, "static expiry", func() bool { return errors.Is(s.Heartbeat(context.Background(), hb), ErrRebalanceInProgress) })
	a.Group, a.MemberID = "g", res[0].MemberID
	r, err := s.Join(context.Background(), a)
	if err != nil || len(r.Members) != 1 {
		t.Fatalf("rejoin %+v %v", r, err)
	}
}

func TestClose(t *testing.T) {
	s, _ := newTestShard(t, func(c *Config) { c.InitialRebalanceDelay = time.Minute })
	chJoin := goJoin(s, joinReq("g", "c1"))

	s2, l2 := newTestShard(t, nil)
	res := stableGroup(t, s2, "g", joinReq("", "a"))
	l2.setHold(true)
	chCommit := make(chan error, 1)
	go func() {
		_, err := s2.CommitOffsets(context.Background(), CommitRequest{Group: "g", MemberID: res[0].MemberID,
			Generation: 1, Offsets: []OffsetCommit{{Topic: "t", Offset: 5}}})
		chCommit <- err
	}()
	waitFor(t, "held commit", func() bool { return l2.held() == 1 })

	waitFor(t, "join pending", func() bool { d, _ := s.Describe("g"); return len(d.Members) == 1 })
	s.Close()
	s2.Close()
	wantErr(t, "join", recv(t, chJoin).err, ErrNotCoordinator)
	wantErr(t, "commit", recv(t, chCommit), ErrNotCoordinator)
	s.Close() // a second Close is harmless

	_, err := s.Join(context.Background(), joinReq("g", "c"))
	wantErr(t, "join after close", err, ErrNotCoordinator)
	wantErr(t, "heartbeat after close", s2.Heartbeat(context.Background(), HeartbeatRequest{Group: "g"}), ErrNotCoordinator)
	_, err = s2.FetchOffsets("g", nil)
	wantErr(t, "fetch after close", err, ErrNotCoordinator)
	_, err = s2.Describe("g")
	wantErr(t, "describe after close", err, ErrNotCoordinator)
	if errs := s2.Delete(context.Background(), []string{"g"}); !errors.Is(errs["g"], ErrNotCoordinator) {
		t.Fatal(errs)
	}
}

func TestCloseFailsWaitingSync(t *testing.T) {
	s, _ := newTestShard(t, nil)
	var follower JoinResult
	for _, r := range joinGroup(t, s, "g", joinReq("", "a"), joinReq("", "b")) {
		if r.MemberID != r.Leader {
			follower = r
		}
	}
	ch := goSync(s, SyncRequest{Group: "g", MemberID: follower.MemberID, Generation: follower.Generation})
	notYet(t, ch)
	s.Close()
	wantErr(t, "sync", recv(t, ch).err, ErrNotCoordinator)
}

func TestNotStarted(t *testing.T) {
	s := NewShard(0, testConfig(), &fakeLog{})
	defer s.Close()
	_, err := s.Join(context.Background(), joinReq("g", "c"))
	wantErr(t, "join before start", err, ErrCoordinatorLoadInProgress)
}

func TestSyncStoreFailure(t *testing.T) {
	s, l := newTestShard(t, nil)
	res, err := s.Join(context.Background(), joinReq("g", "c"))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("not leader")
	l.setHold(true)
	ch := goSync(s, SyncRequest{Group: "g", MemberID: res.MemberID, Generation: 1,
		Assignments: map[string][]byte{res.MemberID: []byte("x")}})
	waitFor(t, "held sync", func() bool { return l.held() == 1 })
	l.release(boom)
	wantErr(t, "sync", recv(t, ch).err, boom)
	d, _ := s.Describe("g")
	if d.State != "PreparingRebalance" {
		t.Fatalf("state after a failed store: %s", d.State)
	}
}

func TestStaticRejoinWithNewProtocolRebalances(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := stableGroup(t, s, "g", staticReq("a", "ia"), staticReq("b", "ib"))
	gen := res[0].Generation
	both := []Protocol{{Name: "sticky", Metadata: consumerMeta("t1")}, {Name: "range", Metadata: consumerMeta("t1")}}
	// b returns preferring sticky, but a supports only range: the
	// selection stays range, so no rebalance.
	req := staticReq("b2", "ib")
	req.Group, req.Protocols = "g", both
	b2, err := s.Join(context.Background(), req)
	if err != nil || b2.Generation != gen {
		t.Fatalf("rejoin of b: %+v %v", b2, err)
	}
	if err := s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: res[0].MemberID, Generation: gen}); err != nil {
		t.Fatal(err)
	}
	// a returns preferring sticky too: now both vote sticky, the selection
	// would change, and the group rebalances.
	req = staticReq("a2", "ia")
	req.Group, req.Protocols = "g", both
	ch := goJoin(s, req)
	hb := HeartbeatRequest{Group: "g", MemberID: b2.MemberID, InstanceID: "ib", Generation: gen}
	waitFor(t, "rebalance", func() bool { return errors.Is(s.Heartbeat(context.Background(), hb), ErrRebalanceInProgress) })
	notYet(t, ch)
	req = staticReq("b2", "ib")
	req.Group, req.MemberID, req.Protocols = "g", b2.MemberID, both
	rb := recv(t, goJoin(s, req))
	ra := recv(t, ch)
	if ra.err != nil || rb.err != nil || ra.res.Protocol != "sticky" || ra.res.Generation != gen+1 {
		t.Fatalf("rebalance results %+v %+v", ra, rb)
	}
}

func TestStaticReplacementPersistFailureReverts(t *testing.T) {
	s, l := newTestShard(t, nil)
	res := stableGroup(t, s, "g", staticReq("a", "ia"))
	gen := res[0].Generation
	boom := errors.New("not leader")
	l.mu.Lock()
	l.appendErr = boom
	l.mu.Unlock()
	req := staticReq("a", "ia")
	req.Group = "g"
	_, err := s.Join(context.Background(), req)
	wantErr(t, "rejoin", err, boom)
	// The previous member id still owns the instance.
	if err := s.Heartbeat(context.Background(), HeartbeatRequest{Group: "g", MemberID: res[0].MemberID, InstanceID: "ia", Generation: gen}); err != nil {
		t.Fatalf("old member after a failed replacement: %v", err)
	}
}

func TestLeaveDuringCompletingFailsWaitingSync(t *testing.T) {
	s, _ := newTestShard(t, nil)
	res := joinGroup(t, s, "g", joinReq("", "a"), joinReq("", "b"), joinReq("", "c"))
	var followers []JoinResult
	for _, r := range res {
		if r.MemberID != r.Leader {
			followers = append(followers, r)
		}
	}
	_, err := s.Sync(context.Background(), SyncRequest{Group: "g", MemberID: followers[0].MemberID,
		Generation: followers[0].Generation, Protocol: "sticky"})
	wantErr(t, "sync with another protocol", err, ErrInconsistentProtocol)
	ch := goSync(s, SyncRequest{Group: "g", MemberID: followers[0].MemberID, Generation: followers[0].Generation})
	notYet(t, ch)
	if _, err := s.Leave(context.Background(), "g", []LeavingMember{{MemberID: followers[1].MemberID}}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "waiting sync", recv(t, ch).err, ErrRebalanceInProgress)
}
