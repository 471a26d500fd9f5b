package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/slack-go/slack"

	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Posting again after an unknown outcome
//
// chat.postMessage takes no idempotency key. When an earlier attempt may
// have posted a message without its outcome being recorded (its process
// died mid-post, or the request timed out or lost its connection after it
// was written: notify.Message MaybeSent, or this process's own attempt),
// the adapter looks for it before posting again. Every post of an outbox
// message carries Slack message metadata naming it (event type
// MetadataType; payload: the organization's namespace, the outbox
// message id and its idempotency key), and the lookup reads the
// channel's history since the first attempt, less LookupMargin, with
// conversations.history (or the thread's replies with
// conversations.replies, for an incident's update) and
// include_all_metadata, up to lookupPages pages of lookupPageSize. Found:
// not posted again; the post counts as made (its card is remembered).
// Not found: posted. The lookup failed: posted all the same (at least
// once beats never), and logged; a rate-limited lookup waits its
// Retry-After like a post.
//
// The lookup needs the history scopes of the channels muster posts in
// (channels:history, groups:history, im:history).

// MetadataType is the event_type of the message metadata on every post
// of an outbox message.
const MetadataType = "muster_message"

// LookupMargin is how much earlier than the first attempt a post found
// by the lookup may carry its timestamp: the skew between muster's clock
// and Slack's.
const LookupMargin = time.Minute

// The lookup reads at most lookupPages pages of lookupPageSize messages,
// newest first (Slack's recommended page size).
const (
	lookupPageSize = 200
	lookupPages    = 5
)

// errOutcomeUnknown marks a post whose request may have reached Slack
// although it failed: it timed out, or its connection broke, after it
// was written. Its text is store.OutcomeUnknown, which the outbox records
// with the retry, so the next attempt (in any process) looks the post up.
var errOutcomeUnknown = errors.New(store.OutcomeUnknown)

// metadata is what a post of m carries to be found again; false for a
// message that does not come from the outbox (nothing would look for it).
func (a *Adapter) metadata(m notify.Message) (slack.SlackMetadata, bool) {
	if m.ID == "" {
		return slack.SlackMetadata{}, false
	}
	return slack.SlackMetadata{EventType: MetadataType, EventPayload: map[string]any{
		"namespace": a.cfg().Namespace, "id": m.ID, "key": m.Key,
	}}, true
}

// findPost returns the ts of a post of m in channel (in the thread of
// thread, when set) made since since, or "" when there is none.
func (a *Adapter) findPost(ctx context.Context, channel, thread string, m notify.Message, since time.Time) (string, error) {
	oldest := slackTS(since)
	cursor := ""
	for range lookupPages {
		var (
			msgs []slack.Message
			more bool
			err  error
		)
		if thread != "" {
			msgs, more, cursor, err = a.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: thread, Oldest: oldest, Limit: lookupPageSize, Cursor: cursor, IncludeAllMetadata: true})
		} else {
			var h *slack.GetConversationHistoryResponse
			h, err = a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: channel, Oldest: oldest, Limit: lookupPageSize, Cursor: cursor, IncludeAllMetadata: true})
			if h != nil {
				msgs, more, cursor = h.Messages, h.HasMore, h.ResponseMetaData.NextCursor
			}
		}
		if err != nil {
			return "", fmt.Errorf("look up %s in %s: %w", m.Key, channel, err)
		}
		for _, x := range msgs {
			if a.isPostOf(x, m) {
				return x.Timestamp, nil
			}
		}
		if !more || cursor == "" {
			return "", nil
		}
	}
	return "", nil
}

// isPostOf reports whether x carries the metadata of a post of m.
func (a *Adapter) isPostOf(x slack.Message, m notify.Message) bool {
	md := x.Metadata
	if md.EventType != MetadataType {
		return false
	}
	id, _ := md.EventPayload["id"].(string)
	ns, _ := md.EventPayload["namespace"].(string)
	return id == m.ID && ns == a.cfg().Namespace
}

// slackTS formats t as a Slack message timestamp.
func slackTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// outcomeUnknown reports whether a failed call may have reached Slack all
// the same: Slack did not answer, and the connection was made.
func outcomeUnknown(err error) bool {
	var (
		se slack.SlackErrorResponse
		sc slack.StatusCodeError
		rl *slack.RateLimitedError
		op *net.OpError
	)
	switch {
	case err == nil, errors.As(err, &se), errors.As(err, &sc), errors.As(err, &rl):
		return false
	case errors.As(err, &op) && op.Op == "dial":
		return false
	}
	return true
}
