package fakeslack

import (
	"context"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// What slack-go reads back through conversations.history: the channel's
// messages newest first, thread replies left out, metadata only when asked
// for, oldest exclusive, pages through the cursor.
func TestHistoryThroughSlackGo(t *testing.T) {
	fake, api := slackClient(t, testToken)
	now := time.Unix(1800000000, 0)
	fake.SetClock(func() time.Time { return now })
	ctx := context.Background()
	md := slack.SlackMetadata{EventType: "muster_message", EventPayload: map[string]any{"id": "1-0", "namespace": "ns"}}
	_, first, err := api.PostMessageContext(ctx, "C0SITE", slack.MsgOptionText("first", false), slack.MsgOptionMetadata(md))
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if _, _, err := api.PostMessageContext(ctx, "C0SITE", slack.MsgOptionText("reply", false), slack.MsgOptionTS(first)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0OTHER", slack.MsgOptionText("elsewhere", false)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	_, second, err := api.PostMessageContext(ctx, "C0SITE", slack.MsgOptionText("second", false))
	if err != nil {
		t.Fatal(err)
	}
	if first != "1800000000.000000" || second != "1800000002.000000" {
		t.Fatalf("timestamps %s, %s; want the clock's", first, second)
	}

	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0SITE", IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Text != "second" || h.Messages[1].Text != "first" || h.HasMore {
		t.Fatalf("history = %+v", h.Messages)
	}
	if m := h.Messages[1].Metadata; m.EventType != "muster_message" || m.EventPayload["id"] != "1-0" {
		t.Fatalf("metadata of the first = %+v", m)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0SITE"})
	if err != nil || h.Messages[1].Metadata.EventType != "" {
		t.Fatalf("metadata without include_all_metadata: %+v, %v", h.Messages[1].Metadata, err)
	}
	// oldest is exclusive: from the first's ts on, only the second.
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0SITE", Oldest: first})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Text != "second" {
		t.Fatalf("history after %s = %+v, %v", first, h.Messages, err)
	}
	// One per page.
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0SITE", Limit: 1})
	if err != nil || len(h.Messages) != 1 || !h.HasMore || h.ResponseMetaData.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", h, err)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0SITE", Limit: 1, Cursor: h.ResponseMetaData.NextCursor})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Text != "first" || h.HasMore {
		t.Fatalf("second page = %+v, %v", h, err)
	}

	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C0SITE", Timestamp: first, IncludeAllMetadata: true})
	if err != nil || len(msgs) != 2 || msgs[0].Text != "first" || msgs[1].Text != "reply" {
		t.Fatalf("replies = %+v, %v", msgs, err)
	}
	if _, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C0SITE", Timestamp: "1.0"}); err == nil || err.Error() != "thread_not_found" {
		t.Fatalf("replies of no message: %v", err)
	}
}

// HoldAnswers: the post is made (history has it) while its answer waits.
func TestHoldAnswersMakesThePost(t *testing.T) {
	fake, api := slackClient(t, testToken)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fake.HoldAnswers()
	done := make(chan error, 1)
	go func() {
		_, _, err := api.PostMessageContext(ctx, "C0SITE", slack.MsgOptionText("held", false))
		done <- err
	}()
	if err := fake.WaitFor(ctx, func() bool { return fake.HeldAnswers() == 1 }); err != nil {
		t.Fatal(err)
	}
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0SITE"})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Text != "held" {
		t.Fatalf("history while the answer is held = %+v, %v", h, err)
	}
	select {
	case err := <-done:
		t.Fatalf("the post returned (%v) while its answer was held", err)
	default:
	}
	fake.ReleaseAnswers()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
