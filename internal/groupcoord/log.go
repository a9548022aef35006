package groupcoord

import (
	"context"
	"fmt"
	"time"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/record"
)

// partitionLog is a shard's view of its partition: group.Log.
type partitionLog struct {
	p *partition.Partition
}

// Append writes recs as one batch through the partition's leader append
// path and returns a wait that completes when the batch is committed by
// the acks=all rule.
func (l *partitionLog) Append(recs []group.Record) (int64, func(context.Context) error, error) {
	rs := make([]record.Record, len(recs))
	for i, r := range recs {
		rs[i] = record.Record{Key: r.Key, Value: r.Value}
	}
	now := time.Now().UnixMilli()
	batch := record.Build(rs, now)
	h, err := record.Validate(batch)
	if err != nil {
		return 0, nil, fmt.Errorf("groupcoord: built a bad batch: %w", err)
	}
	res, err := l.p.Append(batch, h, now)
	if err != nil {
		return 0, nil, err
	}
	wait := func(ctx context.Context) error {
		if l.p.WaitHighWatermark(ctx, res.NextOffset) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return group.ErrNotCoordinator // the partition closed
	}
	return res.BaseOffset, wait, nil
}
