package quorum

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

const grace = time.Minute

// voter returns a voter run by host (-1: none, down since t0).
func voter(id uint64, host int32) Member {
	m := Member{ID: id, Name: "m", Host: host}
	if host < 0 {
		m.DownSince = t0
	}
	return m
}

func learner(id uint64, host int32) Member {
	m := voter(id, host)
	m.Learner = true
	return m
}

// od and spot return a broker that can host a member, in rack, running
// member (0: none).
func od(id int32, rack string, member uint64) Broker {
	return Broker{ID: id, Rack: rack, OnDemand: true, CanHost: true, Member: member}
}

func spot(id int32, rack string, member uint64) Broker {
	return Broker{ID: id, Rack: rack, Spot: true, CanHost: true, Member: member}
}

func draining(b Broker) Broker { b.Draining = true; return b }

func client(id int32, rack string) Broker { return Broker{ID: id, Rack: rack, OnDemand: true} }

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []Member
		brokers []Broker
		now     time.Time
		want    Action
	}{
		{
			name:    "healthy",
			members: []Member{voter(1, 0), voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(0, "a", 1), od(1, "b", 2), od(2, "c", 3), od(3, "a", 0)},
			now:     t0.Add(time.Hour),
			want:    Action{},
		},
		{
			name:    "a voter down within grace is left alone",
			members: []Member{voter(1, -1), voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(1, "b", 2), od(2, "c", 3), od(3, "a", 0)},
			now:     t0.Add(grace - time.Second),
			want:    Action{},
		},
		{
			name:    "a voter down for grace is removed first",
			members: []Member{voter(1, -1), voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(1, "b", 2), od(2, "c", 3), od(3, "a", 0)},
			now:     t0.Add(grace),
			want:    Action{Kind: Remove, Member: 1},
		},
		{
			name:    "then a learner is added on the best broker",
			members: []Member{voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(1, "b", 2), od(2, "c", 3), spot(4, "a", 0), od(5, "b", 0), od(6, "a", 0), client(7, "a")},
			now:     t0.Add(grace),
			want:    Action{Kind: Add, Broker: 6},
		},
		{
			name:    "a started learner is promoted",
			members: []Member{voter(2, 1), voter(3, 2), learner(4, 6)},
			brokers: []Broker{od(1, "b", 2), od(2, "c", 3), od(6, "a", 4)},
			now:     t0,
			want:    Action{Kind: Promote, Member: 4},
		},
		{
			name:    "nothing else while a learner starts",
			members: []Member{voter(1, -1), voter(3, 2), learner(4, -1)},
			brokers: []Broker{od(2, "c", 3), od(6, "a", 0)},
			now:     t0.Add(grace - time.Second),
			want:    Action{},
		},
		{
			name:    "a learner never started is removed",
			members: []Member{voter(2, 1), voter(3, 2), learner(4, -1)},
			brokers: []Broker{od(1, "b", 2), od(2, "c", 3), od(6, "a", 0)},
			now:     t0.Add(grace),
			want:    Action{Kind: Remove, Member: 4},
		},
		{
			name:    "the last voter is never removed",
			members: []Member{voter(1, -1)},
			brokers: []Broker{od(3, "a", 0)},
			now:     t0.Add(time.Hour),
			want:    Action{},
		},
		{
			name:    "on-demand replaces spot",
			members: []Member{voter(1, 0), voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(0, "a", 1), spot(1, "b", 2), od(2, "c", 3), od(5, "b", 0)},
			now:     t0,
			want:    Action{Kind: Add, Broker: 5},
		},
		{
			name:    "spot does not replace spot",
			members: []Member{voter(1, 0), voter(2, 1), voter(3, 2)},
			brokers: []Broker{spot(0, "a", 1), spot(1, "b", 2), spot(2, "c", 3), spot(5, "d", 0)},
			now:     t0,
			want:    Action{},
		},
		{
			name:    "a free zone replaces a shared one",
			members: []Member{voter(1, 0), voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(0, "a", 1), od(1, "a", 2), od(2, "b", 3), od(5, "c", 0)},
			now:     t0,
			want:    Action{Kind: Add, Broker: 5},
		},
		{
			name:    "a draining host is replaced",
			members: []Member{voter(1, 0), voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(0, "a", 1), draining(od(1, "b", 2)), od(2, "c", 3), spot(5, "b", 0)},
			now:     t0,
			want:    Action{Kind: Add, Broker: 5},
		},
		{
			name:    "after a replacement the worst voter leaves",
			members: []Member{voter(1, 0), voter(2, 1), voter(3, 2), voter(4, 5)},
			brokers: []Broker{od(0, "a", 1), spot(1, "b", 2), od(2, "c", 3), od(5, "b", 4)},
			now:     t0,
			want:    Action{Kind: Remove, Member: 2},
		},
		{
			name:    "fewer voters and nobody to host: wait",
			members: []Member{voter(2, 1), voter(3, 2)},
			brokers: []Broker{od(1, "b", 2), od(2, "c", 3), client(7, "a")},
			now:     t0,
			want:    Action{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.members, tc.brokers, 3, grace, tc.now)
			got.Reason = ""
			if got != tc.want {
				t.Errorf("Plan = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestPlanConverges applies plans to random fleets until none is left,
// as the manager does, and checks the properties that matter: it ends
// (no flapping), never removes the last voter, never adds a second
// learner, and ends with as many hosted voters as the fleet allows, on
// on-demand brokers when enough exist.
func TestPlanConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 500 {
		n := 1 + rng.IntN(7)
		var brokers []Broker
		for id := range int32(n) {
			b := Broker{ID: id, Rack: string(rune('a' + rng.IntN(3))), CanHost: rng.IntN(4) > 0}
			switch rng.IntN(3) {
			case 0:
				b.OnDemand = true
			case 1:
				b.Spot = true
			}
			brokers = append(brokers, b)
		}
		// Start from a quorum of up to three members, a majority of them
		// live (without one, nothing can change), the others on brokers
		// that are gone.
		var members []Member
		nextID := uint64(1)
		size := 1 + rng.IntN(3)
		for i := range size {
			m := Member{ID: nextID, Host: -1, DownSince: t0}
			nextID++
			if i <= size/2 || rng.IntN(2) == 0 {
				brokers = append(brokers, Broker{ID: int32(100 + i), Rack: "z", CanHost: true, Spot: true, Member: m.ID})
				m.Host, m.DownSince = int32(100+i), time.Time{}
			}
			members = append(members, m)
		}
		now := t0.Add(2 * grace)
		for step := 0; ; step++ {
			if step > 50 {
				t.Fatalf("run %d: no convergence after 50 steps: %+v %+v", run, members, brokers)
			}
			a := Plan(members, brokers, 3, grace, now)
			switch a.Kind {
			case None:
			case Remove:
				if voters := countVoters(members); voters == 1 && !isLearner(members, a.Member) {
					t.Fatalf("run %d: removed the last voter", run)
				}
				for i, b := range brokers {
					if b.Member == a.Member {
						brokers[i].Member = 0
					}
				}
				members = deleteMember(members, a.Member)
				continue
			case Add:
				for _, m := range members {
					if m.Learner {
						t.Fatalf("run %d: a second learner", run)
					}
				}
				members = append(members, Member{ID: nextID, Learner: true, Host: a.Broker})
				for i := range brokers {
					if brokers[i].ID == a.Broker {
						brokers[i].Member = nextID
					}
				}
				nextID++
				continue
			case Promote:
				for i := range members {
					if members[i].ID == a.Member {
						members[i].Learner = false
					}
				}
				continue
			}
			break
		}
		hosts, onDemand, capable := 0, 0, 0
		for _, b := range brokers {
			if b.CanHost {
				capable++
				if b.OnDemand {
					onDemand++
				}
			}
		}
		for _, m := range members {
			if m.Host >= 0 {
				hosts++
			}
		}
		if voters := countVoters(members); hosts != len(members) || voters != min(3, capable) {
			t.Fatalf("run %d: %d hosted voters, %d capable brokers: %+v %+v", run, hosts, capable, members, brokers)
		}
		odVoters := 0
		for _, m := range members {
			for _, b := range brokers {
				if b.ID == m.Host && b.OnDemand {
					odVoters++
				}
			}
		}
		if odVoters < min(onDemand, 3) {
			t.Fatalf("run %d: %d voters on on-demand brokers, %d could host: %+v %+v", run, odVoters, onDemand, members, brokers)
		}
	}
}

func countVoters(members []Member) int {
	n := 0
	for _, m := range members {
		if !m.Learner {
			n++
		}
	}
	return n
}

func isLearner(members []Member, id uint64) bool {
	for _, m := range members {
		if m.ID == id {
			return m.Learner
		}
	}
	return false
}

func deleteMember(members []Member, id uint64) []Member {
	var out []Member
	for _, m := range members {
		if m.ID != id {
			out = append(out, m)
		}
	}
	return out
}
