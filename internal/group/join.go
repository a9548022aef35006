package group

import (
	"context"
	"fmt"
	"time"
)

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group string
	// MemberID is empty for a member joining for the first time.
	MemberID string
	// InstanceID is the group instance id of a static member (KIP-345);
	// empty for a dynamic member.
	InstanceID           string
	ClientID, ClientHost string
	ProtocolType         string
	Protocols            []Protocol // in order of preference
	SessionTimeout       time.Duration
	RebalanceTimeout     time.Duration
	// RequireKnownMemberID is set from JoinGroup v4: a new dynamic member
	// gets ErrMemberIDRequired and an id to rejoin with (KIP-394).
	RequireKnownMemberID bool
	// SupportsSkipAssignment is set from JoinGroup v9: a static leader that
	// replaces itself in a stable group is told it leads but must not
	// assign.
	SupportsSkipAssignment bool
	Reason                 string
}

// JoinResult is a JoinGroup response.
type JoinResult struct {
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	// MemberID is the member's id; with ErrMemberIDRequired, the id to
	// rejoin with.
	MemberID string
	// Members lists the members for the leader only.
	Members        []Member
	SkipAssignment bool
}

// Join handles a JoinGroup request. It blocks until the join phase of the
// rebalance completes, the shard closes (ErrNotCoordinator), or ctx ends;
// the member stays in the rebalance if ctx ends first.
func (s *Shard) Join(ctx context.Context, req JoinRequest) (JoinResult, error) {
	s.mu.Lock()
	wait, res, err := s.join(req)
	s.mu.Unlock()
	if wait == nil {
		return res, err
	}
	select {
	case out := <-wait:
		return out.res, out.err
	case <-ctx.Done():
		return JoinResult{}, fmt.Errorf("group: waiting for the join of %q: %w", req.Group, ctx.Err())
	}
}

// join runs a JoinGroup under mu; it returns either a channel to wait on or
// the final result.
func (s *Shard) join(req JoinRequest) (chan joinOutcome, JoinResult, error) {
	if err := s.usable(); err != nil {
		return nil, JoinResult{}, err
	}
	if req.Group == "" {
		return nil, JoinResult{}, ErrInvalidGroupID
	}
	if req.SessionTimeout < s.cfg.MinSessionTimeout || req.SessionTimeout > s.cfg.MaxSessionTimeout {
		return nil, JoinResult{}, ErrInvalidSessionTimeout
	}
	g := s.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			return nil, JoinResult{}, ErrUnknownMemberID
		}
		g = newGroup(req.Group) // added to s.groups once it gains a member
	}
	if g.state == stateDead {
		return nil, JoinResult{}, ErrCoordinatorNotAvailable
	}
	if !s.acceptJoiningMember(g, req.MemberID) {
		if m := g.members[req.MemberID]; m != nil {
			s.dropMember(g, m)
			s.maybeCompleteJoin(g)
		}
		return nil, JoinResult{}, ErrGroupMaxSize
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return nil, JoinResult{}, ErrInconsistentProtocol
	}
	if req.MemberID == "" {
		return s.joinNew(g, req)
	}
	return s.joinKnown(g, req)
}

// acceptJoiningMember applies group.max.size. While preparing, it counts the
// members that rejoined, so that the last to rejoin of an oversized group are
// the ones turned away.
func (s *Shard) acceptJoiningMember(g *group, memberID string) bool {
	m := g.members[memberID]
	switch g.state {
	case statePreparing:
		if m != nil && m.joinWait != nil {
			return true
		}
		joined := 0
		for _, o := range g.order {
			if o.joinWait != nil {
				joined++
			}
		}
		return joined < s.cfg.MaxSize
	case stateCompleting, stateStable:
		return m != nil || len(g.members) < s.cfg.MaxSize
	}
	return true
}

// joinNew handles a join without a member id.
func (s *Shard) joinNew(g *group, req JoinRequest) (chan joinOutcome, JoinResult, error) {
	if req.InstanceID != "" {
		id := newMemberID(req.InstanceID)
		if old, ok := g.static[req.InstanceID]; ok {
			return s.replaceStatic(g, old, id, req), JoinResult{}, nil
		}
		return s.addMember(g, id, req), JoinResult{}, nil
	}
	id := newMemberID(req.ClientID)
	if req.RequireKnownMemberID {
		p := &pendingMember{}
		g.pending[id] = p
		s.groups[g.id] = g
		s.schedule(&p.timer, req.SessionTimeout, func() {
			delete(g.pending, id)
			if g.state == statePreparing {
				s.maybeCompleteJoin(g)
			}
			s.maybeForget(g)
		})
		return nil, JoinResult{MemberID: id, Generation: -1}, ErrMemberIDRequired
	}
	return s.addMember(g, id, req), JoinResult{}, nil
}

// joinKnown handles a join with a member id.
func (s *Shard) joinKnown(g *group, req JoinRequest) (chan joinOutcome, JoinResult, error) {
	if p := g.pending[req.MemberID]; p != nil {
		stopTimer(&p.timer)
		return s.addMember(g, req.MemberID, req), JoinResult{}, nil
	}
	if g.staticFenced(req.InstanceID, req.MemberID) {
		return nil, JoinResult{MemberID: req.MemberID, Generation: -1}, ErrFencedInstanceID
	}
	m := g.members[req.MemberID]
	if m == nil || (req.InstanceID != "" && g.static[req.InstanceID] == "") {
		return nil, JoinResult{}, ErrUnknownMemberID
	}
	switch g.state {
	case statePreparing:
		return s.updateMember(g, m, req), JoinResult{}, nil
	case stateCompleting:
		if m.matches(req.Protocols) {
			// A retry of a join whose response was lost: answer with the
			// current generation.
			return nil, s.joinResult(g, m, false), nil
		}
		return s.updateMember(g, m, req), JoinResult{}, nil
	case stateStable:
		// A leader's join forces a rebalance: that is how it reacts to
		// changes the member metadata does not show (new partitions).
		if g.leader == m.id || !m.matches(req.Protocols) {
			return s.updateMember(g, m, req), JoinResult{}, nil
		}
		return nil, s.joinResult(g, m, false), nil
	}
	return nil, JoinResult{}, ErrUnknownMemberID
}

// joinResult is the JoinGroup response of m for the current generation; the
// leader gets the member list.
func (s *Shard) joinResult(g *group, m *member, skip bool) JoinResult {
	res := JoinResult{
		Generation:     g.generation,
		ProtocolType:   g.protocolType,
		Protocol:       g.protocol,
		Leader:         g.leader,
		MemberID:       m.id,
		SkipAssignment: skip,
	}
	if g.leader == m.id {
		res.Members = g.currentMembers()
	}
	return res
}

// addMember adds a new member awaiting join and starts or continues a
// rebalance.
func (s *Shard) addMember(g *group, id string, req JoinRequest) chan joinOutcome {
	wait := make(chan joinOutcome, 1)
	m := &member{
		id:               id,
		instanceID:       req.InstanceID,
		clientID:         req.ClientID,
		clientHost:       req.ClientHost,
		protocols:        req.Protocols,
		sessionTimeout:   req.SessionTimeout,
		rebalanceTimeout: req.RebalanceTimeout,
		isNew:            true,
		joinWait:         wait,
	}
	if g.state == statePreparing && g.prevState == stateEmpty {
		g.newMemberAdded = true
	}
	g.add(m, req.ProtocolType)
	s.groups[g.id] = g
	// A new member cannot heartbeat before its join completes; the
	// new-member timeout drops it if the join never completes (a client
	// that gave up and retries with a fresh member).
	s.resetSession(g, m, s.cfg.NewMemberJoinTimeout)
	s.logger.Debug("group: member added", "group", g.id, "member", id, "instance", req.InstanceID, "reason", req.Reason)
	s.maybePrepareRebalance(g)
	s.maybeCompleteJoin(g)
	return wait
}

// updateMember records a known member's join and starts or continues a
// rebalance.
func (s *Shard) updateMember(g *group, m *member, req JoinRequest) chan joinOutcome {
	wait := make(chan joinOutcome, 1)
	// A second join of the same member replaces the first, whose client
	// has given up on it.
	m.finishJoin(JoinResult{}, ErrRebalanceInProgress)
	m.protocols = req.Protocols
	m.rebalanceTimeout = req.RebalanceTimeout
	m.sessionTimeout = req.SessionTimeout
	m.joinWait = wait
	s.maybePrepareRebalance(g)
	s.maybeCompleteJoin(g)
	return wait
}

// replaceStatic handles a known static member joining without a member id
// (a restarted instance): the member gets a new id and the old id is fenced.
// In a stable group whose selected protocol stays the same, the group is
// persisted with the new id and the member gets the current generation back
// without a rebalance; otherwise it joins the rebalance (KIP-345).
func (s *Shard) replaceStatic(g *group, oldID, newID string, req JoinRequest) chan joinOutcome {
	oldLeader := g.leader
	m := s.swapStaticID(g, req.InstanceID, oldID, newID)
	s.resetSession(g, m, m.sessionTimeout)
	oldProtocols, oldRebalance, oldSession := m.protocols, m.rebalanceTimeout, m.sessionTimeout
	oldClient, oldHost := m.clientID, m.clientHost
	m.protocols, m.rebalanceTimeout, m.sessionTimeout = req.Protocols, req.RebalanceTimeout, req.SessionTimeout
	// Unlike Kafka, which keeps the first client's id and host, describe
	// the instance as the client now running it.
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	wait := make(chan joinOutcome, 1)
	m.joinWait = wait

	switch g.state {
	case stateStable:
		if g.selectProtocol() != g.protocol {
			s.maybePrepareRebalance(g)
			break
		}
		// revert undoes the replacement when the new id could not be
		// persisted, so the previous instance keeps its place.
		revert := func(err error) {
			if m.joinWait != wait || g.members[newID] != m {
				return // a rebalance took the join over
			}
			m.finishJoin(JoinResult{Generation: g.generation, ProtocolType: g.protocolType,
				Protocol: g.protocol, Leader: oldLeader}, err)
			m.protocols, m.rebalanceTimeout, m.sessionTimeout = oldProtocols, oldRebalance, oldSession
			m.clientID, m.clientHost = oldClient, oldHost
			s.swapStaticID(g, req.InstanceID, newID, oldID)
			s.resetSession(g, m, m.sessionTimeout)
		}
		assignment := make(map[string][]byte, len(g.order))
		for _, o := range g.order {
			assignment[o.id] = o.assignment
		}
		value := groupValue(g, assignment, s.cfg.Now())
		recs := []Record{{Key: groupKey(g.id), Value: value}}
		err := s.appendBatch(recs, func(base int64, err error) error {
			if err != nil {
				s.logger.Warn("group: persisting a replaced static member failed", "group", g.id, "instance", req.InstanceID, "err", err)
				revert(err)
				return nil
			}
			g.metaValue, g.metaOffset = value, base
			if g.state != stateStable || m.joinWait != wait {
				return nil // a rebalance took the join over
			}
			if req.SupportsSkipAssignment {
				// The leader learns it leads, to keep watching metadata,
				// but must not assign: the group is stable.
				m.finishJoin(s.joinResult(g, m, g.leader == m.id), nil)
				return nil
			}
			// Older clients are told the previous leader id, so a static
			// leader does not compute an assignment that a stable group
			// would never distribute.
			res := s.joinResult(g, m, false)
			res.Leader, res.Members = oldLeader, nil
			m.finishJoin(res, nil)
			return nil
		}, nil)
		if err != nil {
			revert(err)
		}
	case stateCompleting:
		// The leader may be assigning to the old id; rebalance so that
		// the new id gets an assignment.
		s.prepareRebalance(g)
	}
	s.maybeCompleteJoin(g)
	return wait
}

// swapStaticID renames the static member oldID to newID, failing any
// JoinGroup or SyncGroup the old id is waiting on with ErrFencedInstanceID.
func (s *Shard) swapStaticID(g *group, instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	m.finishJoin(JoinResult{MemberID: oldID, Generation: -1}, ErrFencedInstanceID)
	m.finishSync(SyncResult{}, ErrFencedInstanceID)
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	return m
}

// maybePrepareRebalance starts a rebalance unless one is under way.
func (s *Shard) maybePrepareRebalance(g *group) {
	switch g.state {
	case stateStable, stateCompleting, stateEmpty:
		s.prepareRebalance(g)
	}
}

// prepareRebalance moves the group to PreparingRebalance and arms the join
// deadline: the rebalance timeout, or for an empty group the initial delay.
func (s *Shard) prepareRebalance(g *group) {
	if g.state == stateCompleting {
		s.resetAssignments(g, ErrRebalanceInProgress)
	}
	stopTimer(&g.syncTimer)
	if g.state == stateEmpty && s.cfg.InitialRebalanceDelay > 0 {
		g.inInitialDelay = true
		g.newMemberAdded = false
		delay := s.cfg.InitialRebalanceDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		s.schedule(&g.joinTimer, delay, func() { s.initialDelayDone(g, remaining) })
	} else {
		s.schedule(&g.joinTimer, g.rebalanceTimeout(), func() { s.completeJoin(g) })
	}
	g.transition(statePreparing, s.cfg.Now())
	s.logger.Debug("group: preparing rebalance", "group", g.id, "generation", g.generation)
}

// initialDelayDone ends one step of the initial delay: if members joined
// during it and the rebalance timeout allows, wait once more, else complete
// the join (Kafka's InitialDelayedJoin).
func (s *Shard) initialDelayDone(g *group, remaining time.Duration) {
	if g.newMemberAdded && remaining > 0 {
		g.newMemberAdded = false
		delay := min(s.cfg.InitialRebalanceDelay, remaining)
		s.schedule(&g.joinTimer, delay, func() { s.initialDelayDone(g, remaining-delay) })
		return
	}
	g.inInitialDelay = false
	s.completeJoin(g)
}

// maybeCompleteJoin completes the join phase once every member rejoined.
func (s *Shard) maybeCompleteJoin(g *group) {
	if g.state == statePreparing && !g.inInitialDelay && g.allJoined() {
		s.completeJoin(g)
	}
}

// completeJoin ends the join phase: dynamic members that did not rejoin are
// dropped (static ones stay, they may come back), a new generation starts and
// every joined member gets its JoinGroup response.
func (s *Shard) completeJoin(g *group) {
	if g.state != statePreparing {
		return
	}
	stopTimer(&g.joinTimer)
	g.inInitialDelay = false
	for _, m := range append([]*member(nil), g.order...) {
		if m.joinWait == nil && m.instanceID == "" {
			s.logger.Info("group: member did not rejoin in time, removing it", "group", g.id, "member", m.id)
			s.dropMember(g, m)
		}
	}
	if !s.electJoinedLeader(g) && len(g.members) > 0 {
		// Only static members that did not rejoin remain: wait for them
		// to come back or for their sessions to expire.
		s.schedule(&g.joinTimer, g.rebalanceTimeout(), func() { s.completeJoin(g) })
		return
	}
	now := s.cfg.Now()
	g.generation++
	clear(g.pendingSync)
	if len(g.members) == 0 {
		g.protocol = ""
		g.transition(stateEmpty, now)
		g.subscribed = g.computeSubscribed()
		s.storeEmpty(g, now)
		return
	}
	g.protocol = g.selectProtocol()
	g.transition(stateCompleting, now)
	g.subscribed = g.computeSubscribed()
	s.logger.Info("group: join complete", "group", g.id, "generation", g.generation,
		"protocol", g.protocol, "leader", g.leader, "members", len(g.members))
	for _, m := range g.order {
		m.finishJoin(s.joinResult(g, m, false), nil)
		s.resetSession(g, m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	gen := g.generation
	s.schedule(&g.syncTimer, g.rebalanceTimeout(), func() { s.expirePendingSync(g, gen) })
}

// electJoinedLeader keeps the leader if it rejoined, else picks a member that
// did; it reports false when none did.
func (s *Shard) electJoinedLeader(g *group) bool {
	if g.leader == "" {
		return false
	}
	if m := g.members[g.leader]; m != nil && m.joinWait != nil {
		return true
	}
	for _, m := range g.order {
		if m.joinWait != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// storeEmpty persists that the group became empty. A failure is only logged:
// an empty generation has no members that could act on a stale record.
func (s *Shard) storeEmpty(g *group, now time.Time) {
	value := groupValue(g, nil, now)
	err := s.appendBatch([]Record{{Key: groupKey(g.id), Value: value}}, func(base int64, err error) error {
		if err != nil {
			s.logger.Warn("group: persisting an empty group failed", "group", g.id, "err", err)
			return nil
		}
		g.metaValue, g.metaOffset = value, base
		return nil
	}, nil)
	if err != nil {
		s.logger.Warn("group: persisting an empty group failed", "group", g.id, "err", err)
	}
}

// expirePendingSync drops the members of generation gen that never sent
// SyncGroup within the rebalance timeout, and rebalances without them.
func (s *Shard) expirePendingSync(g *group, gen int32) {
	if gen != g.generation || (g.state != stateCompleting && g.state != stateStable) || len(g.pendingSync) == 0 {
		return
	}
	for _, m := range append([]*member(nil), g.order...) {
		if g.pendingSync[m.id] {
			s.logger.Info("group: member did not sync in time, removing it", "group", g.id, "member", m.id)
			s.dropMember(g, m)
		}
	}
	s.prepareRebalance(g)
	s.maybeCompleteJoin(g)
}

// resetSession restarts m's session timer with d.
func (s *Shard) resetSession(g *group, m *member, d time.Duration) {
	s.schedule(&m.session, d, func() { s.expireSession(g, m) })
}

// expireSession removes a member whose session timed out. Members waiting
// in a rebalance are exempt (the rebalance has its own deadline), except new
// members, whose timer is the new-member join timeout.
func (s *Shard) expireSession(g *group, m *member) {
	if g.members[m.id] != m || g.state == stateDead {
		return
	}
	if !m.isNew && (m.joinWait != nil || m.syncWait != nil) {
		return
	}
	s.logger.Info("group: member session expired, removing it", "group", g.id, "member", m.id)
	s.removeMember(g, m)
}

// removeMember removes m (leave or expiry) and moves the group on: a stable
// or completing group rebalances, a preparing one may now complete its join.
func (s *Shard) removeMember(g *group, m *member) {
	s.dropMember(g, m)
	switch g.state {
	case stateStable, stateCompleting:
		s.maybePrepareRebalance(g)
		s.maybeCompleteJoin(g)
	case statePreparing:
		s.maybeCompleteJoin(g)
	}
}

// dropMember removes m from g, stopping its timer and failing its waits with
// ErrUnknownMemberID so that a live client joins afresh.
func (s *Shard) dropMember(g *group, m *member) {
	stopTimer(&m.session)
	m.finishJoin(JoinResult{Generation: -1}, ErrUnknownMemberID)
	m.finishSync(SyncResult{}, ErrUnknownMemberID)
	g.remove(m)
}
