package group

import "errors"

// The errors the coordinator produces, one per Kafka error code. The broker
// maps them to codes; errors from the [Log] come back wrapped and unchanged so
// that the broker can map those too.
var (
	// ErrNotCoordinator means the shard is closed: this broker no longer
	// leads the group's __consumer_offsets partition (NOT_COORDINATOR).
	ErrNotCoordinator = errors.New("group: not the coordinator")
	// ErrCoordinatorLoadInProgress means the shard is still being loaded
	// (COORDINATOR_LOAD_IN_PROGRESS).
	ErrCoordinatorLoadInProgress = errors.New("group: coordinator load in progress")
	// ErrCoordinatorNotAvailable means the group is being deleted; the
	// client retries (COORDINATOR_NOT_AVAILABLE).
	ErrCoordinatorNotAvailable = errors.New("group: coordinator not available")
	// ErrUnknownMemberID means the member id is not in the group
	// (UNKNOWN_MEMBER_ID).
	ErrUnknownMemberID = errors.New("group: unknown member id")
	// ErrIllegalGeneration means the request names another generation than
	// the group's current one (ILLEGAL_GENERATION).
	ErrIllegalGeneration = errors.New("group: illegal generation")
	// ErrRebalanceInProgress tells a member to rejoin (REBALANCE_IN_PROGRESS).
	ErrRebalanceInProgress = errors.New("group: rebalance in progress")
	// ErrMemberIDRequired asks a new dynamic member to rejoin with the member
	// id returned beside it (MEMBER_ID_REQUIRED, KIP-394).
	ErrMemberIDRequired = errors.New("group: member id required")
	// ErrFencedInstanceID means another member id now owns the group
	// instance id (FENCED_INSTANCE_ID, KIP-345).
	ErrFencedInstanceID = errors.New("group: fenced instance id")
	// ErrInconsistentProtocol means the member's protocol type or protocols
	// do not fit the group's (INCONSISTENT_GROUP_PROTOCOL).
	ErrInconsistentProtocol = errors.New("group: inconsistent group protocol")
	// ErrInvalidSessionTimeout means the session timeout is outside the
	// configured bounds (INVALID_SESSION_TIMEOUT).
	ErrInvalidSessionTimeout = errors.New("group: invalid session timeout")
	// ErrGroupMaxSize means the group already has group.max.size members
	// (GROUP_MAX_SIZE_REACHED).
	ErrGroupMaxSize = errors.New("group: group max size reached")
	// ErrGroupIDNotFound means the group does not exist (GROUP_ID_NOT_FOUND).
	ErrGroupIDNotFound = errors.New("group: group id not found")
	// ErrNonEmptyGroup means the group still has members (NON_EMPTY_GROUP).
	ErrNonEmptyGroup = errors.New("group: group is not empty")
	// ErrInvalidGroupID means the group id is empty where one is required
	// (INVALID_GROUP_ID).
	ErrInvalidGroupID = errors.New("group: invalid group id")
	// ErrGroupSubscribedToTopic means an OffsetDelete names a topic a member
	// of the group is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC).
	ErrGroupSubscribedToTopic = errors.New("group: group is subscribed to the topic")
	// ErrOffsetMetadataTooLarge means a commit's metadata string exceeds
	// offset.metadata.max.bytes (OFFSET_METADATA_TOO_LARGE).
	ErrOffsetMetadataTooLarge = errors.New("group: offset metadata too large")
	// ErrUnknownRecordVersion marks a __consumer_offsets record whose key or
	// value version this package does not read; Load wraps it with the
	// version and the broker logs and skips the record.
	ErrUnknownRecordVersion = errors.New("group: unknown record version")
)
