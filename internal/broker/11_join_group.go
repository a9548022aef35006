package broker

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/group"
	"github.com/spotstream/spotstream/internal/wire"
)

// The group APIs do all their work in wire.Later: each runs after the
// previous response on its connection was written, as Kafka serves one
// request per connection at a time, and a JoinGroup that waits for the
// rebalance holds back only its own connection.

func (b *Broker) handleJoinGroup(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.JoinGroupRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		jr := group.JoinRequest{
			Group:                r.Group,
			MemberID:             r.MemberID,
			InstanceID:           deref(r.InstanceID),
			ClientID:             req.Header.ClientID,
			ClientHost:           clientHost(req.Conn),
			ProtocolType:         r.ProtocolType,
			SessionTimeout:       millis(r.SessionTimeoutMillis),
			RebalanceTimeout:     millis(r.RebalanceTimeoutMillis),
			RequireKnownMemberID: r.Version >= 4,
			Reason:               deref(r.Reason),
		}
		if r.Version == 0 {
			jr.RebalanceTimeout = jr.SessionTimeout // v0 has one timeout for both
		}
		for _, p := range r.Protocols {
			jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
		}
		shard, err := b.groupShard(r.Group)
		var res group.JoinResult
		if err == nil {
			res, err = shard.Join(ctx, jr)
		}
		if err != nil {
			resp.ErrorCode = errorCode(err)
			resp.Generation = -1
			resp.MemberID = r.MemberID
			if errors.Is(err, group.ErrMemberIDRequired) {
				resp.MemberID = res.MemberID
			}
			return resp
		}
		resp.Generation = res.Generation
		resp.ProtocolType = &res.ProtocolType
		resp.Protocol = &res.Protocol
		resp.LeaderID = res.Leader
		resp.MemberID = res.MemberID
		resp.SkipAssignment = res.SkipAssignment
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
			if m.InstanceID != "" {
				rm.InstanceID = &m.InstanceID
			}
			resp.Members = append(resp.Members, rm)
		}
		return resp
	})
}

// clientHost is how Kafka shows a member's address: "/" and the IP.
func clientHost(conn *wire.ConnInfo) string {
	if conn == nil || conn.RemoteAddr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(conn.RemoteAddr.String())
	if err != nil {
		host = conn.RemoteAddr.String()
	}
	return "/" + host
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// optional returns a pointer to s, or nil for "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
