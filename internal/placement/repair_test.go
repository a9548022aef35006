package placement

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// nineBrokers is 3 zones x 3 brokers, one on-demand per zone (1, 4, 7).
var nineBrokers = cluster("1 a od", "2 a spot", "3 a spot", "4 b od", "5 b spot", "6 b spot", "7 c od", "8 c spot", "9 c spot")

// assigned returns n partitions of topic t placed by Assign.
func assigned(t *testing.T, brokers []Broker, topic string, n, rf int) []Partition {
	t.Helper()
	lists, err := Assign(brokers, nil, n, rf, 3)
	if err != nil {
		t.Fatal(err)
	}
	var out []Partition
	for i, l := range lists {
		out = append(out, Partition{topic, int32(i), l})
	}
	return out
}

func without(brokers []Broker, id int32) []Broker {
	return slices.DeleteFunc(slices.Clone(brokers), func(b Broker) bool { return b.ID == id })
}

// changedReplicas returns the brokers of to that are not in from.
func changedReplicas(from, to []int32) []int32 {
	var out []int32
	for _, id := range to {
		if !slices.Contains(from, id) {
			out = append(out, id)
		}
	}
	return out
}

func TestRepairFixes(t *testing.T) {
	tests := []struct {
		name    string
		brokers []Broker
		orig    []int32
		keep    []int32 // replicas that must stay
		changes int     // replicas replaced
		addFrom []int32 // where replacements may come from; nil: anywhere the rules allow
		reason  string  // part of the move's reason
		ok      bool    // whether the result meets the rules
	}{
		{
			name:    "no on-demand replica: one spot replica swapped in its zone",
			brokers: nineBrokers, orig: []int32{2, 5, 8}, changes: 1, addFrom: []int32{1, 4, 7},
			reason: "no on-demand replica", ok: true,
		},
		{
			name:    "the only on-demand replica drains: it is the one replaced",
			brokers: cluster("1 a od d", "2 a od", "3 a spot", "4 b spot", "5 c spot"),
			orig:    []int32{4, 1, 5}, keep: []int32{4, 5}, changes: 1, addFrom: []int32{2},
			reason: "only on-demand replica is on draining broker 1", ok: true,
		},
		{
			name:    "two replicas in one zone: the follower moves to the missing zone",
			brokers: nineBrokers, orig: []int32{1, 2, 5}, keep: []int32{1, 5}, changes: 1, addFrom: []int32{7, 8, 9},
			reason: "zone a holds 2 of 3", ok: true,
		},
		{
			name:    "three replicas in one zone: two move",
			brokers: nineBrokers, orig: []int32{1, 2, 3}, keep: []int32{1}, changes: 2, addFrom: []int32{4, 5, 6, 7, 8, 9},
			reason: "replicas span 1 zones, 3 available", ok: true,
		},
		{
			name:    "a dead replica is replaced in its zone",
			brokers: without(nineBrokers, 8), orig: []int32{1, 5, 8}, keep: []int32{1, 5}, changes: 1, addFrom: []int32{7, 9},
			reason: "replica on dead broker 8", ok: true,
		},
		{
			name:    "a dead on-demand replica whose zone has no other: two changes",
			brokers: without(nineBrokers, 4), orig: []int32{2, 4, 8}, changes: 2,
			reason: "replica on dead broker 4", ok: true,
		},
		{
			name:    "a broker listed twice",
			brokers: nineBrokers, orig: []int32{1, 5, 1}, keep: []int32{1, 5}, changes: 1, addFrom: []int32{7, 8, 9},
			reason: "broker 1 listed twice", ok: true,
		},
		{
			name:    "the rules cannot be met: the dead replica is still replaced",
			brokers: cluster("1 a spot", "2 a spot"), orig: []int32{1, 8, 9}, keep: []int32{1}, changes: 1, addFrom: []int32{2},
			reason: "replica on dead broker 8; rules 1 and 2 cannot be met",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moves := Repair(tt.brokers, []Partition{{"t", 0, tt.orig}}, 1, 0)
			if len(moves) != 1 {
				t.Fatalf("moves %+v, want one", moves)
			}
			m := moves[0]
			added := changedReplicas(tt.orig, m.Replicas)
			if len(added) != tt.changes {
				t.Fatalf("%v moved to %v, want %d replaced", tt.orig, m.Replicas, tt.changes)
			}
			for _, id := range added {
				if tt.addFrom != nil && !slices.Contains(tt.addFrom, id) {
					t.Fatalf("%v moved to %v, want additions from %v", tt.orig, m.Replicas, tt.addFrom)
				}
			}
			for _, id := range tt.keep {
				if !slices.Contains(m.Replicas, id) {
					t.Fatalf("%v moved to %v, want %d kept", tt.orig, m.Replicas, id)
				}
			}
			if ok := newOracle(tt.brokers).ok(m.Replicas); ok != tt.ok {
				t.Fatalf("%v meets the rules: %v, want %v", m.Replicas, ok, tt.ok)
			}
			if !strings.Contains(m.Reason, tt.reason) {
				t.Fatalf("reason %q, want it to contain %q", m.Reason, tt.reason)
			}
			// Replacements take the slot of what they replace.
			for s, id := range tt.orig {
				if slices.Index(tt.orig, id) == s && slices.Contains(m.Replicas, id) && m.Replicas[s] != id && !strings.Contains(m.Reason, "leads") {
					t.Fatalf("%v became %v: kept replicas moved", tt.orig, m.Replicas)
				}
			}
		})
	}
}

// TestRepairDeadBroker kills a broker of a balanced cluster: every
// partition it held gets exactly one replica replaced, in the same zone
// (rule 2 wants it there), and nothing else changes but leader order.
func TestRepairDeadBroker(t *testing.T) {
	parts := assigned(t, nineBrokers, "t", 90, 3)
	if moves := Repair(nineBrokers, parts, 1, 0); len(moves) > 0 {
		t.Fatalf("balanced assignment repaired: %v", moves)
	}
	brokers := without(nineBrokers, 5)
	moves := Repair(brokers, parts, 1, 0)
	held := 0
	for _, p := range parts {
		if slices.Contains(p.Replicas, 5) {
			held++
		}
	}
	setChanges := 0
	for _, m := range moves {
		orig := parts[m.Partition].Replicas
		added := changedReplicas(orig, m.Replicas)
		if !slices.Contains(orig, 5) {
			if len(added) > 0 {
				t.Fatalf("%v, without broker 5, moved to %v", orig, m.Replicas)
			}
			continue
		}
		setChanges++
		if len(added) != 1 || (added[0] != 4 && added[0] != 6) || !strings.Contains(m.Reason, "replica on dead broker 5") {
			t.Fatalf("%v moved to %v (%s), want 5 replaced by 4 or 6", orig, m.Replicas, m.Reason)
		}
	}
	if setChanges != held {
		t.Fatalf("%d of %d partitions on broker 5 repaired", setChanges, held)
	}
	after := apply(t, "", parts, moves)
	load, leaders := counts(lists(after))
	if load[4] != 45 || load[6] != 45 {
		t.Fatalf("zone b's brokers hold %v", load)
	}
	for id, n := range leaders {
		if n < 11 || n > 12 {
			t.Fatalf("broker %d leads %d, want 90/8: %v", id, n, leaders)
		}
	}
	if again := Repair(brokers, after, 2, 0); len(again) > 0 {
		t.Fatalf("repaired twice: %v", again)
	}
}

func lists(parts []Partition) [][]int32 {
	var out [][]int32
	for _, p := range parts {
		out = append(out, p.Replicas)
	}
	return out
}

// TestRepairNewBroker adds an empty broker: replicas move to it, one per
// move, until it is within one of the others, and leaders follow.
func TestRepairNewBroker(t *testing.T) {
	parts := assigned(t, nineBrokers[:6], "t", 60, 2) // zones a and b, 20 each
	brokers := append(slices.Clone(nineBrokers[:6]), Broker{ID: 10, Rack: "b", Capacity: "spot"})
	moves := Repair(brokers, parts, 1, 0)
	for _, m := range moves {
		orig := parts[m.Partition].Replicas
		if added := changedReplicas(orig, m.Replicas); len(added) > 1 || len(added) == 1 && added[0] != 10 {
			t.Fatalf("%v moved to %v", orig, m.Replicas)
		}
	}
	after := apply(t, "", parts, moves)
	// Every partition has one replica per zone and one on 1 or 4, the
	// on-demand brokers, so those hold 30 each and zone b's spot brokers
	// share the other 30.
	load, _ := counts(lists(after))
	if want := map[int32]int{1: 30, 2: 15, 3: 15, 4: 30, 5: 10, 6: 10, 10: 10}; !maps.Equal(load, want) {
		t.Fatalf("loads %v, want %v", load, want)
	}
	checkLeaders(t, "", newOracle(brokers), lists(after))
	if again := Repair(brokers, after, 2, 0); len(again) > 0 {
		t.Fatalf("repaired twice: %v", again)
	}
	// With a limit, at most that many replica sets change per call, and
	// calls until none is left reach the same balance.
	cur := parts
	for range 100 {
		step := Repair(brokers, cur, 1, 2)
		sets := 0
		for _, m := range step {
			if !sameSet(m.Replicas, cur[m.Partition].Replicas) {
				sets++
			}
		}
		if sets > 2 {
			t.Fatalf("%d replica sets changed with limit 2", sets)
		}
		if len(step) == 0 {
			break
		}
		cur = apply(t, "", cur, step)
	}
	if again := Repair(brokers, cur, 2, 0); len(again) > 0 {
		t.Fatalf("limited repairs did not converge: %v", again)
	}
}

func TestRepairLeaders(t *testing.T) {
	brokers := cluster("1 a od d", "2 b spot", "3 c spot")
	parts := []Partition{{"t", 0, []int32{1, 2, 3}}, {"t", 1, []int32{2, 3, 1}}}
	moves := Repair(brokers, parts, 1, 0)
	if len(moves) != 1 || moves[0].Partition != 0 || moves[0].Replicas[0] != 3 || !sameSet(moves[0].Replicas, parts[0].Replicas) ||
		moves[0].Reason != "preferred leader 1 is draining" {
		t.Fatalf("moves %+v, want partition 0 led by 3 (2 leads partition 1)", moves)
	}
	// Reorderings are not limited.
	var many []Partition
	for p := range 10 {
		many = append(many, Partition{"t", int32(p), []int32{1, 2, 3}})
	}
	if moves := Repair(brokers, many, 1, 1); len(moves) != 10 {
		t.Fatalf("%d moves, want 10 reorders", len(moves))
	}
}

func TestViolations(t *testing.T) {
	brokers := cluster("1 a od d", "2 a od", "3 a spot", "4 b spot", "5 c spot", "6 - spot")
	parts := []Partition{
		{"ok", 0, []int32{2, 4, 5}},
		{"pair", 0, []int32{1, 2, 4}}, // 4 zones: at most 1 per zone
		{"dead", 0, []int32{2, 4, 9}},
		{"twice", 0, []int32{2, 4, 4}},
		{"spot", 0, []int32{3, 4, 5}},
		{"drain", 0, []int32{1, 4, 5}},
		{"zones", 0, []int32{6, 2, 3}},
	}
	got := Violations(brokers, parts)
	var lines []string
	for _, v := range got {
		lines = append(lines, fmt.Sprintf("%s/%d rule %d: %s", v.Topic, v.Partition, v.Rule, v.Reason))
	}
	want := []string{
		"dead/0 rule 0: replica on dead broker 9",
		"drain/0 rule 1: only on-demand replica is on draining broker 1",
		"pair/0 rule 2: zone a holds 2 of 3",
		"pair/0 rule 2: replicas span 2 zones, 3 available",
		"spot/0 rule 1: no on-demand replica",
		"twice/0 rule 0: broker 4 listed twice",
		`zones/0 rule 2: zone a holds 2 of 3`,
		`zones/0 rule 2: replicas span 2 zones, 3 available`,
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestAddReplica(t *testing.T) {
	brokers := cluster("1 a od d", "2 a od", "3 a spot", "4 b spot", "5 b od", "6 c spot")
	tests := []struct {
		name     string
		replicas []int32
		exclude  []int32
		want     int32
	}{
		{"stands in for a draining on-demand replica in its zone", []int32{1, 4, 6}, nil, 2},
		{"on-demand elsewhere when the zone's is excluded", []int32{1, 4, 6}, []int32{2}, 5},
		{"an extra replica in the missing zone", []int32{2, 3, 4}, nil, 6},
		{"an extra replica, on the lowest id when all else is equal", []int32{2, 4, 6}, nil, 3},
		{"nothing left", []int32{2, 3, 4}, []int32{5, 6}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AddReplica(brokers, nil, tt.replicas, tt.exclude); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRepairOddInput checks inputs the callers should not send but might.
func TestRepairOddInput(t *testing.T) {
	brokers := append(cluster("1 a od", "2 b spot", "3 c spot"), Broker{ID: 1, Rack: "z"})
	parts := []Partition{{"empty", 0, nil}, {"t", 0, []int32{1, 2, 3}}, {"t", 0, []int32{1, 2, 3}}}
	if moves := Repair(brokers, parts, 1, 0); len(moves) > 0 {
		t.Fatalf("moves %v", moves)
	}
	if v := Violations(brokers, parts); len(v) > 0 {
		t.Fatalf("violations %v", v)
	}
	if moves := Repair(nil, parts[1:2], 1, 0); len(moves) > 0 {
		t.Fatalf("no brokers: moves %v", moves)
	}
	if got := AddReplica(nil, nil, nil, nil); got != -1 {
		t.Fatalf("no brokers: AddReplica %d", got)
	}
}
