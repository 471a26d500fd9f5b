package discord_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/muster-ops/muster/bot"
	"github.com/muster-ops/muster/bot/discord"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const (
	token   = "bot-token-test"
	appID   = "1100000000000009999"
	harbour = "1200000000000000001" // the harbour site's Discord channel in example.yaml
	amara   = "1100000000000000101" // a guard
	jonah   = "1100000000000000110" // coordinator and supervisor
)

// env is muster with its Discord adapter, against a fake Discord, behind
// the real HTTP listener.
type env struct {
	t       *testing.T
	cfg     *configs.Config
	st      *store.Store
	clk     *clock.Fake
	fake    *fakediscord.Server
	adapter *discord.Adapter
	url     string // the bot's /discord/interactions
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
	del     *notify.Deliverer
	svc     *commands.Service
	seq     atomic.Int64
}

type envOptions struct {
	guild string
	// wrap, when set, stands between the adapter and the commands.
	wrap func(discord.Handler) discord.Handler
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	st := storetest.Open(t, clk.Now)
	fake := fakediscord.New(token, appID)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	disp := notify.NewDispatcher(nil)
	svc := commands.New(commands.Options{Config: cfg, Store: st, Now: clk.Now})
	var h discord.Handler = svc
	if o.wrap != nil {
		h = o.wrap(svc)
	}
	a, err := discord.New(discord.Options{
		Service: h, Store: st, Config: cfg, BotToken: token, AppID: appID, PublicKey: hex.EncodeToString(pub),
		APIURL: api.URL, GuildID: o.guild, Clock: clk, DisableGateway: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	disp.AddChat(a)
	srv := bot.NewServer(nil, nil, nil)
	srv.Handle("POST /discord/interactions", a)
	front := httptest.NewServer(srv)
	t.Cleanup(front.Close)
	t.Cleanup(a.Wait)
	fake.SetHTTPClient(front.Client())
	return &env{t: t, cfg: cfg, st: st, clk: clk, fake: fake, adapter: a, url: front.URL + "/discord/interactions", priv: priv, pub: pub,
		del: notify.NewDeliverer(st, disp, nil, notify.NewToken(), time.Minute), svc: svc}
}

// console runs a command typed by a person in the console.
func (e *env) console(person, line string) commands.Reply {
	return e.svc.Handle(e.ctx(), commands.Request{Platform: commands.PlatformConsole, UserID: person, Text: line})
}

// deliver lets deferred work finish and delivers the outbox (fan-out).
func (e *env) deliver() {
	e.t.Helper()
	e.adapter.Wait()
	if _, err := e.del.Drain(e.ctx()); err != nil {
		e.t.Fatal(err)
	}
}

// ctx bounds a test's waits.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// opt is one option of a slash command, as Discord sends it.
type opt struct{ name, value string }

// slash builds an application command interaction from user in channel:
// "incident", "raise", opts... A sub of "" means a command without
// subcommands.
func (e *env) slash(user, channel, name, sub string, opts ...opt) []byte {
	var os []map[string]any
	for _, o := range opts {
		os = append(os, map[string]any{"type": 3, "name": o.name, "value": o.value})
	}
	options := os
	if sub != "" {
		options = []map[string]any{{"type": 1, "name": sub, "options": os}}
	}
	return e.interaction(user, channel, 2, map[string]any{"id": "9001", "name": name, "type": 1, "options": options}, nil)
}

// interaction builds a signed-to-be interaction payload of the given type.
func (e *env) interaction(user, channel string, typ int, data map[string]any, message map[string]any) []byte {
	n := e.seq.Add(1)
	in := map[string]any{
		"id": strconv.FormatInt(8000+n, 10), "application_id": appID, "type": typ, "token": fmt.Sprintf("tok-%d", n),
		"version": 1, "channel_id": channel, "data": data,
	}
	if message != nil {
		in["message"] = message
	}
	if channel == harbour {
		in["guild_id"] = "1300000000000000000"
		in["member"] = map[string]any{"user": map[string]any{"id": user, "username": "u" + user}}
	} else {
		in["user"] = map[string]any{"id": user, "username": "u" + user}
	}
	b, err := json.Marshal(in)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// send plays Discord: signs and posts payload, and decodes the answer.
func (e *env) send(payload []byte) (int, discordgo.InteractionResponse) {
	e.t.Helper()
	status, body, err := e.fake.SendInteraction(e.ctx(), e.url, e.priv, payload)
	if err != nil {
		e.t.Fatalf("SendInteraction: %v", err)
	}
	var resp discordgo.InteractionResponse
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &resp); err != nil {
			e.t.Fatalf("answer %s: %v", body, err)
		}
	}
	return status, resp
}

// post sends a request to the endpoint with the given headers, signing
// nothing itself.
func (e *env) post(body []byte, ts, sig string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set("X-Signature-Timestamp", ts)
	}
	if sig != "" {
		req.Header.Set("X-Signature-Ed25519", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) sign(ts string, body []byte) string {
	return hex.EncodeToString(ed25519.Sign(e.priv, append([]byte(ts), body...)))
}

// incidents lists every incident in the store.
func (e *env) incidents() []*store.Incident {
	e.t.Helper()
	list, err := e.st.ListIncidents(context.Background(), store.IncidentFilter{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// posts are the messages muster created through the bot routes.
func (e *env) posts() []fakediscord.Message {
	var out []fakediscord.Message
	for _, m := range e.fake.Messages() {
		if m.Op == fakediscord.OpCreate {
			out = append(out, m)
		}
	}
	return out
}

// The endpoint answers only what Discord signed with the application's
// key: anything else is 401, and nothing of it reaches the commands.
func TestInteractionsEndpointVerifies(t *testing.T) {
	e := newEnv(t, envOptions{})
	raise := e.slash(amara, harbour, "incident", "raise", opt{"category", "fire"}, opt{"text", "smoke in the stairwell"})
	const ts = "1795600000"
	sig := e.sign(ts, raise)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSig := hex.EncodeToString(ed25519.Sign(other, append([]byte(ts), raise...)))

	tests := []struct {
		name    string
		body    []byte
		ts, sig string
	}{
		{"changed body", bytes.Replace(raise, []byte("smoke"), []byte("fumes"), 1), ts, sig},
		{"changed timestamp", raise, "1795600001", sig},
		{"missing signature", raise, ts, ""},
		{"missing timestamp", raise, "", sig},
		{"signed by another key", raise, ts, otherSig},
		{"signature not hex", raise, ts, "zz" + sig[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.post(tt.body, tt.ts, tt.sig); got != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", got)
			}
		})
	}
	big := append(bytes.Repeat([]byte(" "), discord.MaxBodyBytes), raise...)
	if got := e.post(big, ts, e.sign(ts, big)); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status = %d, want 413", got)
	}
	e.adapter.Wait()
	if n := len(e.incidents()); n != 0 {
		t.Fatalf("%d incident(s) recorded from refused requests", n)
	}
	if len(e.fake.Messages()) != 0 || len(e.fake.Callbacks()) != 0 {
		t.Fatalf("refused requests reached Discord: %+v", e.fake.Requests())
	}

	// The same request, correctly signed, is processed (signed by the
	// fake, which also records the answer as Discord would).
	if got, _ := e.send(raise); got != http.StatusOK {
		t.Fatalf("valid request: status = %d, want 200", got)
	}
	e.adapter.Wait()
	if list := e.incidents(); len(list) != 1 || list[0].Text != "smoke in the stairwell" || list[0].Reporter != "amara" {
		t.Fatalf("incidents = %+v", list)
	}
}

func TestPingIsAnsweredPong(t *testing.T) {
	e := newEnv(t, envOptions{})
	n := e.seq.Add(1)
	status, resp := e.send([]byte(fmt.Sprintf(`{"id":"%d","application_id":"%s","type":1,"token":"tok-ping","version":1}`, 7000+n, appID)))
	if status != http.StatusOK || resp.Type != discordgo.InteractionResponsePong || resp.Data != nil {
		t.Fatalf("PING answered %d %+v, want 200 {type: 1}", status, resp)
	}
}

// Someone muster does not know gets an ephemeral refusal and nothing happens.
func TestUnknownUserIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, payload := range [][]byte{
		e.slash("1999999999999999999", harbour, "incident", "raise", opt{"category", "fire"}, opt{"text", "smoke"}),
		e.slash("1999999999999999999", "dm-1", "ack", "", opt{"task", "T-1"}),
		e.interaction("1999999999999999999", harbour, 3, map[string]any{"custom_id": "ack:T-1", "component_type": 2}, map[string]any{"id": "1"}),
	} {
		status, resp := e.send(payload)
		if status != http.StatusOK || resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data == nil ||
			resp.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(resp.Data.Content, "not on this organization's roster") {
			t.Fatalf("answer = %d %+v, want an ephemeral refusal", status, resp.Data)
		}
	}
	e.adapter.Wait()
	if n := len(e.incidents()); n != 0 {
		t.Fatalf("%d incident(s) raised by an unknown user", n)
	}
	if p := e.posts(); len(p) != 0 {
		t.Fatalf("posted for an unknown user: %+v", p)
	}
}

// A quick command is answered at once (type 4), ephemeral unless it
// announces; member.user in a guild and user in a DM both identify.
func TestQuickCommandAnswersAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	status, resp := e.send(e.slash(jonah, "dm-2", "muster", "whoami"))
	if status != 200 || resp.Type != discordgo.InteractionResponseChannelMessageWithSource ||
		resp.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(resp.Data.Content, "Jonah Reid") {
		t.Fatalf("whoami: %d %+v", status, resp.Data)
	}
	status, resp = e.send(e.slash(amara, harbour, "roster", "show", opt{"site", "harbour"}))
	if status != 200 || resp.Type != 4 || !strings.Contains(resp.Data.Content, "Harbour Point HQ") {
		t.Fatalf("roster: %d %+v", status, resp.Data)
	}
}

// A raise is answered at once, to the whole channel; its card goes to the
// site channel with no live mention, whatever the guard typed.
func TestRaiseMentionsNoOne(t *testing.T) {
	e := newEnv(t, envOptions{})
	const text = "<!channel> @everyone <@U123> fence cut"
	status, resp := e.send(e.slash(amara, harbour, "incident", "raise", opt{"category", "intrusion"}, opt{"text", text}, opt{"severity", "sev2"}))
	if status != 200 || resp.Type != discordgo.InteractionResponseChannelMessageWithSource || resp.Data == nil ||
		resp.Data.Flags&discordgo.MessageFlagsEphemeral != 0 || !strings.Contains(resp.Data.Content, "INC-1 raised") {
		t.Fatalf("raise answered %d %+v, want a public answer", status, resp)
	}
	if list := e.incidents(); len(list) != 1 || list[0].Text != text || list[0].Severity != "sev2" {
		t.Fatalf("incidents = %+v, want the text exactly as typed", list)
	}
	e.deliver()
	posts := e.posts()
	if len(posts) != 1 || posts[0].ChannelID != harbour || !strings.Contains(posts[0].Content, "@everyone") {
		t.Fatalf("posts = %+v, want the card in the harbour channel", posts)
	}
	var comps []discordgo.ActionsRow
	if err := json.Unmarshal(posts[0].Components, &comps); err != nil || len(comps) != 1 || len(comps[0].Components) != 2 {
		t.Fatalf("components = %s (%v), want Acknowledge and Resolve", posts[0].Components, err)
	}
	cards, _ := e.st.Cards(context.Background(), "discord", "INC-1")
	if len(cards) != 1 || cards[0] != harbour+"/"+posts[0].ID {
		t.Errorf("cards = %v", cards)
	}
	checkNoLiveMentions(t, e.fake.Requests(), nil)
}

// A plan trigger is deferred (type 5, public: it announces), and the
// original response is edited with the answer.
func TestTriggerIsDeferred(t *testing.T) {
	e := newEnv(t, envOptions{})
	status, resp := e.send(e.slash(jonah, harbour, "plan", "trigger", opt{"plan", "medical-emergency"}, opt{"note", "@everyone come"}))
	if status != 200 || resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource || resp.Data == nil ||
		resp.Data.Flags&discordgo.MessageFlagsEphemeral != 0 {
		t.Fatalf("trigger answered %d %+v, want a public deferred response", status, resp)
	}
	edit, err := e.fake.WaitForMessage(e.ctx(), func(m fakediscord.Message) bool { return m.Op == fakediscord.OpEditOriginal })
	if err != nil {
		t.Fatalf("original response never edited: %v; requests %+v", err, e.fake.Requests())
	}
	if !strings.Contains(edit.Content, "A-1") {
		t.Errorf("edited original = %q", edit.Content)
	}
	e.deliver()
	checkNoLiveMentions(t, e.fake.Requests(), nil)
}

// checkNoLiveMentions fails unless every message body muster sent carries
// "allowed_mentions": {"parse": []}, with users only from allowed.
func checkNoLiveMentions(t *testing.T, reqs []fakediscord.Request, allowed map[string]bool) {
	t.Helper()
	checked := 0
	for _, r := range reqs {
		if len(r.Body) == 0 || r.Method == http.MethodPut || strings.HasSuffix(r.Path, "/users/@me/channels") {
			continue
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		if raw, ok := body["data"]; ok { // an interaction callback
			if string(raw) == "null" {
				continue
			}
			body = nil
			_ = json.Unmarshal(raw, &body)
		}
		var am struct {
			Parse json.RawMessage `json:"parse"`
			Users []string        `json:"users"`
		}
		if err := json.Unmarshal(body["allowed_mentions"], &am); err != nil || string(am.Parse) != "[]" {
			t.Errorf("%s %s: allowed_mentions = %s, want parse: []", r.Method, r.Path, body["allowed_mentions"])
		}
		for _, u := range am.Users {
			if !allowed[u] {
				t.Errorf("%s %s: pings user %s", r.Method, r.Path, u)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no message bodies to check")
	}
}

// On start muster registers its commands, with subcommands and typed
// options, in the configured guild.
func TestRegistersCommands(t *testing.T) {
	e := newEnv(t, envOptions{guild: "1300000000000000000"})
	if err := e.adapter.RegisterCommands(e.ctx()); err != nil {
		t.Fatal(err)
	}
	sets := e.fake.CommandSets()
	if len(sets) != 1 || sets[0].GuildID != "1300000000000000000" {
		t.Fatalf("command sets = %+v", sets)
	}
	if got := strings.Join(sets[0].Names, " "); got != "incident plan roster ack done drill action rollcall checkin muster" {
		t.Errorf("names = %s", got)
	}
	var cmds []discordgo.ApplicationCommand
	if err := json.Unmarshal(sets[0].Body, &cmds); err != nil {
		t.Fatal(err)
	}
	find := func(opts []*discordgo.ApplicationCommandOption, name string) *discordgo.ApplicationCommandOption {
		for _, o := range opts {
			if o.Name == name {
				return o
			}
		}
		t.Fatalf("no option %q", name)
		return nil
	}
	raise := find(cmds[0].Options, "raise")
	if raise.Type != discordgo.ApplicationCommandOptionSubCommand {
		t.Errorf("raise is type %v, want a subcommand", raise.Type)
	}
	cat := find(raise.Options, "category")
	if cat.Type != discordgo.ApplicationCommandOptionString || !cat.Required || len(cat.Choices) != len(e.cfg.Categories) {
		t.Errorf("category = %+v", cat)
	}
	site := find(raise.Options, "site")
	if site.Required || len(site.Choices) != 2 || site.Choices[0].Value != "harbour" {
		t.Errorf("site = %+v", site)
	}
	ack := cmds[3]
	if ack.Name != "ack" || find(ack.Options, "task").Type != discordgo.ApplicationCommandOptionString {
		t.Errorf("ack = %+v", ack)
	}
	action := cmds[6]
	if action.Name != "action" || find(find(action.Options, "add").Options, "owner").Required != true ||
		len(find(find(action.Options, "verify").Options, "verdict").Choices) != 2 {
		t.Errorf("action = %+v", action)
	}

	// Without a guild, globally.
	g := newEnv(t, envOptions{})
	if err := g.adapter.RegisterCommands(g.ctx()); err != nil {
		t.Fatal(err)
	}
	if sets := g.fake.CommandSets(); len(sets) != 1 || sets[0].GuildID != "" {
		t.Fatalf("global sets = %+v", sets)
	}
}

// The gateway feeds the same handler; the response goes to the callback route.
func TestGatewayInteraction(t *testing.T) {
	e := newEnv(t, envOptions{})
	var in discordgo.Interaction
	if err := json.Unmarshal(e.slash(jonah, "dm-3", "muster", "whoami"), &in); err != nil {
		t.Fatal(err)
	}
	e.adapter.HandleGateway(e.ctx(), &in)
	cbs := e.fake.Callbacks()
	if len(cbs) != 1 || cbs[0].ViaHTTP || cbs[0].Type != 4 || cbs[0].InteractionID != in.ID || !strings.Contains(string(cbs[0].Data), "Jonah Reid") {
		t.Fatalf("callbacks = %+v", cbs)
	}
}

// held is a Handler whose commands wait for release.
type held struct {
	discord.Handler
	release chan struct{}
}

func (h held) Handle(ctx context.Context, req commands.Request) commands.Reply {
	<-h.release
	return h.Handler.Handle(ctx, req)
}

// A command still running after DeferAfter is deferred (type 5,
// ephemeral for a command that does not announce) and its answer edited
// in when it comes.
func TestSlowCommandIsDeferred(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, envOptions{wrap: func(h discord.Handler) discord.Handler { return held{h, release} }})
	type result struct {
		status int
		resp   discordgo.InteractionResponse
	}
	answered := make(chan result, 1)
	payload := e.slash(jonah, "dm-4", "incident", "list")
	go func() {
		var r result
		status, body, err := e.fake.SendInteraction(context.Background(), e.url, e.priv, payload)
		if err == nil {
			_ = json.Unmarshal(body, &r.resp)
		}
		r.status = status
		answered <- r
	}()
	ctx := e.ctx()
	for e.clk.Waiters() == 0 {
		select {
		case <-e.clk.Changed():
		case r := <-answered:
			t.Fatalf("answered %+v before the deadline", r)
		case <-ctx.Done():
			t.Fatal("the adapter never started its deadline")
		}
	}
	e.clk.Advance(discord.DefaultDeferAfter - time.Millisecond)
	select {
	case r := <-answered:
		t.Fatalf("answered %+v before the deadline", r)
	default:
	}
	e.clk.Advance(time.Millisecond)
	var r result
	select {
	case r = <-answered:
	case <-ctx.Done():
		t.Fatal("no answer after the deadline")
	}
	if r.status != 200 || r.resp.Type != discordgo.InteractionResponseDeferredChannelMessageWithSource || r.resp.Data.Flags != discordgo.MessageFlagsEphemeral {
		t.Fatalf("answer = %d %+v, want an ephemeral deferred response", r.status, r.resp)
	}
	close(release)
	edit, err := e.fake.WaitForMessage(ctx, func(m fakediscord.Message) bool { return m.Op == fakediscord.OpEditOriginal })
	if err != nil || !strings.Contains(edit.Content, "Open incidents") {
		t.Fatalf("edit = %+v, %v", edit, err)
	}
}

// 429 answers are waited out on the injected clock, as long as
// Retry-After says.
func TestRateLimitIsHonoured(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.fake.RateLimitNext(1, 300*time.Millisecond, false)
	done := make(chan error, 1)
	go func() {
		_, err := e.adapter.Notify(context.Background(), notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "FIRE drill at noon"})
		done <- err
	}()
	// Wait until the adapter waits on the clock, then check it waits the 300 ms Retry-After says.
	ctx := e.ctx()
	for e.clk.Waiters() == 0 {
		select {
		case <-e.clk.Changed():
		case err := <-done:
			t.Fatalf("Notify returned %v without waiting", err)
		case <-ctx.Done():
			t.Fatal("Notify never waited for Retry-After")
		}
	}
	e.clk.Advance(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Notify returned %v before Retry-After passed", err)
	default:
	}
	e.clk.Advance(100 * time.Millisecond)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("Notify did not retry after Retry-After")
	}
	reqs := e.fake.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 {
		t.Fatalf("requests = %+v", reqs)
	}
}

// A site with no Discord channel is not Discord's to deliver.
func TestNotifyWithoutDestination(t *testing.T) {
	e := newEnv(t, envOptions{})
	if retry, err := e.adapter.Notify(e.ctx(), notify.Message{Channel: notify.Chat, Site: "nowhere", Text: "x"}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	if len(e.fake.Requests()) != 0 {
		t.Fatal("posted somewhere")
	}
}

// Run registers the commands and keeps cards true on its own: a console
// acknowledgement edits the Discord message without anyone settling.
func TestRunKeepsCardsTrue(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx, cancel := context.WithCancel(e.ctx())
	done := make(chan error, 1)
	go func() { done <- e.adapter.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	if err := e.fake.WaitFor(e.ctx(), func() bool { return len(e.fake.CommandSets()) == 1 }); err != nil {
		t.Fatalf("commands not registered: %v", err)
	}
	status, _ := e.send(e.slash(amara, harbour, "incident", "raise", opt{"category", "fire"}, opt{"text", "smoke"}))
	if status != 200 {
		t.Fatal(status)
	}
	e.deliver()
	posts := e.posts()
	if len(posts) != 1 {
		t.Fatalf("posts = %+v", posts)
	}
	svcReply := e.console("jonah", "/incident resolve INC-1 false alarm")
	if svcReply.Error {
		t.Fatal(svcReply.Text)
	}
	m, err := e.fake.WaitForMessage(e.ctx(), func(m fakediscord.Message) bool {
		return m.ID == posts[0].ID && m.Op == fakediscord.OpEdit && strings.Contains(string(m.Embeds), "resolved by Jonah Reid")
	})
	if err != nil {
		t.Fatalf("card not edited: %v", err)
	}
	if string(m.Components) != "[]" {
		t.Errorf("components after resolve = %s, want none", m.Components)
	}
}
