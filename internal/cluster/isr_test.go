package cluster

import (
	"maps"
	"slices"
	"testing"
)

// TestISRRules drives the ISR, ELR and directory rules through the
// changes of the fresh-disk scenario and its neighbours.
func TestISRRules(t *testing.T) {
	dirs := map[int32]string{0: "d0", 1: "d1", 2: "d2"}
	for _, tc := range []struct {
		name    string
		isr     []int32
		elr     []int32
		minISR  int
		change  func(p *PartitionState)
		wantISR []int32
		wantELR []int32
		dirs    map[int32]string // nil: unchanged
	}{
		{
			name: "leaving above min ISR is not eligible", isr: []int32{0, 1, 2}, minISR: 2,
			change:  func(p *PartitionState) { p.LeaveISR([]int32{2}, 2) },
			wantISR: []int32{0, 1},
		},
		{
			name: "leaving below min ISR becomes eligible", isr: []int32{0, 1}, minISR: 2,
			change:  func(p *PartitionState) { p.LeaveISR([]int32{1}, 2) },
			wantISR: []int32{0}, wantELR: []int32{1},
		},
		{
			name: "two leaving at once below min ISR are both eligible", isr: []int32{0, 1, 2}, minISR: 2,
			change:  func(p *PartitionState) { p.LeaveISR([]int32{1, 2}, 2) },
			wantISR: []int32{0}, wantELR: []int32{1, 2},
		},
		{
			name: "the last member leaves to the ELR", isr: []int32{0}, elr: []int32{1}, minISR: 2,
			change:  func(p *PartitionState) { p.LeaveISR([]int32{0}, 2) },
			wantISR: nil, wantELR: []int32{1, 0},
		},
		{
			name: "min ISR is capped at the replication factor", isr: []int32{0, 1, 2}, minISR: 5,
			change:  func(p *PartitionState) { p.LeaveISR([]int32{2}, 5) },
			wantISR: []int32{0, 1}, wantELR: []int32{2},
		},
		{
			name: "leaving twice does not duplicate", isr: []int32{0}, elr: []int32{1}, minISR: 2,
			change:  func(p *PartitionState) { p.LeaveISR([]int32{1, 7}, 2) },
			wantISR: []int32{0}, wantELR: []int32{1},
		},
		{
			name: "a lost copy leaves both sets and its directory", isr: []int32{0, 2}, elr: []int32{1}, minISR: 3,
			change:  func(p *PartitionState) { p.LoseCopies([]int32{0, 1}) },
			wantISR: []int32{2}, dirs: map[int32]string{2: "d2"},
		},
		{
			name: "joining below min ISR keeps the ELR", isr: []int32{1}, elr: []int32{0}, minISR: 3,
			change:  func(p *PartitionState) { p.JoinISR(2, "new2", 3) },
			wantISR: []int32{1, 2}, wantELR: []int32{0}, dirs: map[int32]string{0: "d0", 1: "d1", 2: "new2"},
		},
		{
			name: "joining up to min ISR empties the ELR", isr: []int32{1}, elr: []int32{0}, minISR: 2,
			change:  func(p *PartitionState) { p.JoinISR(2, "d2", 2) },
			wantISR: []int32{1, 2},
		},
		{
			name: "an ELR member joining leaves the ELR", isr: []int32{1}, elr: []int32{0, 2}, minISR: 3,
			change:  func(p *PartitionState) { p.JoinISR(0, "d0", 3) },
			wantISR: []int32{1, 0}, wantELR: []int32{2},
		},
		{
			name: "a lowered min ISR settles the ELR", isr: []int32{1}, elr: []int32{0}, minISR: 1,
			change:  func(p *PartitionState) { p.SettleELR(1) },
			wantISR: []int32{1},
		},
		{
			name: "a clean election from the ELR", isr: nil, elr: []int32{1, 0}, minISR: 2,
			change:  func(p *PartitionState) { p.ElectFrom(1, false) },
			wantISR: []int32{1}, wantELR: []int32{0},
		},
		{
			name: "an unclean election forgets the ELR", isr: nil, elr: []int32{1}, minISR: 2,
			change:  func(p *PartitionState) { p.ElectFrom(2, true) },
			wantISR: []int32{2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PartitionState{Replicas: []int32{0, 1, 2}, Leader: 0, ISR: slices.Clone(tc.isr), ELR: slices.Clone(tc.elr), Dirs: maps.Clone(dirs)}
			tc.change(&p)
			if !slices.Equal(p.ISR, tc.wantISR) || !slices.Equal(p.ELR, tc.wantELR) {
				t.Errorf("ISR %v ELR %v, want ISR %v ELR %v", p.ISR, p.ELR, tc.wantISR, tc.wantELR)
			}
			want := dirs
			if tc.dirs != nil {
				want = tc.dirs
			}
			if !maps.Equal(p.Dirs, want) {
				t.Errorf("dirs %v, want %v", p.Dirs, want)
			}
		})
	}
}

// TestCopyLive checks which registrations hold the copy a state records.
func TestCopyLive(t *testing.T) {
	p := PartitionState{Replicas: []int32{0, 1, 2}, Dirs: map[int32]string{0: "d0", 1: "d1"}}
	brokers := map[int32]BrokerInfo{
		0: {Registration: Registration{ID: 0, Directories: []string{"x", "d0"}}},
		1: {Registration: Registration{ID: 1, Directories: []string{"fresh"}}},
		2: {Registration: Registration{ID: 2, Directories: []string{"d2"}}},
	}
	for _, tc := range []struct {
		id         int32
		live, gone bool
	}{
		{0, true, false},  // one of its directories
		{1, false, true},  // a new disk under the old id
		{2, true, false},  // no record: matched by id
		{3, false, false}, // not registered
	} {
		if live, gone := p.CopyLive(tc.id, brokers), p.CopyGone(tc.id, brokers); live != tc.live || gone != tc.gone {
			t.Errorf("broker %d: live %v gone %v, want %v %v", tc.id, live, gone, tc.live, tc.gone)
		}
	}
}

// TestPartitionStateJSON checks that the new fields round-trip and stay
// out of states that do not use them.
func TestPartitionStateJSON(t *testing.T) {
	p := PartitionState{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1}, ELR: []int32{2}, Dirs: map[int32]string{1: "a", 2: "b"}}
	enc := encodePartition(&p)
	if enc != `{"replicas":[1,2],"leader":1,"leaderEpoch":0,"isr":[1],"partitionEpoch":0,"elr":[2],"dirs":{"1":"a","2":"b"}}` {
		t.Fatalf("encoded %s", enc)
	}
	got, err := decodePartition("k", []byte(enc), 1)
	if err != nil || !got.Equal(&p) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if enc := encodePartition(&PartitionState{Replicas: []int32{1}, ISR: []int32{1}}); enc != `{"replicas":[1],"leader":0,"leaderEpoch":0,"isr":[1],"partitionEpoch":0}` {
		t.Fatalf("encoded %s", enc)
	}
}

// TestNewPartitionState checks that a new partition records the copies
// of single-directory brokers only.
func TestNewPartitionState(t *testing.T) {
	brokers := map[int32]BrokerInfo{
		1: {Registration: Registration{ID: 1, Directories: []string{"a"}}},
		2: {Registration: Registration{ID: 2, Directories: []string{"b", "c"}}},
		3: {Registration: Registration{ID: 3}},
	}
	p := NewPartitionState([]int32{2, 1, 3}, brokers)
	if p.Leader != 2 || !slices.Equal(p.ISR, []int32{2, 1, 3}) || !maps.Equal(p.Dirs, map[int32]string{1: "a"}) {
		t.Fatalf("new partition state %+v", p)
	}
}
