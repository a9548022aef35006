package main

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestParseResetOptions(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		args    string
		check   func(resetOptions) bool
		wantErr string
	}{
		{args: "g --topic t --to-earliest", check: func(o resetOptions) bool {
			return o.group == "g" && reflect.DeepEqual(o.topics, []topicSelection{{topic: "t"}}) && o.strategy.kind == toEarliest && !o.execute
		}},
		{args: "--topic t:0,2 --topic u g --to-latest --execute", check: func(o resetOptions) bool {
			return o.group == "g" && reflect.DeepEqual(o.topics, []topicSelection{{"t", []int32{0, 2}}, {topic: "u"}}) &&
				o.strategy.kind == toLatest && o.execute
		}},
		{args: "g --all-topics --to-offset 42", check: func(o resetOptions) bool {
			return o.allTopics && o.strategy == resetStrategy{kind: toOffset, n: 42}
		}},
		{args: "g --all-topics --shift-by -10", check: func(o resetOptions) bool { return o.strategy == resetStrategy{kind: shiftBy, n: -10} }},
		{args: "g --all-topics --shift-by=+3", check: func(o resetOptions) bool { return o.strategy.n == 3 }},
		{args: "g --all-topics --to-datetime 2024-05-01T14:00:00+02:00", check: func(o resetOptions) bool {
			return o.strategy.kind == toDatetime && o.strategy.at.Equal(at)
		}},
		{args: "-- -g --all-topics --to-earliest", wantErr: "one group at a time"}, // flags after -- are positional
		{args: "--all-topics --to-earliest -- -g", check: func(o resetOptions) bool { return o.group == "-g" }},

		{args: "--topic t --to-earliest", wantErr: "no group given"},
		{args: "g h --topic t --to-earliest", wantErr: `one group at a time: got ["g" "h"]`},
		{args: "g --to-earliest", wantErr: "which partitions? give --topic T[:P,P...] or --all-topics"},
		{args: "g --topic t --all-topics --to-earliest", wantErr: "--topic and --all-topics: give one or the other"},
		{args: "g --topic t", wantErr: "which offsets? give one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by"},
		{args: "g --topic t --to-earliest --to-latest", wantErr: "--to-earliest and --to-latest: give only one of"},
		{args: "g --topic t --to-offset 1 --to-offset 2", wantErr: "--to-offset and --to-offset: give only one"},
		{args: "g --topic t --to-offset -1", wantErr: "negative"},
		{args: "g --topic t --to-offset x", wantErr: `invalid value "x" for flag -to-offset`},
		{args: "g --topic t --shift-by 1.5", wantErr: "-shift-by"},
		{args: "g --topic t --to-datetime 2024-05-01", wantErr: "want RFC 3339"},
		{args: "g --topic t:x --to-earliest", wantErr: `partition "x"`},
		{args: "g --topic :1 --to-earliest", wantErr: "empty topic"},
		{args: "g --topic t: --to-earliest", wantErr: "no partition after ':'"},
		{args: "g --topic t:-1 --to-earliest", wantErr: `partition "-1"`},
		{args: "g --topic t --to-earliest --brokers ,", wantErr: "--bootstrap-server"},
		{args: "g --topic t --to-earliest --dry-run", wantErr: "not defined"},
	} {
		o, err := parseResetOptions(strings.Fields(tc.args), io.Discard)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case !tc.check(o):
			t.Errorf("%q: unexpected options %+v", tc.args, o)
		}
	}
}

// resetFixture is a cluster of two topics: t with partitions 0-2 holding
// offsets [0, 100), [20, 50) and [10, 10) (empty), and u with one partition
// [0, 5). The group has committed t/0 at 30, t/1 at 10 (below the log
// start: its records were deleted) and u/0 at 5. A time listing finds t/0
// at 70 and t/1 at 45; t/2 and u/0 have no later record (-1).
func resetFixture() resetInputs {
	commit := func(t string, p int32, at int64) kadm.OffsetResponse {
		return kadm.OffsetResponse{Offset: kadm.Offset{Topic: t, Partition: p, At: at, LeaderEpoch: -1}}
	}
	return resetInputs{
		committed: kadm.OffsetResponses{
			"t": {0: commit("t", 0, 30), 1: commit("t", 1, 10)},
			"u": {0: commit("u", 0, 5)},
		},
		starts: listedOffsets(map[string][]int64{"t": {0, 20, 10}, "u": {0}}),
		ends:   listedOffsets(map[string][]int64{"t": {100, 50, 10}, "u": {5}}),
		times:  listedOffsets(map[string][]int64{"t": {70, 45, -1}, "u": {-1}}),
	}
}

func TestPlanReset(t *testing.T) {
	tAll := map[string][]int32{"t": {0, 1, 2}}
	for _, tc := range []struct {
		name     string
		strategy resetStrategy
		targets  map[string][]int32
		want     []int64 // new offsets of t/0, t/1, t/2
		wantErr  string
	}{
		{name: "earliest", strategy: resetStrategy{kind: toEarliest}, want: []int64{0, 20, 10}},
		{name: "latest", strategy: resetStrategy{kind: toLatest}, want: []int64{100, 50, 10}},
		{name: "offset in range", strategy: resetStrategy{kind: toOffset, n: 30}, want: []int64{30, 30, 10}},
		{name: "offset clamped", strategy: resetStrategy{kind: toOffset, n: 0}, want: []int64{0, 20, 10}},
		{name: "offset past end", strategy: resetStrategy{kind: toOffset, n: 1000}, want: []int64{100, 50, 10}},
		{name: "datetime", strategy: resetStrategy{kind: toDatetime}, want: []int64{70, 45, 10}},
		{name: "shift forward", strategy: resetStrategy{kind: shiftBy, n: 25},
			targets: map[string][]int32{"t": {0, 1}}, want: []int64{55, 35}},
		{name: "shift back clamps to start", strategy: resetStrategy{kind: shiftBy, n: -40},
			targets: map[string][]int32{"t": {0, 1}}, want: []int64{0, 20}},
		{name: "shift forward clamps to end", strategy: resetStrategy{kind: shiftBy, n: 60},
			targets: map[string][]int32{"t": {0, 1}}, want: []int64{90, 50}},
		{name: "shift saturates", strategy: resetStrategy{kind: shiftBy, n: math.MaxInt64},
			targets: map[string][]int32{"t": {0, 1}}, want: []int64{100, 50}},
		{name: "shift without commit", strategy: resetStrategy{kind: shiftBy, n: 1},
			wantErr: "t/2: no committed offset to shift"},
		{name: "unlisted partition", strategy: resetStrategy{kind: toEarliest},
			targets: map[string][]int32{"t": {7}}, wantErr: "t/7: missing from the listed start offsets"},
	} {
		targets := tc.targets
		if targets == nil {
			targets = tAll
		}
		plan, err := planReset(targets, tc.strategy, resetFixture())
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []int64
		for i, r := range plan {
			if r.Topic != "t" || r.Partition != int32(i) {
				t.Errorf("%s: row %d is %s/%d, want t/%d", tc.name, i, r.Topic, r.Partition, i)
			}
			got = append(got, r.New)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: new offsets %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPlanResetInputErrors(t *testing.T) {
	in := resetFixture()
	in.ends["t"][1] = kadm.ListedOffset{Topic: "t", Partition: 1, Err: kerr.NotLeaderForPartition}
	_, err := planReset(map[string][]int32{"t": {1}}, resetStrategy{kind: toLatest}, in)
	if !errors.Is(err, kerr.NotLeaderForPartition) || !strings.Contains(err.Error(), "t/1: list end offset") {
		t.Errorf("partition listing error: %v", err)
	}
	in = resetFixture()
	in.times = nil
	if _, err := planReset(map[string][]int32{"u": {0}}, resetStrategy{kind: toDatetime}, in); err == nil ||
		!strings.Contains(err.Error(), "u/0: missing from the listed timestamp offsets") {
		t.Errorf("missing time listing: %v", err)
	}
	// The log start moving past the listed end between the two listings
	// must not produce an offset past the end.
	in = resetFixture()
	in.starts["u"][0] = kadm.ListedOffset{Topic: "u", Offset: 9}
	plan, err := planReset(map[string][]int32{"u": {0}}, resetStrategy{kind: toEarliest}, in)
	if err != nil || plan[0].New != 5 {
		t.Errorf("start past end: plan %+v, error %v; want offset 5", plan, err)
	}
}

func TestResetTargets(t *testing.T) {
	in := resetFixture()
	in.ends["gone"] = map[int32]kadm.ListedOffset{-1: {Topic: "gone", Partition: -1, Err: kerr.UnknownTopicOrPartition}}
	in.committed["t"][2] = kadm.OffsetResponse{Offset: kadm.Offset{Topic: "t", Partition: 2, At: -1}} // listed, not committed
	for _, tc := range []struct {
		name      string
		sels      []topicSelection
		allTopics bool
		want      map[string][]int32
		wantErr   string
	}{
		{name: "whole topic", sels: []topicSelection{{topic: "t"}}, want: map[string][]int32{"t": {0, 1, 2}}},
		{name: "some partitions, merged", sels: []topicSelection{{"t", []int32{2, 0}}, {"t", []int32{0}}, {topic: "u"}},
			want: map[string][]int32{"t": {0, 2}, "u": {0}}},
		{name: "whole and some", sels: []topicSelection{{"t", []int32{1}}, {topic: "t"}}, want: map[string][]int32{"t": {0, 1, 2}}},
		{name: "all topics: committed partitions", allTopics: true, want: map[string][]int32{"t": {0, 1}, "u": {0}}},
		{name: "unknown topic", sels: []topicSelection{{topic: "gone"}}, wantErr: `topic "gone" does not exist`},
		{name: "unlisted topic", sels: []topicSelection{{"x", []int32{0}}}, wantErr: `topic "x" does not exist`},
		{name: "no such partition", sels: []topicSelection{{"u", []int32{0, 3}}}, wantErr: `topic "u" has no partition 3 (it has 1)`},
	} {
		got, err := resetTargets(tc.sels, tc.allTopics, in.committed, in.ends)
		switch {
		case tc.wantErr != "":
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !maps.EqualFunc(got, tc.want, slices.Equal):
			t.Errorf("%s: targets %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPrintResetPlan(t *testing.T) {
	plan, err := planReset(map[string][]int32{"t": {0, 2}, "u": {0}}, resetStrategy{kind: toEarliest}, resetFixture())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printResetPlan(&b, plan); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\n" +
		"t      0          30              0\n" +
		"t      2          -               10\n" +
		"u      0          5               0\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	offsets := planOffsets(plan)
	if o, ok := offsets.Lookup("t", 2); !ok || o.At != 10 || o.LeaderEpoch != -1 || len(offsets) != 2 {
		t.Errorf("planOffsets: %+v", offsets)
	}
}

func TestCheckInactive(t *testing.T) {
	for _, tc := range []struct {
		d       kadm.DescribedGroup
		wantErr string
	}{
		{d: kadm.DescribedGroup{State: "Empty"}},
		{d: kadm.DescribedGroup{State: "Dead"}},
		{d: kadm.DescribedGroup{Err: kerr.GroupIDNotFound}},
		{d: kadm.DescribedGroup{State: "Stable", Members: make([]kadm.DescribedGroupMember, 2)},
			wantErr: `group "g" has 2 active members (state Stable); stop them first`},
		{d: kadm.DescribedGroup{Err: kerr.GroupAuthorizationFailed}, wantErr: "not authorized"},
	} {
		err := checkInactive("g", tc.d)
		if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%+v: error %v, want %q", tc.d, err, tc.wantErr)
		}
	}
}

func TestCommitOutcome(t *testing.T) {
	ok := kadm.OffsetResponses{"t": {0: {Offset: kadm.Offset{Topic: "t", Partition: 0, At: 1}}}}
	if err := commitOutcome(ok); err != nil {
		t.Errorf("all committed: %v", err)
	}
	failed := kadm.OffsetResponses{"t": {
		0: {Offset: kadm.Offset{Topic: "t", Partition: 0}},
		1: {Offset: kadm.Offset{Topic: "t", Partition: 1}, Err: kerr.UnknownMemberID},
	}}
	want := "1 of 2 offsets not committed:\n  t/1: group has active members; stop them first (UNKNOWN_MEMBER_ID: The coordinator is not aware of this member.)"
	if err := commitOutcome(failed); err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestAddClamped(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{5, -9, -4},
		{math.MaxInt64 - 1, 5, math.MaxInt64},
		{10, math.MinInt64, math.MinInt64 + 10},
		{-10, math.MinInt64, math.MinInt64},
	} {
		if got := addClamped(tc.a, tc.b); got != tc.want {
			t.Errorf("addClamped(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
