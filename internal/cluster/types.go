package cluster

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
)

// BrokerState is the lifecycle state a broker advertises in its
// registration.
type BrokerState string

// Broker states.
const (
	// StateStarting: registered, still recovering logs; not ready to lead.
	StateStarting BrokerState = "starting"
	// StateRunning: serving.
	StateRunning BrokerState = "running"
	// StateDraining: drained by the broker itself on an interruption
	// notice or a rebalance recommendation (Registration.Drain says how
	// far). It keeps serving as a follower, in the ISRs, and takes no new
	// leadership.
	StateDraining BrokerState = "draining"
	// StateStopping: a controlled shutdown (SIGTERM): drained, and out of
	// every ISR, so that producers do not wait for a broker about to stop.
	StateStopping BrokerState = "stopping"
)

func (s BrokerState) valid() bool {
	return s == StateStarting || s == StateRunning || s == StateDraining || s == StateStopping
}

// Drain is how far a broker is being emptied before it goes. See
// BrokerInfo.Draining.
type Drain string

// Drains, weakest first.
const (
	// DrainNone: the broker takes leaderships and replicas as usual.
	DrainNone Drain = ""
	// DrainLeadership: leadership moves to other replicas and no new
	// leadership comes; the replicas stay (a rebalance recommendation).
	DrainLeadership Drain = "leadership"
	// DrainFull: as DrainLeadership, and no new replica comes; where the
	// broker's loss would leave a partition with fewer live replicas than
	// min.insync.replicas, the controller adds a temporary replica
	// elsewhere (an interruption notice).
	DrainFull Drain = "full"
)

// ParseDrain returns the Drain named s: "", "none", "leadership" or
// "full".
func ParseDrain(s string) (Drain, error) {
	switch Drain(s) {
	case DrainNone, "none":
		return DrainNone, nil
	case DrainLeadership, DrainFull:
		return Drain(s), nil
	}
	return DrainNone, fmt.Errorf("cluster: unknown drain %q (none, leadership or full)", s)
}

// rank orders drains from weakest to strongest.
func (d Drain) rank() int {
	switch d {
	case DrainLeadership:
		return 1
	case DrainFull:
		return 2
	}
	return 0
}

// String returns the drain's name, "none" for DrainNone.
func (d Drain) String() string {
	if d == DrainNone {
		return "none"
	}
	return string(d)
}

// Registration is what a broker announces about itself in brokers/<id>.
type Registration struct {
	// ID is the broker id; -1 asks Register to claim the lowest free id.
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	// Rack is broker.rack: the zone.
	Rack string `json:"rack,omitempty"`
	// Capacity is broker.capacity: "on-demand" or "spot".
	Capacity string      `json:"capacity,omitempty"`
	State    BrokerState `json:"state"`
	// Drain is how far the broker drains itself while StateDraining
	// (DrainFull when unset).
	Drain Drain `json:"drain,omitempty"`
	// Directories are the directory ids of the broker's log directories
	// (directory.id in their meta.properties), in log.dirs order. A copy
	// of a partition that a partition state records in a directory the
	// broker no longer registers is gone: see PartitionState.Dirs.
	Directories []string `json:"directories,omitempty"`
	// Quorum is the broker's place in the embedded etcd cluster: nil when
	// it cannot run a member others reach (an external etcd, or a single
	// member on unix sockets).
	Quorum *QuorumPeer `json:"quorum,omitempty"`
}

// QuorumPeer is what a broker that can run an embedded etcd member
// announces: where its member serves (or would), and which member it runs.
type QuorumPeer struct {
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	// Member is the id of the member the broker runs, in etcd's hex form,
	// "" while it runs none.
	Member string `json:"member,omitempty"`
}

// HasDirectory reports whether dir is one of the broker's log
// directories. The empty id (unknown) matches any broker.
func (r *Registration) HasDirectory(dir string) bool {
	return dir == "" || slices.Contains(r.Directories, dir)
}

// BrokerInfo is a stored registration: the broker's announcement plus what
// Register adds.
type BrokerInfo struct {
	Registration
	// Incarnation is random per broker process.
	Incarnation string `json:"incarnation"`
	// Epoch grows with every registration of the id.
	Epoch int64 `json:"epoch"`

	// OperatorDrain is the drain an operator asked for with the broker's
	// dynamic config broker.drain (spotstream broker drain). It is not
	// part of the registration: snapshots fill it in, so that a drain
	// outlives the broker's restarts until it is undone.
	OperatorDrain Drain `json:"-"`
}

// Draining returns how far the broker is drained: the stronger of its own
// drain (StateDraining, or StateStopping, which drains fully) and the
// operator's.
func (b *BrokerInfo) Draining() Drain {
	own := DrainNone
	switch b.State {
	case StateStopping:
		own = DrainFull
	case StateDraining:
		own = cmp.Or(b.Drain, DrainFull)
	}
	if b.OperatorDrain.rank() > own.rank() {
		return b.OperatorDrain
	}
	return own
}

// Leads reports whether the broker may take leaderships: it is not
// drained.
func (b *BrokerInfo) Leads() bool { return b.Draining() == DrainNone }

// Stopping reports whether the broker is in a controlled shutdown: it
// leaves every ISR while still alive.
func (b *BrokerInfo) Stopping() bool { return b.State == StateStopping }

// NoLeader is the Leader of a partition without a leader.
const NoLeader int32 = -1

// PartitionState is the replicated state of one partition, the value of
// partitions/<topic>/<n>.
type PartitionState struct {
	Replicas       []int32 `json:"replicas"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leaderEpoch"`
	ISR            []int32 `json:"isr"`
	PartitionEpoch int32   `json:"partitionEpoch"`
	// ELR are the eligible leader replicas (Kafka's KIP-966): replicas out
	// of the ISR that still hold every acknowledged record, because they
	// left it while the ISR was smaller than min.insync.replicas, when
	// nothing can be acknowledged. The controller elects one when no ISR
	// member is left. See isr.go for the rules.
	ELR []int32 `json:"elr,omitempty"`
	// Dirs records, by broker id, the directory id of the copy that the
	// broker's ISR or ELR membership stands for (Kafka's KIP-858). A
	// broker that comes back without that directory (a fresh disk under
	// the same id) is a new, empty replica: it is neither elected nor
	// counted as in sync until it has caught up again. A replica without
	// an entry is matched by broker id alone.
	Dirs map[int32]string `json:"dirs,omitempty"`
	// Adding and Removing describe an ongoing reassignment (KIP-455).
	Adding   []int32 `json:"adding,omitempty"`
	Removing []int32 `json:"removing,omitempty"`
	// Temporary are replicas the controller added because fully drained
	// brokers would otherwise leave fewer live replicas than
	// min.insync.replicas. They are removed once the drained replicas are
	// back in sync (a replacement caught up, or the drain was undone), and
	// become ordinary replicas when a drained broker stays dead past
	// broker.replacement.grace.ms.
	Temporary []int32 `json:"temporary,omitempty"`

	// Revision is the mod revision of the key this state was read from. It
	// is not stored: 0 means the partition has no key yet (not available).
	Revision int64 `json:"-"`
}

// Available reports whether the partition's state has been written.
func (p *PartitionState) Available() bool { return p.Revision != 0 }

// Clone returns a deep copy, so that the copy's slices may be modified.
func (p PartitionState) Clone() PartitionState {
	p.Replicas = slices.Clone(p.Replicas)
	p.ISR = slices.Clone(p.ISR)
	p.ELR = slices.Clone(p.ELR)
	p.Dirs = maps.Clone(p.Dirs)
	p.Adding = slices.Clone(p.Adding)
	p.Temporary = slices.Clone(p.Temporary)
	p.Removing = slices.Clone(p.Removing)
	return p
}

// Equal reports whether p and q are the same state, Revision aside:
// writing q over p would change nothing. nil and empty slices are equal:
// they encode the same.
func (p *PartitionState) Equal(q *PartitionState) bool {
	return slices.Equal(p.Replicas, q.Replicas) && p.Leader == q.Leader &&
		p.LeaderEpoch == q.LeaderEpoch && slices.Equal(p.ISR, q.ISR) &&
		p.PartitionEpoch == q.PartitionEpoch && slices.Equal(p.ELR, q.ELR) && maps.Equal(p.Dirs, q.Dirs) &&
		slices.Equal(p.Adding, q.Adding) && slices.Equal(p.Removing, q.Removing) && slices.Equal(p.Temporary, q.Temporary)
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name string
	// ID is the topic id; the zero id asks CreateTopic to generate one.
	ID      [16]byte
	Configs map[string]string
	// Partitions holds the initial state of partitions 0..len-1; there must
	// be at least one.
	Partitions []PartitionState
}

// NewID returns 16 random bytes usable as a Kafka Uuid: never all zero,
// never Kafka's reserved metadata topic id (0...01), and never one whose
// string form starts with '-' (command lines would take it for a flag).
func NewID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:]) // never fails (crypto/rand)
		if isReservedID(id) || FormatID(id)[0] == '-' {
			continue
		}
		return id
	}
}

func isReservedID(id [16]byte) bool {
	for _, b := range id[:15] {
		if b != 0 {
			return false
		}
	}
	return id[15] <= 1
}

// FormatID returns Kafka's string form of an id: base64url without padding
// (22 characters).
func FormatID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseID parses the string form returned by FormatID.
func ParseID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) != 22 {
		return id, fmt.Errorf("%w: id %q: want 22 base64url characters", ErrMalformed, s)
	}
	n, err := base64.RawURLEncoding.Decode(id[:], []byte(s))
	if err != nil || n != 16 {
		return id, fmt.Errorf("%w: id %q: %v", ErrMalformed, s, err)
	}
	return id, nil
}

// ValidateTopicName applies Kafka's rules: 1 to 249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..". They also keep the key layout
// unambiguous: a name never contains '/'.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	case len(name) > 249:
		return fmt.Errorf("%w: %d characters, the limit is 249", ErrInvalidTopic, len(name))
	}
	if !isLegalName(name) {
		return fmt.Errorf("%w: %q contains characters other than [a-zA-Z0-9._-]", ErrInvalidTopic, name)
	}
	return nil
}

func isLegalName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
