package partition

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestHighWatermark(t *testing.T) {
	fs := func(offsets map[int32]int64) map[int32]*follower {
		m := map[int32]*follower{}
		for id, off := range offsets {
			m[id] = &follower{fetchOffset: off}
		}
		return m
	}
	onDir := func(fs map[int32]*follower, id int32, dir string) map[int32]*follower {
		fs[id].dir = dir
		return fs
	}
	recorded := map[int32]string{2: "d2"}
	tests := []struct {
		name      string
		durable   int64
		self      int32
		isr       []int32
		followers map[int32]*follower
		dirs      map[int32]string
		want      int64
	}{
		{"sole replica", 10, 1, []int32{1}, nil, nil, 10},
		{"no ids known", 10, -1, nil, nil, nil, 10},
		{"followers ahead of durable leader", 10, 1, []int32{1, 2, 3}, fs(map[int32]int64{2: 12, 3: 15}), nil, 10},
		{"slowest follower", 10, 1, []int32{1, 2, 3}, fs(map[int32]int64{2: 7, 3: 9}), nil, 7},
		{"out-of-ISR follower ignored", 10, 1, []int32{1, 2}, fs(map[int32]int64{2: 9, 3: 0}), nil, 9},
		{"ISR member not fetched yet", 10, 1, []int32{1, 2}, fs(map[int32]int64{2: -1}), nil, -1},
		{"ISR member unknown", 10, 1, []int32{1, 4}, fs(map[int32]int64{2: 9}), nil, -1},
		{"leader not in ISR still counts its durable offset", 5, 1, []int32{2}, fs(map[int32]int64{2: 9}), nil, 5},
		{"member fetching for its recorded copy", 10, 1, []int32{1, 2}, onDir(fs(map[int32]int64{2: 9}), 2, "d2"), recorded, 9},
		{"member fetching for another copy holds it", 10, 1, []int32{1, 2}, onDir(fs(map[int32]int64{2: 9}), 2, "fresh"), recorded, -1},
		{"member naming no copy holds a recorded one", 10, 1, []int32{1, 2}, fs(map[int32]int64{2: 9}), recorded, -1},
		{"unrecorded copy holds it until recorded", 10, 1, []int32{1, 2}, onDir(fs(map[int32]int64{2: 9}), 2, "d2"), nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := highWatermark(tt.durable, tt.self, tt.isr, tt.followers, tt.dirs); got != tt.want {
				t.Errorf("highWatermark = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestMayCommit checks the strict min ISR rule (KIP-966): no commits
// below min.insync.replicas (capped at the replication factor), while
// eligible replicas wait to be cleared, or before the leader's own copy
// is recorded.
func TestMayCommit(t *testing.T) {
	for _, tc := range []struct {
		name         string
		isr, elr     []int32
		replicas     int
		minISR       int
		selfRecorded bool
		want         bool
	}{
		{"at min ISR", []int32{1, 2}, nil, 3, 2, true, true},
		{"below min ISR", []int32{1}, nil, 3, 2, true, false},
		{"min ISR capped at the replication factor", []int32{1}, nil, 1, 2, true, true},
		{"eligible replicas pending", []int32{1, 2}, []int32{3}, 3, 2, true, false},
		{"own copy not recorded", []int32{1, 2}, nil, 3, 1, false, false},
		{"empty ISR", nil, nil, 3, 1, true, false},
	} {
		if got := mayCommit(tc.isr, tc.elr, tc.replicas, tc.minISR, tc.selfRecorded); got != tc.want {
			t.Errorf("%s: mayCommit = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFollowerCaughtUp drives Kafka's lastCaughtUpTimeMs rule with a fake
// clock: a fetch at the leader's log end catches up now; one that reaches
// the log end of the previous fetch catches up as of that fetch.
func TestFollowerCaughtUp(t *testing.T) {
	type fetch struct {
		at        int
		offset    int64
		leaderEnd int64
	}
	tests := []struct {
		name    string
		inISR   bool
		fetches []fetch
		want    time.Time
	}{
		{"ISR member starts caught up", true, nil, at(0)},
		{"non-member starts never caught up", false, nil, time.Time{}},
		{"at the log end", false, []fetch{{100, 10, 10}}, at(100)},
		{"behind, first fetch", false, []fetch{{100, 5, 10}}, time.Time{}},
		{"reached previous fetch's end", false, []fetch{{100, 5, 10}, {200, 10, 20}}, at(100)},
		{"still behind previous end", false, []fetch{{100, 5, 10}, {200, 9, 20}}, time.Time{}},
		{"keeps the latest", true, []fetch{{100, 10, 10}, {200, 10, 30}}, at(100)},
		{"steady stream, one round behind", false, []fetch{{100, 0, 10}, {200, 10, 20}, {300, 20, 30}}, at(200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFollower(tt.inISR, at(0))
			for _, fe := range tt.fetches {
				f.fetched(fe.offset, fe.leaderEnd, at(fe.at))
			}
			if !f.lastCaughtUp.Equal(tt.want) {
				t.Errorf("lastCaughtUp = %v, want %v", f.lastCaughtUp, tt.want)
			}
		})
	}
}

func TestOutOfSync(t *testing.T) {
	lag := 1000 * time.Millisecond
	followers := map[int32]*follower{
		2: {lastCaughtUp: at(0)},
		3: {lastCaughtUp: at(500)},
		4: {lastCaughtUp: at(1500)},
		6: {lastCaughtUp: at(400), lastFetch: at(900)}, // fetching, not caught up
		7: {lastCaughtUp: at(600), lastFetch: at(600)},
	}
	leaving := func(ids ...int32) func(int32) bool {
		return func(id int32) bool { return slices.Contains(ids, id) }
	}
	tests := []struct {
		name    string
		now     int
		isr     []int32
		leaving func(int32) bool
		want    []int32
	}{
		{"all within lag", 1000, []int32{1, 2, 3, 4}, nil, nil},
		{"one past lag", 1001, []int32{1, 2, 3, 4}, nil, []int32{2}},
		{"two past lag", 1600, []int32{1, 2, 3, 4}, nil, []int32{2, 3}},
		{"only members", 1600, []int32{1, 3}, nil, []int32{3}},
		{"unknown follower", 1600, []int32{1, 5}, nil, []int32{5}},
		{"the leader never leaves", 9000, []int32{1}, nil, nil},
		{"leaving, never fetched this term", 1000, []int32{1, 3, 4}, leaving(3, 4), nil},
		{"leaving and silent", 1000, []int32{1, 7}, leaving(7), []int32{7}},
		{"leaving, heard from within the silence", 1000, []int32{1, 6}, leaving(6), nil},
		{"leaving, silent since its last fetch", 1300, []int32{1, 6}, leaving(6), []int32{6}},
		{"silent but not leaving", 1300, []int32{1, 6}, leaving(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := ISRRules{LagMax: lag, Leaving: tt.leaving, LeavingSilence: 300 * time.Millisecond}
			if got := outOfSync(1, tt.isr, followers, at(tt.now), rules); !slices.Equal(got, tt.want) {
				t.Errorf("outOfSync(now=%d, isr=%v) = %v, want %v", tt.now, tt.isr, got, tt.want)
			}
		})
	}
}

func TestCanJoin(t *testing.T) {
	tests := []struct {
		name       string
		f          *follower
		hw         int64
		epochStart int64
		want       bool
	}{
		{"unknown", nil, 0, 0, false},
		{"not fetched", &follower{fetchOffset: -1}, 0, 0, false},
		{"at hw", &follower{fetchOffset: 10}, 10, 5, true},
		{"past hw", &follower{fetchOffset: 12}, 10, 5, true},
		{"below hw", &follower{fetchOffset: 9}, 10, 5, false},
		{"below epoch start", &follower{fetchOffset: 10}, 10, 11, false},
	}
	for _, tt := range tests {
		if got := canJoin(tt.f, tt.hw, tt.epochStart); got != tt.want {
			t.Errorf("%s: canJoin = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWithISRChange(t *testing.T) {
	got := withISRChange([]int32{1, 2, 3}, []int32{2}, []int32{4, 3})
	if want := []int32{1, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("withISRChange = %v, want %v", got, want)
	}
}
