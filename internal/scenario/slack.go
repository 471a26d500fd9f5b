package scenario

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/notify"
)

// Credentials of the fake Slack workspace a Slack scenario runs against.
const (
	SlackBotToken      = "xoxb-scenario"
	SlackSigningSecret = "scenario-signing-secret"
)

// Slack is a scenario with muster's Slack adapter wired in, against fake
// Slack: chat fan-out goes to the adapter (and still to the Recorder), and
// commands can come in as signed Slack requests.
//
//	s := scenario.NewSlack(t)
//	s.Slash("U0JONAH", "C0HARBOUR", "/plan", "trigger medical-emergency @harbour")
//	s.Deliver()                       // cards posted
//	s.SMS("+447700900101", "ACK 3")   // acknowledged elsewhere
//	s.Deliver()                       // the card says so
type Slack struct {
	*Harness
	Fake    *fakeslack.Server
	API     *httptest.Server
	Adapter *slackbot.Adapter
	mux     *http.ServeMux
}

// NewSlack builds a Slack scenario on the example config.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	h := New(t)
	fake := fakeslack.New(SlackBotToken)
	fake.SetClock(h.Clock.Now)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)

	disp := notify.NewDispatcher(nil)
	disp.SetStore(h.Store) // as muster serve: each chat surface gets a message once
	disp.AddChat(h.Out)
	disp.SetSMS(h.Out)
	disp.SetVoice(h.Out)
	co := commands.Options{Config: h.Config, Store: h.Store, Now: h.Clock.Now, Engine: h.Engine}
	h.Svc = commands.New(co)
	h.del = notify.NewDeliverer(h.Store, disp, nil, notify.NewToken(), h.Config.Engine.Lease.D())

	a, err := slackbot.New(slackbot.Options{
		Service: h.Svc, Store: h.Store, Config: h.Config,
		BotToken: SlackBotToken, SigningSecret: SlackSigningSecret,
		APIURL: api.URL + "/api/", HTTPClient: api.Client(), Clock: h.Clock, Logger: zap.NewNop(),
		// Scenarios check what commands do, not how fast: under -race on a
		// busy machine a plan trigger may pass the 2 s budget, whose
		// "working on it" path bot/slack tests on its own.
		ReplyBudget: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	disp.AddChat(a)
	mux := http.NewServeMux()
	a.Register(mux)
	s := &Slack{Harness: h, Fake: fake, API: api, Adapter: a, mux: mux}
	// Join the change feed now, so every later change reaches the cards.
	if _, err := a.RefreshCards(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// SlashAnswer is the HTTP answer to a slash command.
type SlashAnswer struct {
	Status int
	slackbot.Response
}

// Slash sends a slash command as Slack would (signed, now), then settles.
func (s *Slack) Slash(user, channel, command, text string) SlashAnswer {
	s.T.Helper()
	form := url.Values{
		"team_id": {fakeslack.TeamID}, "channel_id": {channel}, "user_id": {user},
		"command": {command}, "text": {text}, "response_url": {s.Fake.ResponseURL(s.API.URL)},
	}
	w := s.post("/slack/commands", form)
	ans := SlashAnswer{Status: w.Code}
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &ans.Response); err != nil {
			s.T.Fatalf("%s %s: answer %q: %v", command, text, w.Body, err)
		}
	}
	s.Settle()
	return ans
}

// Click presses a card's button as user, as Slack would send it, waits
// for the answer posted to its response_url, then settles.
func (s *Slack) Click(user, channel, actionID, value string) fakeslack.Response {
	s.T.Helper()
	respURL := s.Fake.ResponseURL(s.API.URL)
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": channel},
		"response_url": respURL,
		"actions":      []map[string]any{{"type": "button", "action_id": actionID, "value": value, "block_id": "actions"}},
	})
	w := s.post("/slack/interactions", url.Values{"payload": {string(payload)}})
	if w.Code != http.StatusOK {
		s.T.Fatalf("click %s %s: HTTP %d", actionID, value, w.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.Fake.WaitForResponse(ctx, func(r fakeslack.Response) bool { return r.ID == respURL[strings.LastIndex(respURL, "/")+1:] })
	if err != nil {
		s.T.Fatalf("click %s %s: no answer: %v", actionID, value, err)
	}
	s.Settle()
	return r
}

// SMS runs an inbound SMS line from a phone number, then settles.
func (s *Slack) SMS(phone, text string) commands.Reply {
	s.T.Helper()
	r := s.Svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformSMS, UserID: phone, Text: text})
	s.Settle()
	return r
}

func (s *Slack) post(path string, form url.Values) *httptest.ResponseRecorder {
	body := form.Encode()
	ts := s.Clock.Now().Unix()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("X-Slack-Signature", slackbot.Sign(SlackSigningSecret, ts, []byte(body)))
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, r)
	return w
}

// Deliver lets Slack catch up: it hands every change to the card
// refresher and waits until every queued post and edit is made, moving
// the clock a quarter second at a time while a queue waits out its pacing
// or a Retry-After. It fails the test after 10 s of real time.
func (s *Slack) Deliver() {
	s.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Adapter.RefreshCards(ctx); err != nil {
		s.T.Fatalf("refresh cards: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Adapter.Flush(ctx) }()
	for {
		changed := s.Clock.Changed()
		select {
		case err := <-done:
			if err != nil {
				s.T.Fatalf("slack queues did not drain: %v", err)
			}
			return
		default:
		}
		if s.Clock.Waiters() > 0 {
			s.Clock.Advance(250 * time.Millisecond)
			continue
		}
		select {
		case err := <-done:
			if err != nil {
				s.T.Fatalf("slack queues did not drain: %v", err)
			}
			return
		case <-changed:
		}
	}
}

// Card returns where ref's Slack card is in channel and the message as
// it stands now; it fails the test when there is none.
func (s *Slack) Card(ref, channel string) fakeslack.Post {
	s.T.Helper()
	locs, err := s.Store.Cards(context.Background(), slackbot.Platform, ref)
	if err != nil {
		s.T.Fatal(err)
	}
	for _, l := range locs {
		ch, ts, _ := strings.Cut(l, "/")
		if ch != channel {
			continue
		}
		p, ok := s.Fake.Message(ch, ts)
		if !ok {
			s.T.Fatalf("%s card %s is not in fake Slack", ref, l)
		}
		return p
	}
	s.T.Fatalf("no %s card in %s; cards: %v", ref, channel, locs)
	return fakeslack.Post{}
}
