package replica

import (
	"maps"
	"slices"
	"testing"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/partition"
)

// TestApplyISRChange checks how a leader's proposal lands on the state it
// replaces: through the cluster package's rules, and only for brokers
// that may still join.
func TestApplyISRChange(t *testing.T) {
	base := func() cluster.PartitionState {
		return cluster.PartitionState{Replicas: []int32{1, 2, 3}, Leader: 1, ISR: []int32{1, 2, 3},
			Dirs: map[int32]string{1: "d1", 2: "d2", 3: "d3"}}
	}
	for _, tc := range []struct {
		name     string
		state    func() cluster.PartitionState
		change   partition.ISRChange
		joinable []int32
		wantISR  []int32
		wantELR  []int32
		wantDirs map[int32]string
	}{
		{
			name:    "a follower falls behind at min ISR",
			state:   base,
			change:  partition.ISRChange{Remove: []int32{3}, MinISR: 2},
			wantISR: []int32{1, 2}, wantDirs: map[int32]string{1: "d1", 2: "d2", 3: "d3"},
		},
		{
			name: "a follower falls behind below min ISR: eligible",
			state: func() cluster.PartitionState {
				p := base()
				p.ISR = []int32{1, 2}
				return p
			},
			change:  partition.ISRChange{Remove: []int32{2}, MinISR: 2},
			wantISR: []int32{1}, wantELR: []int32{2}, wantDirs: map[int32]string{1: "d1", 2: "d2", 3: "d3"},
		},
		{
			name: "a fresh copy is lost, then joins on its new directory",
			state: func() cluster.PartitionState {
				p := base()
				p.ISR, p.ELR = []int32{1}, []int32{2}
				return p
			},
			change:   partition.ISRChange{Lost: []int32{2}, Add: []int32{3}, Dirs: map[int32]string{3: "d3"}, MinISR: 2},
			joinable: []int32{3},
			wantISR:  []int32{1, 3}, wantDirs: map[int32]string{1: "d1", 3: "d3"},
		},
		{
			name: "a broker that may no longer join does not",
			state: func() cluster.PartitionState {
				p := base()
				p.ISR = []int32{1, 2}
				return p
			},
			change:   partition.ISRChange{Add: []int32{3}, Dirs: map[int32]string{3: "new3"}, MinISR: 2},
			joinable: nil,
			wantISR:  []int32{1, 2}, wantDirs: map[int32]string{1: "d1", 2: "d2", 3: "d3"},
		},
		{
			name: "a member's unrecorded directory is recorded, a recorded one kept",
			state: func() cluster.PartitionState {
				p := base()
				delete(p.Dirs, 2)
				return p
			},
			change:  partition.ISRChange{Dirs: map[int32]string{2: "d2", 3: "other"}, MinISR: 2},
			wantISR: []int32{1, 2, 3}, wantDirs: map[int32]string{1: "d1", 2: "d2", 3: "d3"},
		},
		{
			name: "a lowered min ISR empties the ELR",
			state: func() cluster.PartitionState {
				p := base()
				p.ISR, p.ELR = []int32{1}, []int32{2}
				return p
			},
			change:  partition.ISRChange{MinISR: 1},
			wantISR: []int32{1}, wantDirs: map[int32]string{1: "d1", 2: "d2", 3: "d3"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.state()
			applyISRChange(&s, tc.change, tc.joinable)
			if !slices.Equal(s.ISR, tc.wantISR) || !slices.Equal(s.ELR, tc.wantELR) || !maps.Equal(s.Dirs, tc.wantDirs) {
				t.Errorf("ISR %v ELR %v dirs %v; want ISR %v ELR %v dirs %v", s.ISR, s.ELR, s.Dirs, tc.wantISR, tc.wantELR, tc.wantDirs)
			}
		})
	}
}
