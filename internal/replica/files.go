package replica

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/partition"
)

// partitionMetadataFile names the file holding a replica's topic id, in
// Kafka's format:
//
//	version: 0
//	topic_id: <base64url topic id>
const partitionMetadataFile = "partition.metadata"

var errTopicIDMismatch = errors.New("replica: directory belongs to another topic id")

// checkPartitionMetadata returns errTopicIDMismatch when dir holds a replica
// of a different topic id; a missing directory or file is fine.
func checkPartitionMetadata(dir string, topicID [16]byte) error {
	data, err := os.ReadFile(filepath.Join(dir, partitionMetadataFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "topic_id" {
			if strings.TrimSpace(v) != encodeTopicID(topicID) {
				return fmt.Errorf("%w: %s has %s", errTopicIDMismatch, dir, strings.TrimSpace(v))
			}
			return nil
		}
	}
	return fmt.Errorf("replica: %s: no topic_id in %s", dir, partitionMetadataFile)
}

func writePartitionMetadata(dir string, topicID [16]byte) error {
	path := filepath.Join(dir, partitionMetadataFile)
	want := fmt.Sprintf("version: 0\ntopic_id: %s\n", encodeTopicID(topicID))
	if have, err := os.ReadFile(path); err == nil && string(have) == want {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(want), 0o644); err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	return nil
}

// encodeTopicID renders a topic id as Kafka does (base64url, no padding).
func encodeTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// logConfig is the log's share of a topic's effective configuration.
func logConfig(tc config.TopicConfig, logger *slog.Logger) log.Config {
	return log.Config{
		SegmentBytes:       tc.SegmentBytes,
		SegmentAge:         tc.SegmentAge,
		IndexIntervalBytes: tc.IndexIntervalBytes,
		Preallocate:        tc.Preallocate,
		Logger:             logger,
	}
}

// partitionConfig is the partition's share of a topic's effective
// configuration.
func partitionConfig(b *config.Broker, tc config.TopicConfig) partition.Config {
	return partition.Config{
		FlushOnAck:        b.FlushOnAck,
		FlushMessages:     tc.FlushMessages,
		LogAppendTime:     tc.LogAppendTime,
		MaxMessageBytes:   tc.MaxMessageBytes,
		MinInsyncReplicas: tc.MinInsyncReplicas,
	}
}
