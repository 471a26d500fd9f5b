package scenario

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/bot"
	discordbot "github.com/muster-ops/muster/bot/discord"
	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/bot/sms"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
)

// Front is muster's whole HTTP surface as `muster serve` mounts it: the
// Slack routes, the Discord interactions endpoint and the four Twilio
// webhooks on one bot.Server, over one store, each platform against its
// fake. Chat fan-out goes to Slack, Discord and the Recorder; SMS and
// calls go through the real Twilio client to the fake Twilio.
//
// Its request builders sign as each vendor signs (or leave a request
// unsigned, for hostile tests), and Serve answers without failing the
// test, so a fuzz target can use one Front for all its inputs.
//
//	f := scenario.NewFront(t)
//	w := f.Serve(f.SlackRequest("/slack/commands", body, scenario.FormType))
//	before := f.Snapshot()
//	...
//	f.Settle()
//	f.Snapshot().Diff(before) // what changed
type Front struct {
	*Harness
	Server *bot.Server
	// App is Server on a real listener; its URL is server.public_url.
	App *httptest.Server

	Slack     *slackbot.Adapter
	SlackFake *fakeslack.Server
	SlackAPI  *httptest.Server

	Discord     *discordbot.Adapter
	DiscordFake *fakediscord.Server
	DiscordAPI  *httptest.Server

	TwilioFake *faketwilio.Server
	TwilioAPI  *httptest.Server

	discordKey ed25519.PrivateKey
	// seq makes every Slack request and Discord interaction unique, as the
	// vendors' are (trigger_id, interaction id).
	seq int64
	// mu guards seq.
	mu sync.Mutex
}

// FormType is the content type of Slack's and Twilio's webhooks.
const FormType = "application/x-www-form-urlencoded"

// NewFront builds a Front on the example config (or o.Config).
func NewFront(t testing.TB, o Options) *Front {
	t.Helper()
	var (
		mu  sync.RWMutex
		app http.Handler = http.NotFoundHandler()
	)
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := app
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(appSrv.Close)

	cfg := o.Config
	if cfg == nil {
		var err error
		if cfg, err = configs.Example(); err != nil {
			t.Fatal(err)
		}
	}
	tw := faketwilio.New(TwilioAccountSID, TwilioAuthToken)
	twAPI := httptest.NewServer(tw)
	t.Cleanup(func() { tw.Close(); twAPI.Close() })
	cfg.Server.PublicURL = appSrv.URL
	cfg.Twilio.APIURL = twAPI.URL
	cfg.Twilio.AccountSID = TwilioAccountSID
	o.Config = cfg
	h := NewWith(t, o)
	tw.SetClock(h.Clock.Now)
	tw.SetHTTPClient(appSrv.Client())

	sl := fakeslack.New(SlackBotToken)
	sl.SetClock(h.Clock.Now)
	slAPI := httptest.NewServer(sl)
	t.Cleanup(slAPI.Close)

	dc := fakediscord.New(DiscordBotToken, DiscordAppID)
	dc.SetClock(h.Clock.Now)
	dcAPI := httptest.NewServer(dc)
	t.Cleanup(dcAPI.Close)
	dc.SetHTTPClient(appSrv.Client())
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	client, err := twilio.New(twilio.Options{
		AccountSID: TwilioAccountSID, AuthToken: TwilioAuthToken, From: cfg.Twilio.From,
		MessagingServiceSID: cfg.Twilio.MessagingServiceSID, APIURL: cfg.Twilio.APIURL,
		PublicURL: cfg.Server.PublicURL, People: cfg, Deliveries: h.Store,
	})
	if err != nil {
		t.Fatal(err)
	}
	slack, err := slackbot.New(slackbot.Options{
		Service: h.Svc, Store: h.Store, Config: cfg,
		BotToken: SlackBotToken, SigningSecret: SlackSigningSecret,
		APIURL: slAPI.URL + "/api/", HTTPClient: slAPI.Client(), Clock: h.Clock, Logger: zap.NewNop(),
		ReplyBudget: 30 * time.Second, // as in NewSlack
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(slack.Close)
	discord, err := discordbot.New(discordbot.Options{
		Service: h.Svc, Store: h.Store, Config: cfg,
		BotToken: DiscordBotToken, AppID: DiscordAppID, PublicKey: hex.EncodeToString(pub),
		APIURL: dcAPI.URL, HTTPClient: dcAPI.Client(), GuildID: DiscordGuild, Clock: h.Clock, Logger: zap.NewNop(),
		DisableGateway: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(discord.Wait)

	disp := notify.NewDispatcher(nil)
	disp.SetStore(h.Store) // as muster serve: each chat surface gets a message once
	disp.AddChat(h.Out)
	disp.AddChat(slack)
	disp.AddChat(discord)
	disp.SetSMS(client)
	disp.SetVoice(client)
	h.del = notify.NewDelivererWith(notify.DelivererOptions{Store: h.Store, Out: disp, Clock: h.Clock,
		Lease: cfg.Engine.Lease.D(), Backoff: func(int) time.Duration { return time.Second }, Consumer: notify.NewToken()})

	handlers, err := sms.New(sms.Options{Config: cfg, Commands: h.Svc, Store: h.Store,
		AuthToken: TwilioAuthToken, PublicURL: cfg.Server.PublicURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := bot.NewServer(nil, h.Store, nil)
	slack.Register(srv)
	srv.Handle("POST /discord/interactions", discord)
	handlers.Mount(srv)
	mu.Lock()
	app = srv
	mu.Unlock()

	f := &Front{Harness: h, Server: srv, App: appSrv,
		Slack: slack, SlackFake: sl, SlackAPI: slAPI,
		Discord: discord, DiscordFake: dc, DiscordAPI: dcAPI,
		TwilioFake: tw, TwilioAPI: twAPI, discordKey: priv}
	// Join both change feeds now, so every later change reaches the cards.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := slack.RefreshCards(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := discord.SyncCards(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// Next is a number no earlier call returned: a trigger_id, an
// interaction id.
func (f *Front) Next() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return f.seq
}

// Serve answers r on the listener's handler, in process.
func (f *Front) Serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.Server.ServeHTTP(w, r)
	return w
}

// SlackRequest is a POST of body to path (/slack/commands or
// /slack/interactions) with contentType, signed as Slack signs it at the
// clock's now.
func (f *Front) SlackRequest(path string, body []byte, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	ts := f.Clock.Now().Unix()
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("X-Slack-Signature", slackbot.Sign(SlackSigningSecret, ts, body))
	return r
}

// SlashForm is a slash command's form as Slack sends it, with a fresh
// trigger_id and a response_url on fake Slack.
func (f *Front) SlashForm(user, channel, command, text string) url.Values {
	return url.Values{
		"team_id": {fakeslack.TeamID}, "channel_id": {channel}, "user_id": {user},
		"command": {command}, "text": {text}, "response_url": {f.SlackFake.ResponseURL(f.SlackAPI.URL)},
		"trigger_id": {strconv.FormatInt(f.Next(), 10)},
	}
}

// DiscordRequest is a POST of body to /discord/interactions signed with
// the application's key, as Discord signs it.
func (f *Front) DiscordRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	ts := strconv.FormatInt(f.Clock.Now().Unix(), 10)
	sig := ed25519.Sign(f.discordKey, append([]byte(ts), body...))
	r.Header.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
	r.Header.Set("X-Signature-Timestamp", ts)
	return r
}

// TwilioRequest is a POST of form to path (/twilio/sms, ...) signed as
// Twilio signs it for server.public_url.
func (f *Front) TwilioRequest(path string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(form.Encode())))
	r.Header.Set("Content-Type", FormType)
	r.Header.Set("X-Twilio-Signature", sms.TwilioSignature(TwilioAuthToken, f.App.URL+r.URL.RequestURI(), form))
	return r
}

// InboundSMS is the form Twilio posts to /twilio/sms for a text from one
// number to muster's.
func (f *Front) InboundSMS(from, body string) url.Values {
	sid := "SM" + strconv.FormatInt(1e12+f.Next(), 10)
	return url.Values{
		"AccountSid": {TwilioAccountSID}, "ApiVersion": {faketwilio.APIVersion}, "Body": {body},
		"From": {from}, "To": {f.Config.Twilio.From}, "MessageSid": {sid}, "SmsSid": {sid},
		"SmsStatus": {"received"}, "NumMedia": {"0"},
	}
}

// Settle delivers everything: due deadlines, the outbox, deferred Discord
// work, card edits on both platforms, and Slack's paced queues (moving
// the clock a quarter second at a time while a queue waits on it). It
// fails the test after 10 s of real time.
func (f *Front) Settle() {
	f.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 100 {
		f.Harness.Settle()
		f.Discord.Wait()
		nd, err := f.Discord.SyncCards(ctx)
		if err != nil {
			f.T.Fatalf("discord cards: %v", err)
		}
		ns, err := f.Slack.RefreshCards(ctx)
		if err != nil {
			f.T.Fatalf("slack cards: %v", err)
		}
		f.flushSlack(ctx)
		if nd == 0 && ns == 0 {
			return
		}
	}
	f.T.Fatal("front did not settle")
}

func (f *Front) flushSlack(ctx context.Context) {
	f.T.Helper()
	done := make(chan error, 1)
	go func() { done <- f.Slack.Flush(ctx) }()
	for {
		changed := f.Clock.Changed()
		select {
		case err := <-done:
			if err != nil {
				f.T.Fatalf("slack queues did not drain: %v", err)
			}
			return
		default:
		}
		if f.Clock.Waiters() > 0 {
			f.Clock.Advance(250 * time.Millisecond)
			continue
		}
		select {
		case err := <-done:
			if err != nil {
				f.T.Fatalf("slack queues did not drain: %v", err)
			}
			return
		case <-changed:
		}
	}
}

// Snapshot is what a hostile request must not change unless it says so:
// the records and everything the fakes were sent.
type Snapshot struct {
	Incidents   int
	Activations int64             // the newest activation's number
	Tasks       map[string]string // T-n -> status
	SlackPosts  int               // chat.postMessage, chat.update, chat.postEphemeral
	Discord     int               // messages created or edited by the bot (not interaction answers)
	SMS, Calls  int
	Chat        int // chat messages the Recorder saw
}

// Snapshot reads the records and the fakes.
func (f *Front) Snapshot() Snapshot {
	f.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := f.Store.ListIncidents(ctx, store.IncidentFilter{Limit: 1 << 20})
	if err != nil {
		f.T.Fatal(err)
	}
	s := Snapshot{Incidents: len(list), Tasks: map[string]string{}}
	if a, err := f.Store.LatestActivation(ctx); err == nil {
		s.Activations = a.Num
	} else if !errors.Is(err, store.ErrNotFound) {
		f.T.Fatal(err)
	}
	for n := int64(1); ; n++ {
		t, err := f.Store.Task(ctx, n)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			f.T.Fatal(err)
		}
		s.Tasks[t.ID()] = t.Status
	}
	s.SlackPosts = len(f.SlackFake.Posts())
	for _, m := range f.DiscordFake.Messages() {
		if m.InteractionToken == "" {
			s.Discord++
		}
	}
	s.SMS, s.Calls = len(f.TwilioFake.Messages()), len(f.TwilioFake.Calls())
	for _, m := range f.Out.Messages() {
		if m.Channel == notify.Chat {
			s.Chat++
		}
	}
	return s
}
