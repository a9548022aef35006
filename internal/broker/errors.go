package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/spotstream/spotstream/internal/cluster"
	"github.com/spotstream/spotstream/internal/config"
	"github.com/spotstream/spotstream/internal/controller"
	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/groupcoord"
	"github.com/spotstream/spotstream/internal/log"
	"github.com/spotstream/spotstream/internal/partition"
	"github.com/spotstream/spotstream/internal/placement"
	"github.com/spotstream/spotstream/internal/producers"
	"github.com/spotstream/spotstream/internal/record"
)

// This file is the one place where errors become Kafka error codes.

// codedError is an error that already names its Kafka error.
type codedError struct {
	kafka *kerr.Error
	msg   string
}

func (e *codedError) Error() string { return e.kafka.Message + ": " + e.msg }
func (e *codedError) Unwrap() error { return e.kafka }

// kerrf returns an error with Kafka error k and a message for the client.
func kerrf(k *kerr.Error, format string, args ...any) error {
	return &codedError{kafka: k, msg: fmt.Sprintf(format, args...)}
}

// errorTable maps the sentinels of the packages below the handlers to Kafka
// errors. Order matters only where one error wraps another.
var errorTable = []struct {
	err   error
	kafka *kerr.Error
}{
	{partition.ErrNotLeader, kerr.NotLeaderForPartition},
	{partition.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
	{partition.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
	{partition.ErrClosed, kerr.NotLeaderForPartition},
	{partition.ErrNotEnoughReplicasAfterAppend, kerr.NotEnoughReplicasAfterAppend},
	{partition.ErrNotFollowing, kerr.NotLeaderForPartition},
	{producers.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{producers.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{record.ErrCorrupt, kerr.CorruptMessage},
	{log.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{cluster.ErrTopicExists, kerr.TopicAlreadyExists},
	{cluster.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{cluster.ErrUnknownPartition, kerr.UnknownTopicOrPartition},
	{controller.ErrNotController, kerr.NotController},
	{controller.ErrElectionNotNeeded, kerr.ElectionNotNeeded},
	{controller.ErrPreferredNotAvailable, kerr.PreferredLeaderNotAvailable},
	{controller.ErrNoReassignmentInProgress, kerr.NoReassignmentInProgress},
	{controller.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
	{placement.ErrNotEnoughBrokers, kerr.InvalidReplicationFactor},
	{config.ErrNotDynamic, kerr.InvalidRequest}, // wraps ErrInvalidConfig too; Kafka answers INVALID_REQUEST
	{config.ErrInvalidConfig, kerr.InvalidConfig},
	{groupcoord.ErrLoading, kerr.CoordinatorLoadInProgress},
	{group.ErrNotCoordinator, kerr.NotCoordinator},
	{group.ErrCoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress},
	{group.ErrCoordinatorNotAvailable, kerr.CoordinatorNotAvailable},
	{group.ErrUnknownMemberID, kerr.UnknownMemberID},
	{group.ErrIllegalGeneration, kerr.IllegalGeneration},
	{group.ErrRebalanceInProgress, kerr.RebalanceInProgress},
	{group.ErrMemberIDRequired, kerr.MemberIDRequired},
	{group.ErrFencedInstanceID, kerr.FencedInstanceID},
	{group.ErrInconsistentProtocol, kerr.InconsistentGroupProtocol},
	{group.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
	{group.ErrGroupMaxSize, kerr.GroupMaxSizeReached},
	{group.ErrGroupIDNotFound, kerr.GroupIDNotFound},
	{group.ErrNonEmptyGroup, kerr.NonEmptyGroup},
	{group.ErrInvalidGroupID, kerr.InvalidGroupID},
	{group.ErrGroupSubscribedToTopic, kerr.GroupSubscribedToTopic},
	{group.ErrOffsetMetadataTooLarge, kerr.OffsetMetadataTooLarge},
}

// kafkaError returns the Kafka error for err; unknown errors are
// UNKNOWN_SERVER_ERROR.
func kafkaError(err error) *kerr.Error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.kafka
		}
	}
	return kerr.UnknownServerError
}

// errorCode returns the Kafka error code for err, 0 for nil.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	return kafkaError(err).Code
}

// setError stores err's code, and its text where the response has room for a
// message.
func setError(code *int16, msg **string, err error) {
	*code = errorCode(err)
	if msg != nil {
		s := err.Error()
		*msg = &s
	}
}
