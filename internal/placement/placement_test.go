package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRackAlternating(t *testing.T) {
	brokers := []Broker{{0, "a"}, {1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "b"}}
	order, _, racks := rackAlternating(brokers)
	if want := []int32{0, 3, 1, 4, 2, 5}; !slices.Equal(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	if racks != 2 {
		t.Fatalf("racks = %d, want 2", racks)
	}
}

func TestAssignExamples(t *testing.T) {
	tests := []struct {
		name          string
		brokers       []Broker
		partitions    int
		rf            int
		start, shift  int
		want          [][]int32
		wantErrTarget error
	}{
		{
			name:    "single broker",
			brokers: []Broker{{ID: 0}}, partitions: 3, rf: 1,
			want: [][]int32{{0}, {0}, {0}},
		},
		{
			name:    "seed example, two racks",
			brokers: []Broker{{0, "a"}, {1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "b"}}, partitions: 6, rf: 2,
			want: [][]int32{{0, 3}, {3, 1}, {1, 4}, {4, 2}, {2, 5}, {5, 0}},
		},
		{
			name:    "too few brokers",
			brokers: []Broker{{ID: 0}, {ID: 1}}, partitions: 1, rf: 3,
			wantErrTarget: ErrNotEnoughBrokers,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Assign(tt.brokers, tt.partitions, tt.rf, tt.start, tt.shift, 0)
			if tt.wantErrTarget != nil {
				if !errors.Is(err, tt.wantErrTarget) {
					t.Fatalf("err = %v, want %v", err, tt.wantErrTarget)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAssignProperties checks, over many random clusters, that every
// partition gets distinct brokers spanning as many racks as possible and
// that leadership is spread evenly.
func TestAssignProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		nBrokers := 1 + rng.IntN(12)
		nRacks := 1 + rng.IntN(4)
		var brokers []Broker
		for i := range nBrokers {
			brokers = append(brokers, Broker{ID: int32(i * 3), Rack: fmt.Sprintf("r%d", rng.IntN(nRacks))})
		}
		racks := map[string]bool{}
		for _, b := range brokers {
			racks[b.Rack] = true
		}
		rf := 1 + rng.IntN(nBrokers)
		partitions := 1 + rng.IntN(40)
		got, err := Assign(brokers, partitions, rf, rng.IntN(100), rng.IntN(100), 0)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		leaders := map[int32]int{}
		for p, replicas := range got {
			if len(replicas) != rf {
				t.Fatalf("iter %d partition %d: %d replicas, want %d", iter, p, len(replicas), rf)
			}
			seen := map[int32]bool{}
			spanned := map[string]bool{}
			for _, id := range replicas {
				if seen[id] {
					t.Fatalf("iter %d partition %d: broker %d twice in %v", iter, p, id, replicas)
				}
				seen[id] = true
				for _, b := range brokers {
					if b.ID == id {
						spanned[b.Rack] = true
					}
				}
			}
			if want := min(rf, len(racks)); len(spanned) < want {
				t.Fatalf("iter %d partition %d: %v spans %d racks, want %d", iter, p, replicas, len(spanned), want)
			}
			leaders[replicas[0]]++
		}
		lo, hi := partitions, 0
		for _, b := range brokers {
			lo, hi = min(lo, leaders[b.ID]), max(hi, leaders[b.ID])
		}
		if hi-lo > 1 {
			t.Fatalf("iter %d: leaders unbalanced: %v", iter, leaders)
		}
	}
}
