package fakediscord

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// rewrite sends every request to target, keeping path and query: how a discordgo session
// built for https://discord.com reaches the fake without touching discordgo's globals.
type rewrite struct {
	target *url.URL
	next   http.RoundTripper
}

func (rt rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.target.Scheme, rt.target.Host, ""
	return rt.next.RoundTrip(r)
}

func session(t *testing.T, srv *httptest.Server, token string) *discordgo.Session {
	t.Helper()
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(srv.URL)
	s.Client = &http.Client{Transport: rewrite{target: target, next: srv.Client().Transport}, Timeout: 10 * time.Second}
	return s
}

func TestDiscordgoMessages(t *testing.T) {
	fake, srv := newFake(t)
	s := session(t, srv, testToken)

	sent, err := s.ChannelMessageSendComplex("42", &discordgo.MessageSend{
		Content: "INC-42 raised at @hq",
		Embeds:  []*discordgo.MessageEmbed{{Title: "INC-42", Description: "Gate 3 alarm", Color: 0xcc0000}},
		Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "Ack", Style: discordgo.PrimaryButton, CustomID: "ack:T-17"},
		}}},
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
	})
	if err != nil {
		t.Fatalf("ChannelMessageSendComplex: %v", err)
	}
	if sent.ID == "" || sent.ChannelID != "42" || len(sent.Embeds) != 1 || sent.Embeds[0].Title != "INC-42" || len(sent.Components) != 1 || !sent.Author.Bot {
		t.Errorf("sent = %+v", sent)
	}
	m, _ := fake.Message(sent.ID)
	var am map[string]json.RawMessage
	if err := json.Unmarshal(m.AllowedMentions, &am); err != nil || string(am["parse"]) != "[]" {
		t.Errorf("allowed_mentions = %s, want parse: []", m.AllowedMentions)
	}
	var comps []map[string]any
	if err := json.Unmarshal(m.Components, &comps); err != nil || len(comps) != 1 || comps[0]["type"] != 1.0 {
		t.Errorf("components = %s", m.Components)
	}

	plain, err := s.ChannelMessageSend("42", "no mention settings")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.Message(plain.ID); m.AllowedMentions != nil {
		t.Errorf("allowed_mentions = %s, want absent", m.AllowedMentions)
	}

	content := "INC-42 resolved"
	edited, err := s.ChannelMessageEditComplex(&discordgo.MessageEdit{ID: sent.ID, Channel: "42", Content: &content})
	if err != nil {
		t.Fatalf("ChannelMessageEditComplex: %v", err)
	}
	if edited.Content != content || edited.EditedTimestamp == nil || len(edited.Embeds) != 1 {
		t.Errorf("edited = %+v", edited)
	}
	if m, _ := fake.Message(sent.ID); m.Op != OpEdit || m.Content != content {
		t.Errorf("current = %+v", m)
	}

	_, err = s.ChannelMessageEdit("42", "999", "x")
	var rest *discordgo.RESTError
	if !errors.As(err, &rest) || rest.Response.StatusCode != 404 || rest.Message == nil || rest.Message.Code != discordgo.ErrCodeUnknownMessage {
		t.Errorf("edit of an unknown message: %v", err)
	}
}

func TestDiscordgoDMAndCommands(t *testing.T) {
	fake, srv := newFake(t)
	s := session(t, srv, testToken)

	ch, err := s.UserChannelCreate("300")
	if err != nil || ch.ID == "" || ch.Type != discordgo.ChannelTypeDM || len(ch.Recipients) != 1 || ch.Recipients[0].ID != "300" {
		t.Fatalf("UserChannelCreate = %+v, %v", ch, err)
	}
	again, _ := s.UserChannelCreate("300")
	if again.ID != ch.ID || fake.DMChannels()["300"] != ch.ID {
		t.Errorf("DM channel changed: %s then %s", ch.ID, again.ID)
	}

	created, err := s.ApplicationCommandBulkOverwrite(testApp, "", []*discordgo.ApplicationCommand{
		{Name: "incident", Description: "Raise or show incidents"},
		{Name: "ack", Description: "Acknowledge a task"},
	})
	if err != nil || len(created) != 2 || created[0].ID == "" || created[0].ApplicationID != testApp || created[1].Name != "ack" {
		t.Fatalf("ApplicationCommandBulkOverwrite = %+v, %v", created, err)
	}
	if _, err := s.ApplicationCommandBulkOverwrite(testApp, "77", []*discordgo.ApplicationCommand{{Name: "drill", Description: "Run a drill"}}); err != nil {
		t.Fatal(err)
	}
	sets := fake.CommandSets()
	if len(sets) != 2 || sets[0].GuildID != "" || sets[1].GuildID != "77" || sets[1].Names[0] != "drill" {
		t.Errorf("sets = %+v", sets)
	}
}

func TestDiscordgoInteraction(t *testing.T) {
	fake, srv := newFake(t)
	s := session(t, srv, testToken)
	in := &discordgo.Interaction{ID: "801", AppID: testApp, Token: "tok-gw"}

	if err := s.InteractionRespond(in, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}); err != nil {
		t.Fatalf("InteractionRespond: %v", err)
	}
	content := "INC-42 raised"
	msg, err := s.InteractionResponseEdit(in, &discordgo.WebhookEdit{Content: &content})
	if err != nil || msg.Content != content {
		t.Fatalf("InteractionResponseEdit = %+v, %v", msg, err)
	}
	f, err := s.FollowupMessageCreate(in, true, &discordgo.WebhookParams{Content: "paged Ana", Flags: discordgo.MessageFlagsEphemeral})
	if err != nil || f.Content != "paged Ana" {
		t.Fatalf("FollowupMessageCreate = %+v, %v", f, err)
	}
	err = s.InteractionRespond(in, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource})
	var rest *discordgo.RESTError
	if !errors.As(err, &rest) || rest.Message == nil || rest.Message.Code != discordgo.ErrCodeInteractionHasAlreadyBeenAcknowledged {
		t.Errorf("second response: %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Path == "/api/v9/interactions/801/tok-gw/callback" {
			return
		}
	}
	t.Errorf("no callback at the path discordgo v0.29 builds; requests: %+v", fake.Requests())
}

func TestDiscordgoRateLimits(t *testing.T) {
	fake, srv := newFake(t)
	s := session(t, srv, testToken)

	// discordgo waits retry_after and retries by itself.
	fake.RateLimitNext(1, 20*time.Millisecond, false)
	if _, err := s.ChannelMessageSend("42", "after a short wait"); err != nil {
		t.Fatalf("retry after 429: %v", err)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 {
		t.Errorf("requests = %+v", reqs)
	}

	s.ShouldRetryOnRateLimit = false
	fake.RateLimitNext(1, 500*time.Millisecond, false)
	_, err := s.ChannelMessageSend("43", "x")
	var rl *discordgo.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 500*time.Millisecond {
		t.Errorf("err = %#v, want *discordgo.RateLimitError after 500ms", err)
	}
}

func TestDiscordgoUnauthorized(t *testing.T) {
	_, srv := newFake(t)
	s := session(t, srv, "wrong")
	_, err := s.ChannelMessageSend("42", "x")
	var rest *discordgo.RESTError
	if !errors.As(err, &rest) || rest.Response.StatusCode != 401 || rest.Message == nil || rest.Message.Message != "401: Unauthorized" {
		t.Errorf("err = %v", err)
	}
}
