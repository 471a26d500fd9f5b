package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func slackClient(t *testing.T, token string) (*Server, *slack.Client) {
	t.Helper()
	fake, srv := newFake(t)
	return fake, slack.New(token, slack.OptionAPIURL(srv.URL+"/api/"))
}

func TestSlackGoPostUpdateEphemeral(t *testing.T) {
	fake, api := slackClient(t, testToken)
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*T-17* check gate 3", false, false), nil, nil),
		slack.NewActionBlock("task", slack.NewButtonBlockElement("ack", "T-17", slack.NewTextBlockObject(slack.PlainTextType, "Ack", false, false))),
	}
	ch, ts, err := api.PostMessage("C0SITE",
		slack.MsgOptionText("T-17 check gate 3", false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionLinkNames(false),
		slack.MsgOptionParse(false),
	)
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if ch != "C0SITE" || ts == "" {
		t.Fatalf("PostMessage = %q, %q", ch, ts)
	}
	p, ok := fake.Message(ch, ts)
	if !ok {
		t.Fatal("message not recorded")
	}
	var got []map[string]any
	if err := json.Unmarshal(p.Blocks, &got); err != nil || len(got) != 2 || got[1]["type"] != "actions" {
		t.Errorf("blocks = %s (%v)", p.Blocks, err)
	}
	if p.LinkNames != "false" || p.Parse != "none" || p.JSON {
		t.Errorf("link_names %q, parse %q, json %v", p.LinkNames, p.Parse, p.JSON)
	}

	_, uts, _, err := api.UpdateMessage(ch, ts, slack.MsgOptionText("T-17 acknowledged by Ana", false))
	if err != nil || uts != ts {
		t.Fatalf("UpdateMessage: %q %v", uts, err)
	}
	if p, _ := fake.Message(ch, ts); p.Text != "T-17 acknowledged by Ana" {
		t.Errorf("after update: %q", p.Text)
	}
	if _, _, _, err := api.UpdateMessage(ch, "1.1", slack.MsgOptionText("x", false)); err == nil || err.Error() != "message_not_found" {
		t.Errorf("update of an unknown message: %v", err)
	}

	ets, err := api.PostEphemeral("C0SITE", "U123", slack.MsgOptionText("Only you see this", false))
	if err != nil || ets == "" {
		t.Fatalf("PostEphemeral: %q %v", ets, err)
	}
	posts := fake.Posts()
	if len(posts) != 3 || posts[2].Method != "chat.postEphemeral" || posts[2].User != "U123" {
		t.Errorf("posts = %+v", posts)
	}
	if reqs := fake.Requests(); reqs[0].TokenIn != "body" {
		t.Errorf("slack-go sent the token in %q; the fake's doc says the form body", reqs[0].TokenIn)
	}
}

func TestSlackGoOpenConversationAndAuthTest(t *testing.T) {
	_, api := slackClient(t, testToken)
	ch, noOp, already, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U123"}, ReturnIM: true})
	if err != nil || ch.ID != "DU123" || noOp || already {
		t.Fatalf("OpenConversation = %+v %v %v %v", ch, noOp, already, err)
	}
	_, _, already, _ = api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U123"}})
	if !already {
		t.Error("second open is not already_open")
	}
	who, err := api.AuthTest()
	if err != nil || who.UserID != BotUserID || who.TeamID != TeamID || who.BotID != BotID {
		t.Errorf("AuthTest = %+v, %v", who, err)
	}
}

func TestSlackGoAuthErrors(t *testing.T) {
	_, api := slackClient(t, "xoxb-wrong")
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false)); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("err = %v, want invalid_auth", err)
	}
}

func TestSlackGoRateLimited(t *testing.T) {
	fake, api := slackClient(t, testToken)
	fake.RateLimitNext(1, 3*time.Second)
	_, _, err := api.PostMessageContext(context.Background(), "C1", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Fatalf("err = %#v, want *slack.RateLimitedError after 3s", err)
	}
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("after the limit: %v", err)
	}
}

func TestSlackGoResponseURL(t *testing.T) {
	fake, srv := newFake(t)
	api := slack.New(testToken, slack.OptionAPIURL(srv.URL+"/api/"))
	u := fake.ResponseURL(srv.URL)
	_, _, err := api.PostMessage("", slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral), slack.MsgOptionText("Unknown site @x. Try /roster @hq", false))
	if err != nil {
		t.Fatalf("post to response_url: %v", err)
	}
	rs := fake.Responses()
	if len(rs) != 1 || rs[0].ResponseType != "ephemeral" || rs[0].Text != "Unknown site @x. Try /roster @hq" {
		t.Errorf("responses = %+v", rs)
	}
}
