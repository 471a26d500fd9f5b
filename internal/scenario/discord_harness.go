package scenario

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/bot"
	discordbot "github.com/muster-ops/muster/bot/discord"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/notify"
)

// Credentials of the fake Discord application a Discord scenario runs
// against.
const (
	DiscordBotToken = "discord-scenario-token"
	DiscordAppID    = "1100000000000009000"
	// DiscordGuild is the guild the example's site channels are in.
	DiscordGuild = "1300000000000000000"
)

// Discord is a scenario with muster's Discord adapter wired in, against
// fake Discord: chat fan-out goes to the adapter (and still to the
// Recorder), and commands and button clicks come in as signed HTTP
// interactions, as Discord sends them.
//
//	d := scenario.NewDiscord(t)
//	d.As("jonah").MustDo("/plan trigger medical-emergency @harbour")
//	card := d.Card("T-3")                        // the notice in Amara's DMs
//	d.Click("1100000000000000101", card, "ack:T-3") // she acknowledges it
type Discord struct {
	*Harness
	Fake    *fakediscord.Server
	API     *httptest.Server
	Adapter *discordbot.Adapter
	// URL is muster's interactions endpoint, behind the real listener.
	URL  string
	priv ed25519.PrivateKey
	seq  atomic.Int64
}

// NewDiscord builds a Discord scenario on the example config.
func NewDiscord(t testing.TB) *Discord {
	t.Helper()
	h := New(t)
	fake := fakediscord.New(DiscordBotToken, DiscordAppID)
	fake.SetClock(h.Clock.Now)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	disp := notify.NewDispatcher(nil)
	disp.SetStore(h.Store) // as muster serve: each chat surface gets a message once
	disp.AddChat(h.Out)
	disp.SetSMS(h.Out)
	disp.SetVoice(h.Out)
	co := commands.Options{Config: h.Config, Store: h.Store, Now: h.Clock.Now, Engine: h.Engine}
	h.Svc = commands.New(co)
	h.del = notify.NewDeliverer(h.Store, disp, nil, notify.NewToken(), h.Config.Engine.Lease.D())

	a, err := discordbot.New(discordbot.Options{
		Service: h.Svc, Store: h.Store, Config: h.Config,
		BotToken: DiscordBotToken, AppID: DiscordAppID, PublicKey: hex.EncodeToString(pub),
		APIURL: api.URL, GuildID: DiscordGuild, Clock: h.Clock, Logger: zap.NewNop(), DisableGateway: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Wait)
	disp.AddChat(a)
	srv := bot.NewServer(nil, nil, nil)
	srv.Handle("POST /discord/interactions", a)
	front := httptest.NewServer(srv)
	t.Cleanup(front.Close)
	fake.SetHTTPClient(front.Client())
	d := &Discord{Harness: h, Fake: fake, API: api, Adapter: a, URL: front.URL + "/discord/interactions", priv: priv}
	// Join the change feed now, so every later change reaches the cards.
	if _, err := a.SyncCards(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// As sets who types the next console commands.
func (d *Discord) As(person string) *Discord {
	d.Harness.As(person)
	return d
}

// DiscordAnswer is muster's HTTP answer to an interaction (an interaction
// response), decoded loosely: components and embeds stay raw JSON.
type DiscordAnswer struct {
	Type discordgo.InteractionResponseType `json:"type"`
	Data *struct {
		Content         string                 `json:"content"`
		Flags           discordgo.MessageFlags `json:"flags"`
		Embeds          json.RawMessage        `json:"embeds"`
		Components      json.RawMessage        `json:"components"`
		AllowedMentions json.RawMessage        `json:"allowed_mentions"`
	} `json:"data"`
}

// Option is one option of a slash command.
type Option struct{ Name, Value string }

// Slash sends a slash command as Discord would (signed), from user (a
// Discord user id) in channel, then settles and waits for Discord to
// catch up. sub is "" for a command without subcommands. A channel of a
// site is a guild channel (the user comes as member.user), any other a
// DM (user).
func (d *Discord) Slash(user, channel, name, sub string, opts ...Option) DiscordAnswer {
	d.T.Helper()
	var os []map[string]any
	for _, o := range opts {
		os = append(os, map[string]any{"type": 3, "name": o.Name, "value": o.Value})
	}
	options := os
	if sub != "" {
		options = []map[string]any{{"type": 1, "name": sub, "options": os}}
	}
	return d.interact(user, channel, 2, map[string]any{"id": "9001", "name": name, "type": 1, "options": options}, nil)
}

// Click presses a button of a message muster posted, as user, then
// settles and waits for Discord to catch up.
func (d *Discord) Click(user string, m fakediscord.Message, customID string) DiscordAnswer {
	d.T.Helper()
	msg := map[string]any{"id": m.ID, "channel_id": m.ChannelID, "content": m.Content}
	return d.interact(user, m.ChannelID, 3, map[string]any{"custom_id": customID, "component_type": 2}, msg)
}

func (d *Discord) interact(user, channel string, typ int, data, message map[string]any) DiscordAnswer {
	d.T.Helper()
	n := d.seq.Add(1)
	in := map[string]any{
		"id": strconv.FormatInt(5000+n, 10), "application_id": DiscordAppID, "type": typ,
		"token": "scenario-" + strconv.FormatInt(n, 10), "version": 1, "channel_id": channel, "data": data,
	}
	if message != nil {
		in["message"] = message
	}
	if d.isSiteChannel(channel) {
		in["guild_id"] = DiscordGuild
		in["member"] = map[string]any{"user": map[string]any{"id": user, "username": "u" + user}}
	} else {
		in["user"] = map[string]any{"id": user, "username": "u" + user}
	}
	payload, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := d.Fake.SendInteraction(ctx, d.URL, d.priv, payload)
	if err != nil || status != http.StatusOK {
		d.T.Fatalf("interaction %s: HTTP %d %s %v", payload, status, body, err)
	}
	var resp DiscordAnswer
	if err := json.Unmarshal(body, &resp); err != nil {
		d.T.Fatalf("answer %s: %v", body, err)
	}
	d.Settle()
	return resp
}

// Settle runs what is due, delivers the outbox, lets deferred interaction
// work finish, and edits every card whose record changed.
func (d *Discord) Settle() {
	d.T.Helper()
	for range 100 {
		d.Harness.Settle()
		d.Adapter.Wait()
		n, err := d.Adapter.SyncCards(context.Background())
		if err != nil {
			d.T.Fatalf("discord cards: %v", err)
		}
		if n == 0 {
			return
		}
	}
	d.T.Fatal("discord cards did not settle")
}

// MustDo runs a console command that must succeed, then settles.
func (d *Discord) MustDo(line string) commands.Reply {
	d.T.Helper()
	r := d.Harness.MustDo(line)
	d.Settle()
	return r
}

// SMS runs an inbound SMS line from a phone number, then settles.
func (d *Discord) SMS(phone, text string) commands.Reply {
	d.T.Helper()
	r := d.Svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformSMS, UserID: phone, Text: text})
	d.Settle()
	return r
}

// Card returns the Discord message that shows ref as it stands now (the
// only one, or the one in channel when channel is not ""); it fails the
// test when there is none.
func (d *Discord) Card(ref, channel string) fakediscord.Message {
	d.T.Helper()
	locs, err := d.Store.Cards(context.Background(), discordbot.Platform, ref)
	if err != nil {
		d.T.Fatal(err)
	}
	for _, l := range locs {
		ch, id, _ := strings.Cut(l, "/")
		if channel != "" && ch != channel {
			continue
		}
		m, ok := d.Fake.Message(id)
		if !ok || m.ChannelID != ch {
			d.T.Fatalf("%s card %s is not in fake Discord", ref, l)
		}
		return m
	}
	d.T.Fatalf("no %s card in %q; cards: %v", ref, channel, locs)
	return fakediscord.Message{}
}

func (d *Discord) isSiteChannel(channel string) bool {
	for _, s := range d.Config.Sites {
		if s.Channels.Discord == channel {
			return true
		}
	}
	return false
}
