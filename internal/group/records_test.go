package group

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRecordEncoding(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	tp := TopicPartition{"topic", 7}

	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(offsetKey("grp", tp)); err != nil || k != (kmsg.OffsetCommitKey{Version: 1, Group: "grp", Topic: "topic", Partition: 7}) {
		t.Fatalf("offset key %+v, %v", k, err)
	}
	var v kmsg.OffsetCommitValue
	o := &offset{CommittedOffset: CommittedOffset{42, 5, "meta"}, commitTime: at}
	if err := v.ReadFrom(offsetValue(o)); err != nil || v.Version != 3 || v.Offset != 42 || v.LeaderEpoch != 5 ||
		v.Metadata != "meta" || v.CommitTimestamp != at.UnixMilli() {
		t.Fatalf("offset value %+v, %v", v, err)
	}
	o.expireTime = at.Add(time.Hour)
	if err := v.ReadFrom(offsetValue(o)); err != nil || v.Version != 1 || v.ExpireTimestamp != at.Add(time.Hour).UnixMilli() {
		t.Fatalf("expiring offset value %+v, %v", v, err)
	}

	var gk kmsg.GroupMetadataKey
	if err := gk.ReadFrom(groupKey("grp")); err != nil || gk.Version != 2 || gk.Group != "grp" {
		t.Fatalf("group key %+v, %v", gk, err)
	}
	g := newGroup("grp")
	g.add(&member{id: "m1", instanceID: "i1", clientID: "c", clientHost: "/h", sessionTimeout: 10 * time.Second,
		rebalanceTimeout: time.Minute, protocols: []Protocol{{"x", []byte("no")}, {"range", []byte("sub")}}}, "consumer")
	g.generation, g.protocol = 4, "range"
	var gv kmsg.GroupMetadataValue
	if err := gv.ReadFrom(groupValue(g, map[string][]byte{"m1": []byte("asg")}, at)); err != nil {
		t.Fatal(err)
	}
	m := gv.Members[0]
	if gv.Version != 3 || gv.ProtocolType != "consumer" || gv.Generation != 4 || *gv.Protocol != "range" || *gv.Leader != "m1" ||
		gv.CurrentStateTimestamp != at.UnixMilli() || len(gv.Members) != 1 || m.MemberID != "m1" || *m.InstanceID != "i1" ||
		m.ClientID != "c" || m.ClientHost != "/h" || m.SessionTimeoutMillis != 10000 || m.RebalanceTimeoutMillis != 60000 ||
		string(m.Subscription) != "sub" || string(m.Assignment) != "asg" {
		t.Fatalf("group value %+v", gv)
	}
}

func TestLoadUnknownVersion(t *testing.T) {
	s := NewShard(0, testConfig(), &fakeLog{})
	defer s.Close()
	err := s.Load([]byte{0, 5, 0, 0}, []byte{0, 0}, 17)
	if !errors.Is(err, ErrUnknownRecordVersion) || !strings.Contains(err.Error(), "key version 5") {
		t.Fatalf("got %v", err)
	}
	v := kmsg.OffsetCommitValue{Version: 9}
	err = s.Load(offsetKey("g", TopicPartition{"t", 0}), v.AppendTo(nil), 18)
	if !errors.Is(err, ErrUnknownRecordVersion) || !strings.Contains(err.Error(), "value version 9") {
		t.Fatalf("got %v", err)
	}
	if err := s.Load([]byte{0}, nil, 19); err == nil {
		t.Fatal("a one-byte key loaded")
	}
}

func TestLoadOrderAndTombstones(t *testing.T) {
	s := NewShard(0, testConfig(), &fakeLog{})
	defer s.Close()
	tp := TopicPartition{"t", 0}
	val := func(off int64) []byte {
		return offsetValue(&offset{CommittedOffset: CommittedOffset{Offset: off, LeaderEpoch: -1}, commitTime: time.UnixMilli(1)})
	}
	key := offsetKey("g", tp)
	for _, r := range []struct {
		v   []byte
		off int64
	}{{val(1), 10}, {val(2), 12}, {val(3), 11}} { // 11 older than what is applied
		if err := s.Load(key, r.v, r.off); err != nil {
			t.Fatal(err)
		}
	}
	s.Start()
	if got, _ := s.FetchOffsets("g", nil); got[tp].Offset != 2 {
		t.Fatalf("loaded %v, want the value of the newest record", got)
	}
	s2 := NewShard(0, testConfig(), &fakeLog{})
	defer s2.Close()
	_ = s2.Load(key, val(1), 1)
	_ = s2.Load(groupKey("g"), groupValue(newGroup("g"), nil, time.Time{}), 2)
	_ = s2.Load(key, nil, 3)
	_ = s2.Load(groupKey("g"), nil, 4)
	s2.Start()
	if d, _ := s2.Describe("g"); d.State != "Dead" {
		t.Fatalf("tombstoned group is %s", d.State)
	}
}

// randomLog builds a random __consumer_offsets log: group metadata records
// (old and current versions, empty and stable groups, static members),
// offset commits (values v0, v1, v3) and tombstones.
func randomLog(r *rand.Rand) []Record {
	groups := []string{"a", "b", "c", "d", "e"}
	topics := []string{"t1", "t2", "t3"}
	str := func(p string) string { return fmt.Sprintf("%s%d", p, r.IntN(1000)) }
	var recs []Record
	for range 40 + r.IntN(60) {
		gid := groups[r.IntN(len(groups))]
		switch r.IntN(10) {
		case 0: // group tombstone
			recs = append(recs, Record{Key: groupKey(gid)})
		case 1, 2, 3: // group metadata
			v := kmsg.NewGroupMetadataValue()
			v.Version = int16(r.IntN(4))
			v.ProtocolType = []string{"consumer", "connect", ""}[r.IntN(3)]
			v.Generation = r.Int32N(100)
			v.CurrentStateTimestamp = r.Int64N(1 << 40)
			if n := r.IntN(4); n > 0 {
				v.Protocol = kmsg.StringPtr([]string{"range", "sticky"}[r.IntN(2)])
				for i := range n {
					m := kmsg.NewGroupMetadataValueMember()
					m.MemberID = fmt.Sprintf("m%d-%s", i, str(""))
					if r.IntN(2) == 0 {
						m.InstanceID = kmsg.StringPtr(str("i"))
					}
					m.ClientID, m.ClientHost = str("c"), str("/h")
					m.SessionTimeoutMillis = 1000 + r.Int32N(10000)
					m.RebalanceTimeoutMillis = 1000 + r.Int32N(10000)
					m.Subscription = consumerMeta(topics[:1+r.IntN(3)]...)
					m.Assignment = []byte(str("asg"))
					v.Members = append(v.Members, m)
				}
				v.Leader = kmsg.StringPtr(v.Members[r.IntN(n)].MemberID)
			}
			recs = append(recs, Record{Key: groupKey(gid), Value: v.AppendTo(nil)})
		case 4: // offset tombstone
			recs = append(recs, Record{Key: offsetKey(gid, TopicPartition{topics[r.IntN(3)], r.Int32N(3)})})
		default: // offset commit
			k := kmsg.OffsetCommitKey{Version: int16(r.IntN(2)), Group: gid, Topic: topics[r.IntN(3)], Partition: r.Int32N(3)}
			v := kmsg.NewOffsetCommitValue()
			v.Version = []int16{0, 1, 3, 3}[r.IntN(4)]
			v.Offset = r.Int64N(1 << 30)
			v.LeaderEpoch = r.Int32N(10)
			v.Metadata = str("md")
			v.CommitTimestamp = r.Int64N(1 << 40)
			v.ExpireTimestamp = r.Int64N(1 << 40)
			recs = append(recs, Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)})
		}
	}
	return recs
}

// loaded returns a shard with recs loaded at offsets 0, 1, ...; it is not
// started, so that no session expires while the test looks at it.
func loaded(t *testing.T, recs []Record) *Shard {
	t.Helper()
	s := NewShard(0, testConfig(), &fakeLog{})
	t.Cleanup(s.Close)
	for i, rec := range recs {
		if err := s.Load(rec.Key, rec.Value, int64(i)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	return s
}

// observe captures what a shard reports about its groups, started or not.
func observe(t *testing.T, s *Shard) (map[string]Description, map[string]map[TopicPartition]CommittedOffset) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	descs := make(map[string]Description)
	offs := make(map[string]map[TopicPartition]CommittedOffset)
	for id := range s.groups {
		descs[id] = s.describe(id)
		offs[id] = s.fetch(id, nil)
	}
	return descs, offs
}

func TestSnapshotRoundTrip(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 42))
		recs := randomLog(r)
		s1 := loaded(t, recs)
		snap := s1.Snapshot()
		s2 := loaded(t, snap)
		d1, o1 := observe(t, s1)
		d2, o2 := observe(t, s2)
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("seed %d: descriptions differ:\n%+v\n%+v", seed, d1, d2)
		}
		if !reflect.DeepEqual(o1, o2) {
			t.Fatalf("seed %d: offsets differ:\n%+v\n%+v", seed, o1, o2)
		}
		// A snapshot of the reloaded shard is the same records.
		if snap2 := s2.Snapshot(); !reflect.DeepEqual(snap, snap2) {
			t.Fatalf("seed %d: snapshot is not a fixed point", seed)
		}
	}
}

func TestSnapshotOfLiveShard(t *testing.T) {
	s, l := newTestShard(t, nil)
	stableGroup(t, s, "g", staticReq("a", "ia"), joinReq("", "b"))
	if _, err := s.CommitOffsets(context.Background(), commit("simple", OffsetCommit{Topic: "t", Offset: 3, LeaderEpoch: 1})); err != nil {
		t.Fatal(err)
	}
	// Replaying the log and replaying the snapshot agree.
	fromLog, fromSnap := loaded(t, l.records()), loaded(t, s.Snapshot())
	d1, o1 := observe(t, fromLog)
	d2, o2 := observe(t, fromSnap)
	if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(o1, o2) {
		t.Fatalf("log and snapshot differ:\n%+v %+v\n%+v %+v", d1, o1, d2, o2)
	}
	d, _ := s.Describe("g")
	if !reflect.DeepEqual(d, d1["g"]) {
		t.Fatalf("reloaded group differs from the live one:\n%+v\n%+v", d, d1["g"])
	}
}

// FuzzLoad feeds arbitrary records to Load: it must not panic, and whatever
// it accepted must survive a Snapshot round trip.
func FuzzLoad(f *testing.F) {
	for seed := range uint64(8) {
		for _, rec := range randomLog(rand.New(rand.NewPCG(seed, 1))) {
			f.Add(rec.Key, rec.Value, rec.Value == nil)
		}
	}
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		} else if value == nil {
			value = []byte{}
		}
		s := NewShard(0, testConfig(), &fakeLog{})
		defer s.Close()
		if err := s.Load(key, value, 0); err != nil {
			return
		}
		s2 := loaded(t, s.Snapshot())
		d1, o1 := observe(t, s)
		d2, o2 := observe(t, s2)
		if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(o1, o2) {
			t.Fatalf("round trip differs:\n%+v %+v\n%+v %+v", d1, o1, d2, o2)
		}
	})
}

func TestRewrite(t *testing.T) {
	s, l := newTestShard(t, nil)
	ctx := context.Background()
	if safe, err := s.Rewrite(ctx); err != nil || safe != 0 {
		t.Fatalf("rewrite of an empty shard: %d, %v", safe, err)
	}
	stableGroup(t, s, "g", joinReq("", "a"), joinReq("", "b"))
	for i := range 3 {
		if _, err := s.CommitOffsets(ctx, commit("simple", OffsetCommit{Topic: "t", Offset: int64(i)})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteOffsets(ctx, "simple", []TopicPartition{{"t", 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitOffsets(ctx, commit("simple", OffsetCommit{Topic: "u", Offset: 9})); err != nil {
		t.Fatal(err)
	}
	safe, err := s.Rewrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all := l.records()
	if safe <= 0 || safe >= int64(len(all)) {
		t.Fatalf("safe offset %d of %d records", safe, len(all))
	}
	// The records from the safe offset on are enough to rebuild the state.
	d1, o1 := observe(t, loaded(t, all))
	d2, o2 := observe(t, loaded(t, all[safe:]))
	if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(o1, o2) {
		t.Fatalf("rewritten log differs:\n%+v %+v\n%+v %+v", d1, o1, d2, o2)
	}
	if len(o2["simple"]) != 1 || o2["simple"][TopicPartition{"u", 0}].Offset != 9 {
		t.Fatalf("offsets after rewrite %v", o2)
	}
}
