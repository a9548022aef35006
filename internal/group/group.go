package group

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerProtocolType is the protocol type of Kafka consumers, whose member
// metadata the coordinator parses to learn subscriptions.
const consumerProtocolType = "consumer"

// state is a group's place in the rebalance protocol.
type state int8

const (
	stateEmpty      state = iota // no members
	statePreparing               // waiting for members to (re)join
	stateCompleting              // waiting for the leader's assignment
	stateStable                  // assignment distributed
	stateDead                    // being deleted
)

// String returns the state's name as Kafka's DescribeGroups reports it.
func (st state) String() string {
	switch st {
	case stateEmpty:
		return "Empty"
	case statePreparing:
		return "PreparingRebalance"
	case stateCompleting:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	}
	return "Dead"
}

// Protocol is one assignment protocol a member supports, with the member's
// metadata for it.
type Protocol struct {
	Name     string
	Metadata []byte
}

// member is one member of a group. All fields are guarded by Shard.mu.
type member struct {
	id, instanceID       string
	clientID, clientHost string
	protocols            []Protocol // in the member's order of preference
	sessionTimeout       time.Duration
	rebalanceTimeout     time.Duration
	assignment           []byte
	// isNew marks a member whose first join has not completed; its
	// session timer is the new-member join timeout, which waiting for the
	// join does not suspend.
	isNew bool
	// joinWait and syncWait are the pending JoinGroup and SyncGroup of the
	// member, nil when none. Buffered with capacity 1: finishing never
	// blocks, even if the caller gave up.
	joinWait chan joinOutcome
	syncWait chan syncOutcome
	// session expires the member unless reset by its activity.
	session *time.Timer
}

type joinOutcome struct {
	res JoinResult
	err error
}

type syncOutcome struct {
	res SyncResult
	err error
}

// finishJoin answers the member's pending JoinGroup, if any.
func (m *member) finishJoin(res JoinResult, err error) {
	if m.joinWait != nil {
		m.joinWait <- joinOutcome{res, err}
		m.joinWait = nil
	}
}

// finishSync answers the member's pending SyncGroup, if any.
func (m *member) finishSync(res SyncResult, err error) {
	if m.syncWait != nil {
		m.syncWait <- syncOutcome{res, err}
		m.syncWait = nil
	}
}

// metadata returns the member's metadata for protocol.
func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equals the member's, in order.
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// pendingMember is a dynamic member that was given an id with
// MEMBER_ID_REQUIRED and has not joined with it yet.
type pendingMember struct {
	timer *time.Timer
}

// offset is one committed offset, as applied from the log.
type offset struct {
	CommittedOffset
	commitTime time.Time
	expireTime time.Time // zero: none (only OffsetCommitValue v1 has one)
	logOffset  int64     // of the record that set it
}

// group is one consumer group. All fields are guarded by Shard.mu.
type group struct {
	id        string
	state     state
	prevState state
	// stateTime is when the group entered its state (Kafka's
	// currentStateTimestamp); zero when unknown (loaded from an old record).
	stateTime    time.Time
	protocolType string // "" until a member joins, and for simple groups
	protocol     string // selected protocol; "" when none
	generation   int32
	leader       string

	members map[string]*member
	order   []*member         // members in join order
	static  map[string]string // group instance id -> member id
	pending map[string]*pendingMember
	// pendingSync holds the members of this generation that have not sent
	// SyncGroup yet.
	pendingSync map[string]bool
	// subscribed holds the topics the consumer members subscribe to,
	// computed at each generation; nil when unknown.
	subscribed map[string]bool

	// inInitialDelay is set while the delayed first rebalance of an empty
	// group runs; newMemberAdded asks it to wait once more.
	inInitialDelay bool
	newMemberAdded bool
	joinTimer      *time.Timer // rebalance timeout or initial delay
	syncTimer      *time.Timer // pending-sync timeout

	offsets map[TopicPartition]*offset
	// pendingCommits counts the appended, not yet applied commits per
	// partition; expiry leaves those partitions alone.
	pendingCommits map[TopicPartition]int

	// metaValue is the applied GroupMetadataValue record of the group, as
	// in the log; nil when the log holds none.
	metaValue  []byte
	metaOffset int64
}

func newGroup(id string) *group {
	return &group{
		id:             id,
		members:        make(map[string]*member),
		static:         make(map[string]string),
		pending:        make(map[string]*pendingMember),
		pendingSync:    make(map[string]bool),
		offsets:        make(map[TopicPartition]*offset),
		pendingCommits: make(map[TopicPartition]int),
		metaOffset:     -1,
	}
}

func (g *group) transition(to state, now time.Time) {
	g.prevState = g.state
	g.state = to
	g.stateTime = now
}

// add adds m to the group; the first member sets the protocol type and the
// first member without a leader becomes it.
func (g *group) add(m *member, protocolType string) {
	if len(g.members) == 0 {
		g.protocolType = protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m)
	if m.instanceID != "" {
		g.static[m.instanceID] = m.id
	}
	delete(g.pending, m.id)
}

// remove removes m from the group, choosing another leader if m led it.
// The caller stops m's timer and answers its waits.
func (g *group) remove(m *member) {
	delete(g.members, m.id)
	for i, o := range g.order {
		if o == m {
			g.order = append(g.order[:i:i], g.order[i+1:]...)
			break
		}
	}
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0].id
		}
	}
}

// staticFenced reports whether instanceID belongs to another member id.
func (g *group) staticFenced(instanceID, memberID string) bool {
	if instanceID == "" {
		return false
	}
	cur, ok := g.static[instanceID]
	return ok && cur != memberID
}

// validateMember checks that memberID is in the group and, when instanceID
// is given, that it owns that instance id (Kafka's validateCurrentMember).
func (g *group) validateMember(memberID, instanceID string) (*member, error) {
	if instanceID != "" {
		cur, ok := g.static[instanceID]
		if !ok {
			return nil, ErrUnknownMemberID
		}
		if cur != memberID {
			return nil, ErrFencedInstanceID
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, ErrUnknownMemberID
	}
	return m, nil
}

// supportsProtocols reports whether a member with these protocols may join:
// an empty group takes any non-empty set, otherwise the protocol type must
// match and one protocol must be supported by every member.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == stateEmpty {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supporters(p.Name) == len(g.members) {
			return true
		}
	}
	return false
}

// supporters counts the members supporting protocol.
func (g *group) supporters(protocol string) int {
	n := 0
	for _, m := range g.order {
		for _, p := range m.protocols {
			if p.Name == protocol {
				n++
				break
			}
		}
	}
	return n
}

// selectProtocol picks, among the protocols every member supports, the one
// most members prefer: each member votes for the first candidate in its own
// order. Ties go to the protocol that got its first vote earliest in join
// order, so the result does not depend on map iteration.
func (g *group) selectProtocol() string {
	candidates := make(map[string]bool)
	for _, m := range g.order {
		for _, p := range m.protocols {
			if g.supporters(p.Name) == len(g.members) {
				candidates[p.Name] = true
			}
		}
	}
	votes := make(map[string]int)
	var seen []string
	for _, m := range g.order {
		for _, p := range m.protocols {
			if candidates[p.Name] {
				if votes[p.Name] == 0 {
					seen = append(seen, p.Name)
				}
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range seen {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.order {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// allJoined reports whether every member and pending member has rejoined.
func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.order {
		if m.joinWait == nil {
			return false
		}
	}
	return true
}

// computeSubscribed returns the topics the consumer members subscribe to, or
// nil when unknown (not a consumer group, or metadata that does not parse).
func (g *group) computeSubscribed() map[string]bool {
	if g.protocolType != consumerProtocolType {
		return nil
	}
	topics := make(map[string]bool)
	if len(g.order) == 0 {
		return topics
	}
	if g.protocol == "" {
		return nil
	}
	for _, m := range g.order {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadata(g.protocol)); err != nil {
			return nil
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	return topics
}

// Member is a member as the leader sees it in the JoinGroup response.
type Member struct {
	MemberID, InstanceID string
	Metadata             []byte // for the selected protocol
}

// currentMembers lists the members for the leader's JoinGroup response.
func (g *group) currentMembers() []Member {
	ms := make([]Member, 0, len(g.order))
	for _, m := range g.order {
		ms = append(ms, Member{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadata(g.protocol)})
	}
	return ms
}

// MemberDescription is a member as DescribeGroups reports it.
type MemberDescription struct {
	MemberID, InstanceID, ClientID, ClientHost string
	// Metadata (for the selected protocol) and Assignment are set only
	// when the group is Stable, as in Kafka.
	Metadata, Assignment []byte
}

// Description is a group as DescribeGroups reports it.
type Description struct {
	Group        string
	State        string // Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
	ProtocolType string
	Protocol     string // set only when Stable
	Members      []MemberDescription
}

// Describe describes a group. An unknown group is reported as Dead with no
// error, as Kafka's DescribeGroups does.
func (s *Shard) Describe(groupID string) (Description, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return Description{}, err
	}
	return s.describe(groupID), nil
}

// describe builds the description of a group. Called with mu held.
func (s *Shard) describe(groupID string) Description {
	d := Description{Group: groupID, State: stateDead.String()}
	g := s.groups[groupID]
	if g == nil || g.state == stateDead {
		return d
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.order {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if stable {
			md.Metadata = m.metadata(g.protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// Listing is a group as ListGroups reports it.
type Listing struct {
	Group, ProtocolType, State string
}

// List lists the shard's groups, ordered by id; groups being deleted are
// left out. A shard that is closed or not started lists nothing.
func (s *Shard) List() []Listing {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usable() != nil {
		return nil
	}
	var ls []Listing
	for _, g := range s.sortedGroups() {
		if g.state != stateDead {
			ls = append(ls, Listing{Group: g.id, ProtocolType: g.protocolType, State: g.state.String()})
		}
	}
	return ls
}

// maybeForget drops a group that holds nothing: no members, no offsets, no
// metadata in the log and nothing in flight. Such a group exists only in
// memory (a failed simple commit, an expired pending member). Called with mu
// held.
func (s *Shard) maybeForget(g *group) {
	if g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
		len(g.offsets) == 0 && len(g.pendingCommits) == 0 && g.metaValue == nil && s.groups[g.id] == g {
		delete(s.groups, g.id)
	}
}
