package group

import (
	"context"
	"fmt"
)

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32
	// ProtocolType and Protocol are sent from SyncGroup v5; empty means
	// not sent.
	ProtocolType, Protocol string
	// Assignments maps member ids to assignments; only the leader sends it.
	Assignments map[string][]byte
}

// SyncResult is a SyncGroup response.
type SyncResult struct {
	ProtocolType, Protocol string
	Assignment             []byte
}

// Sync handles a SyncGroup request. While the group completes its rebalance
// it blocks until the leader's assignment is persisted, the group goes back
// to rebalancing (ErrRebalanceInProgress), the shard closes
// (ErrNotCoordinator) or ctx ends.
func (s *Shard) Sync(ctx context.Context, req SyncRequest) (SyncResult, error) {
	s.mu.Lock()
	wait, res, err := s.sync(req)
	s.mu.Unlock()
	if wait == nil {
		return res, err
	}
	select {
	case out := <-wait:
		return out.res, out.err
	case <-ctx.Done():
		return SyncResult{}, fmt.Errorf("group: waiting for the assignment of %q: %w", req.Group, ctx.Err())
	}
}

func (s *Shard) sync(req SyncRequest) (chan syncOutcome, SyncResult, error) {
	if err := s.usable(); err != nil {
		return nil, SyncResult{}, err
	}
	if req.Group == "" {
		return nil, SyncResult{}, ErrInvalidGroupID
	}
	g := s.groups[req.Group]
	if g == nil {
		return nil, SyncResult{}, ErrUnknownMemberID
	}
	if g.state == stateDead {
		return nil, SyncResult{}, ErrCoordinatorNotAvailable
	}
	m, err := g.validateMember(req.MemberID, req.InstanceID)
	switch {
	case err != nil:
		return nil, SyncResult{}, err
	case req.Generation != g.generation:
		return nil, SyncResult{}, ErrIllegalGeneration
	case req.ProtocolType != "" && req.ProtocolType != g.protocolType,
		req.Protocol != "" && req.Protocol != g.protocol:
		return nil, SyncResult{}, ErrInconsistentProtocol
	}
	switch g.state {
	case statePreparing:
		return nil, SyncResult{}, ErrRebalanceInProgress
	case stateStable:
		delete(g.pendingSync, m.id)
		s.resetSession(g, m, m.sessionTimeout)
		return nil, SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}, nil
	case stateCompleting:
	default:
		return nil, SyncResult{}, ErrUnknownMemberID
	}

	m.finishSync(SyncResult{}, ErrRebalanceInProgress) // a retry replaces the first
	wait := make(chan syncOutcome, 1)
	m.syncWait = wait
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		s.storeAssignment(g, req.Assignments)
	}
	return wait, SyncResult{}, nil
}

// storeAssignment persists the leader's assignment and, once committed,
// hands every member its part and makes the group stable. Members missing
// from the assignment get an empty one, as in Kafka.
func (s *Shard) storeAssignment(g *group, assignments map[string][]byte) {
	assignment := make(map[string][]byte, len(g.order))
	for _, m := range g.order {
		a := assignments[m.id]
		if a == nil {
			a = []byte{}
		}
		assignment[m.id] = a
	}
	gen := g.generation
	value := groupValue(g, assignment, g.stateTime)
	apply := func(base int64, err error) error {
		if err == nil {
			g.metaValue, g.metaOffset = value, base
		}
		// A member may have joined or left while the batch was in
		// flight; then the group moved on and this outcome is moot.
		if g.state != stateCompleting || g.generation != gen {
			return nil
		}
		if err != nil {
			s.resetAssignments(g, err)
			s.maybePrepareRebalance(g)
			s.maybeCompleteJoin(g)
			return nil
		}
		for _, m := range g.order {
			m.assignment = assignment[m.id]
		}
		s.propagate(g, nil)
		g.transition(stateStable, s.cfg.Now())
		s.logger.Info("group: stable", "group", g.id, "generation", g.generation, "members", len(g.members))
		return nil
	}
	if err := s.appendBatch([]Record{{Key: groupKey(g.id), Value: value}}, apply, nil); err != nil {
		_ = apply(-1, err)
	}
}

// resetAssignments clears the assignments and fails the waiting SyncGroups
// with err.
func (s *Shard) resetAssignments(g *group, err error) {
	for _, m := range g.order {
		m.assignment = nil
	}
	s.propagate(g, err)
}

// propagate answers every waiting SyncGroup with its member's assignment, or
// err, and restarts those members' session timers: their sessions were
// suspended while they waited.
func (s *Shard) propagate(g *group, err error) {
	for _, m := range g.order {
		if m.syncWait == nil {
			continue
		}
		if err != nil {
			m.finishSync(SyncResult{}, err)
		} else {
			m.finishSync(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}, nil)
		}
		s.resetSession(g, m, m.sessionTimeout)
	}
}

// HeartbeatRequest is a Heartbeat request.
type HeartbeatRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32
}

// Heartbeat handles a Heartbeat request: it restarts the member's session
// timer and returns ErrRebalanceInProgress while the group prepares a
// rebalance, which is how members learn to rejoin. It never blocks; ctx is
// there so that every request method has the same shape.
func (s *Shard) Heartbeat(_ context.Context, req HeartbeatRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if req.Group == "" {
		return ErrInvalidGroupID
	}
	g := s.groups[req.Group]
	switch {
	case g == nil:
		return ErrUnknownMemberID
	case g.state == stateDead:
		return ErrCoordinatorNotAvailable
	case g.staticFenced(req.InstanceID, req.MemberID):
		return ErrFencedInstanceID
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return ErrUnknownMemberID
	case req.Generation != g.generation:
		return ErrIllegalGeneration
	}
	switch g.state {
	case stateCompleting, stateStable:
		s.resetSession(g, m, m.sessionTimeout)
		return nil
	case statePreparing:
		s.resetSession(g, m, m.sessionTimeout)
		return ErrRebalanceInProgress
	}
	return ErrUnknownMemberID
}

// LeavingMember is one member of a LeaveGroup request. With an empty
// MemberID, the static member with InstanceID is removed (an administrative
// removal).
type LeavingMember struct {
	MemberID, InstanceID, Reason string
}

// Leave handles a LeaveGroup request: it removes the members, which starts a
// rebalance, and returns one error (nil: removed) per member. The second
// result is a group-level error. Nothing is written, as in Kafka: the next
// generation's record reflects the departure. It never blocks; ctx is there
// so that every request method has the same shape.
func (s *Shard) Leave(_ context.Context, groupID string, members []LeavingMember) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	if groupID == "" {
		return nil, ErrInvalidGroupID
	}
	errs := make([]error, len(members))
	g := s.groups[groupID]
	if g == nil {
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	if g.state == stateDead {
		return nil, ErrCoordinatorNotAvailable
	}
	for i, lm := range members {
		switch {
		case lm.MemberID == "":
			id, ok := g.static[lm.InstanceID]
			if !ok || lm.InstanceID == "" {
				errs[i] = ErrUnknownMemberID
				continue
			}
			s.logger.Info("group: static member removed", "group", g.id, "member", id, "reason", lm.Reason)
			s.removeMember(g, g.members[id])
		case g.pending[lm.MemberID] != nil:
			stopTimer(&g.pending[lm.MemberID].timer)
			delete(g.pending, lm.MemberID)
			s.maybeCompleteJoin(g)
		default:
			m, err := g.validateMember(lm.MemberID, lm.InstanceID)
			if err != nil {
				errs[i] = err
				continue
			}
			s.logger.Info("group: member left", "group", g.id, "member", m.id, "reason", lm.Reason)
			s.removeMember(g, m)
		}
	}
	return errs, nil
}
