package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spotstream/spotstream/internal/wire"
)

func (b *Broker) handleDeleteTopics(req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	return wire.Later(func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		ctx, cancel := context.WithTimeout(ctx, time.Duration(max(r.TimeoutMillis, 1))*time.Millisecond)
		defer cancel()

		targets := r.Topics
		for _, name := range r.TopicNames { // v0-v5 name topics only
			targets = append(targets, kmsg.DeleteTopicsRequestTopic{Topic: &name})
		}
		for _, rt := range targets {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			name, err := b.deleteTopic(ctx, rt)
			if name != "" {
				st.Topic = &name
			}
			if err != nil {
				setError(&st.ErrorCode, &st.ErrorMessage, err)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	})
}

// deleteTopic deletes a topic named by name or id and waits until this
// broker has dropped its replicas. It returns the topic's name.
func (b *Broker) deleteTopic(ctx context.Context, rt kmsg.DeleteTopicsRequestTopic) (string, error) {
	if !b.cfg.DeleteTopicEnable {
		return "", kerrf(kerr.TopicDeletionDisabled, "delete.topic.enable is false")
	}
	snap := b.meta.Load()
	var name string
	switch {
	case rt.Topic != nil:
		name = *rt.Topic
		if snap.Topics[name] == nil {
			return name, kerrf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
		}
	default:
		t := snap.TopicsByID[rt.TopicID]
		if t == nil {
			return "", kerrf(kerr.UnknownTopicID, "no topic has id %x", rt.TopicID)
		}
		name = t.Name
	}
	if isInternalTopic(name) {
		return name, kerrf(kerr.InvalidTopicException, "cannot delete internal topic %q", name)
	}
	rev, err := b.store.DeleteTopic(ctx, name)
	if err != nil {
		return name, fmt.Errorf("deleting topic %q: %w", name, err)
	}
	b.log.Info("deleted topic", "topic", name)
	if err := b.replicas.WaitApplied(ctx, rev); err != nil {
		return name, kerrf(kerr.RequestTimedOut, "topic %q deleted but not yet removed here: %v", name, err)
	}
	return name, nil
}
