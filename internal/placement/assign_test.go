package placement

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// cluster builds brokers from "id zone capacity" triples; capacity "od" is
// on-demand, "spot" spot, "-" unknown, and a trailing "d" drains.
func cluster(specs ...string) []Broker {
	var out []Broker
	for _, s := range specs {
		var b Broker
		var zone, capacity, drain string
		n, _ := fmt.Sscan(s, &b.ID, &zone, &capacity, &drain)
		if n < 3 {
			panic("bad broker spec " + s)
		}
		if zone != "-" {
			b.Rack = zone
		}
		switch capacity {
		case "od":
			b.Capacity = "on-demand"
		case "spot":
			b.Capacity = "spot"
		}
		b.Draining = drain == "d"
		out = append(out, b)
	}
	return out
}

// counts returns replicas and leaders per broker.
func counts(lists [][]int32) (load, leaders map[int32]int) {
	load, leaders = map[int32]int{}, map[int32]int{}
	for _, l := range lists {
		for _, id := range l {
			load[id]++
		}
		leaders[l[0]]++
	}
	return load, leaders
}

func TestAssign(t *testing.T) {
	tests := []struct {
		name    string
		brokers []Broker
		n, rf   int
		// each checks the lists; nil checks only what every case must meet.
		check func(t *testing.T, b []Broker, lists [][]int32)
	}{
		{
			name:    "3 zones x 2 brokers, 2 on-demand and 4 spot, rf 3",
			brokers: cluster("1 a od", "2 a spot", "3 b od", "4 b spot", "5 c spot", "6 c spot"),
			n:       60, rf: 3,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				o := newOracle(b)
				for _, l := range lists {
					if _, zones, od := o.shape(l); zones != 3 || !od {
						t.Fatalf("%v spans %d zones, on-demand %v", l, zones, od)
					}
				}
				wantEach(t, lists, []int32{1, 2, 3, 4, 5, 6}, 30, 10)
			},
		},
		{
			name:    "a zone with a single broker gets a third of the replicas",
			brokers: cluster("1 a spot", "2 b spot", "3 b spot", "4 b spot", "5 c spot", "6 c spot", "7 c spot"),
			n:       30, rf: 3,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				load, leaders := counts(lists)
				if load[1] != 30 {
					t.Fatalf("broker 1 holds %d replicas, want one per partition", load[1])
				}
				wantEach(t, lists, []int32{2, 3, 4, 5, 6, 7}, 10, -1)
				for id := int32(1); id <= 7; id++ {
					if leaders[id] < 4 || leaders[id] > 5 {
						t.Fatalf("leaders %v, want 30/7 each", leaders)
					}
				}
			},
		},
		{
			name:    "rf greater than zones",
			brokers: cluster("1 a spot", "2 a spot", "3 a spot", "4 b spot", "5 b spot", "6 b spot"),
			n:       12, rf: 3,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				o := newOracle(b)
				for _, l := range lists {
					if m, zones, _ := o.shape(l); zones != 2 || m != 2 {
						t.Fatalf("%v: %d zones, %d in one; want 2 and 2", l, zones, m)
					}
				}
				wantEach(t, lists, []int32{1, 2, 3, 4, 5, 6}, 6, 2)
			},
		},
		{
			name:    "no on-demand brokers",
			brokers: cluster("1 a spot", "2 b -", "3 c spot", "4 a -"),
			n:       8, rf: 2,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				wantEach(t, lists, []int32{1, 2, 3, 4}, 4, 2)
			},
		},
		{
			name:    "all brokers in one zone",
			brokers: cluster("1 - od", "2 - spot", "3 - spot", "4 - spot"),
			n:       8, rf: 3,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				load, _ := counts(lists)
				if load[1] != 8 {
					t.Fatalf("on-demand broker 1 holds %d, want all 8 partitions", load[1])
				}
				wantEach(t, lists, []int32{2, 3, 4}, 16.0/3, -1)
			},
		},
		{
			name:    "rf 1 goes to on-demand brokers",
			brokers: cluster("1 a od", "2 a spot", "3 b od", "4 b spot"),
			n:       10, rf: 1,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				wantEach(t, lists, []int32{1, 3}, 5, 5)
			},
		},
		{
			name:    "rf 1 without on-demand brokers",
			brokers: cluster("1 a spot", "2 b spot", "3 c spot"),
			n:       9, rf: 1,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				wantEach(t, lists, []int32{1, 2, 3}, 3, 3)
			},
		},
		{
			name:    "draining brokers get nothing",
			brokers: cluster("1 a od d", "2 a spot", "3 b od", "4 b spot", "5 c spot d", "6 c spot"),
			n:       12, rf: 3,
			check: func(t *testing.T, b []Broker, lists [][]int32) {
				load, _ := counts(lists)
				if load[1]+load[5] != 0 {
					t.Fatalf("draining brokers got replicas: %v", lists)
				}
				if load[3] != 12 {
					t.Fatalf("the only eligible on-demand broker holds %d of 12", load[3])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lists, err := Assign(tt.brokers, nil, tt.n, tt.rf, 7)
			if err != nil {
				t.Fatal(err)
			}
			o := newOracle(tt.brokers)
			for _, l := range lists {
				if len(l) != tt.rf || !o.ok(l) {
					t.Fatalf("%v breaks the rules", l)
				}
			}
			checkBalanced(t, tt.name, o, lists)
			tt.check(t, tt.brokers, lists)
		})
	}
}

// wantEach checks that each of ids holds replicas (and leads leaders, unless
// -1) within one of the given mean.
func wantEach(t *testing.T, lists [][]int32, ids []int32, replicas float64, leaders int) {
	t.Helper()
	load, lead := counts(lists)
	for _, id := range ids {
		if d := float64(load[id]) - replicas; d <= -1 || d >= 1 {
			t.Fatalf("broker %d holds %d replicas, want %.1f: %v", id, load[id], replicas, load)
		}
		if leaders >= 0 && lead[id] != leaders {
			t.Fatalf("broker %d leads %d, want %d: %v", id, lead[id], leaders, lead)
		}
	}
}

func TestAssignErrors(t *testing.T) {
	three := cluster("1 a od", "2 b spot", "3 c spot d")
	tests := []struct {
		name      string
		brokers   []Broker
		n, rf     int
		notEnough bool
	}{
		{"rf 0", three, 1, 0, false},
		{"negative rf", three, 1, -1, false},
		{"negative n", three, -1, 1, false},
		{"no brokers", nil, 1, 1, true},
		{"draining brokers do not count", three, 1, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Assign(tt.brokers, nil, tt.n, tt.rf, 1)
			if err == nil || errors.Is(err, ErrNotEnoughBrokers) != tt.notEnough {
				t.Fatalf("err = %v, want ErrNotEnoughBrokers: %v", err, tt.notEnough)
			}
		})
	}
	if lists, err := Assign(three, nil, 0, 2, 1); err != nil || len(lists) != 0 {
		t.Fatalf("no partitions: %v, %v", lists, err)
	}
}

// TestAssignBalancesAgainstExisting checks that new partitions go where
// existing ones are not, and lead where they do not lead.
func TestAssignBalancesAgainstExisting(t *testing.T) {
	brokers := cluster("1 a spot", "2 b spot", "3 c spot", "4 a spot", "5 b spot", "6 c spot")
	var existing []Partition
	for p := range 6 {
		existing = append(existing, Partition{"old", int32(p), []int32{1, 2, 3}})
	}
	lists, err := Assign(brokers, existing, 6, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lists {
		if !sameSet(l, []int32{4, 5, 6}) {
			t.Fatalf("new partitions %v, want all on 4, 5 and 6", lists)
		}
	}
	wantEach(t, lists, []int32{4, 5, 6}, 6, 2)
}

// TestAssignSeeds checks that the seed spreads the leaders of one-partition
// topics, and that a seed always gives the same answer.
func TestAssignSeeds(t *testing.T) {
	brokers := cluster("1 a spot", "2 b spot", "3 c spot", "4 a spot", "5 b spot", "6 c spot")
	leaders := map[int32]bool{}
	for seed := range uint64(30) {
		a, _ := Assign(brokers, nil, 1, 3, seed)
		b, _ := Assign(brokers, nil, 1, 3, seed)
		if !slices.Equal(a[0], b[0]) {
			t.Fatalf("seed %d: %v then %v", seed, a, b)
		}
		leaders[a[0][0]] = true
	}
	if len(leaders) < 4 {
		t.Fatalf("30 seeds led on %v only", leaders)
	}
}
