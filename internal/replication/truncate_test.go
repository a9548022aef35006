package replication

import "testing"

// epochs builds an endOffsetFor over a local epoch history (epoch, start
// offset pairs, ascending) and a log end, with log.EpochCache's semantics.
func epochs(end int64, entries ...[2]int64) func(int32) (int32, int64) {
	return func(epoch int32) (int32, int64) {
		if epoch == Undefined || len(entries) == 0 {
			return Undefined, Undefined
		}
		last := entries[len(entries)-1]
		if int32(last[0]) == epoch {
			return epoch, end
		}
		for i, e := range entries {
			if int32(e[0]) > epoch {
				if i == 0 {
					return epoch, e[1]
				}
				return int32(entries[i-1][0]), e[1]
			}
		}
		return Undefined, Undefined
	}
}

func TestDecideTruncation(t *testing.T) {
	tests := []struct {
		name        string
		local       localLog
		leaderEpoch int32
		leaderEnd   int64
		want        truncation
	}{
		{
			name:        "leader cannot answer: truncate to the high watermark",
			local:       localLog{endOffsetFor: epochs(100, [2]int64{1, 0}), end: 100, hw: 40},
			leaderEpoch: Undefined, leaderEnd: Undefined,
			want: truncation{offset: 40},
		},
		{
			name:        "same epoch, leader has more: nothing to remove",
			local:       localLog{endOffsetFor: epochs(100, [2]int64{1, 0}, [2]int64{2, 50}), end: 100, hw: 40},
			leaderEpoch: 2, leaderEnd: 120,
			want: truncation{offset: 100},
		},
		{
			name:        "same epoch, leader ended it earlier (KIP-101)",
			local:       localLog{endOffsetFor: epochs(100, [2]int64{1, 0}, [2]int64{2, 50}), end: 100, hw: 40},
			leaderEpoch: 2, leaderEnd: 80,
			want: truncation{offset: 80},
		},
		{
			name: "leader never had our latest epoch: it answers an earlier one, which we have",
			// We led epoch 3 briefly from 90; the leader (epoch 4)
			// only knows epochs 1 and 2, and epoch 2 ended at 95 there.
			local:       localLog{endOffsetFor: epochs(100, [2]int64{1, 0}, [2]int64{2, 50}, [2]int64{3, 90}), end: 100, hw: 40},
			leaderEpoch: 2, leaderEnd: 95,
			want: truncation{offset: 90},
		},
		{
			name: "leader answers an epoch we never had: truncate where our earlier epoch ends and ask again (KIP-279)",
			// Local epochs 1 (from 0) and 3 (from 60); the leader's
			// largest epoch at or below 3 is 2, which we never saw.
			local:       localLog{endOffsetFor: epochs(100, [2]int64{1, 0}, [2]int64{3, 60}), end: 100, hw: 40},
			leaderEpoch: 2, leaderEnd: 70,
			want: truncation{offset: 60, again: true, epoch: 1},
		},
		{
			name:        "no local history: trust the leader's end",
			local:       localLog{endOffsetFor: epochs(30), end: 30, hw: 0},
			leaderEpoch: 1, leaderEnd: 20,
			want: truncation{offset: 20},
		},
		{
			name:        "never above the local end",
			local:       localLog{endOffsetFor: epochs(30), end: 30, hw: 0},
			leaderEpoch: 1, leaderEnd: 50,
			want: truncation{offset: 30},
		},
		{
			name:        "asked epoch below all local ones",
			local:       localLog{endOffsetFor: epochs(100, [2]int64{5, 10}), end: 100, hw: 0},
			leaderEpoch: 3, leaderEnd: 50,
			want: truncation{offset: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decideTruncation(tt.local, tt.leaderEpoch, tt.leaderEnd); got != tt.want {
				t.Errorf("decideTruncation = %+v, want %+v", got, tt.want)
			}
		})
	}
}
