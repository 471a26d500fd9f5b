package discord_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/muster-ops/muster/bot/discord"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/fakediscord"
	"github.com/muster-ops/muster/internal/storetest"
)

// fuzzEnv is one adapter, store and fake Discord for a whole fuzz target.
type fuzzEnv struct {
	cfg  *configs.Config
	a    *discord.Adapter
	priv ed25519.PrivateKey
	seq  atomic.Int64
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	cfg, err := configs.Example()
	if err != nil {
		tb.Fatal(err)
	}
	st := storetest.Open(tb, nil)
	fake := fakediscord.New(token, appID)
	api := httptest.NewServer(fake)
	tb.Cleanup(api.Close)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	svc := commands.New(commands.Options{Config: cfg, Store: st})
	a, err := discord.New(discord.Options{
		Service: svc, Store: st, Config: cfg, BotToken: token, AppID: appID, PublicKey: hex.EncodeToString(pub),
		APIURL: api.URL, HTTPClient: onlyTo(api.Listener.Addr().String()), DisableGateway: true,
		// A deferred edit of a fuzzed interaction (its token unknown to
		// the fake) is retried for a few seconds; the command itself
		// answers in time.
		DeferAfter: time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.Wait)
	for _, line := range []string{"/plan trigger medical-emergency @harbour", "/plan trigger medical-emergency @depot", "/incident raise fire @harbour smoke"} {
		if r := svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: "jonah", Text: line}); r.Error {
			tb.Fatalf("%s: %s", line, r.Text)
		}
	}
	return &fuzzEnv{cfg: cfg, a: a, priv: priv}
}

// onlyTo is an HTTP client that reaches addr and nothing else.
func onlyTo(addr string) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a != addr {
				return nil, fmt.Errorf("fuzz: dial %s refused, only %s", a, addr)
			}
			return d.DialContext(ctx, network, a)
		},
	}}
}

// serve signs body as Discord does and hands it to the adapter's HTTP
// handler.
func (e *fuzzEnv) serve(body []byte) *httptest.ResponseRecorder {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(e.priv, append([]byte(ts), body...))))
	r.Header.Set("X-Signature-Timestamp", ts)
	w := httptest.NewRecorder()
	e.a.ServeHTTP(w, r)
	return w
}

// checkResponse checks an interaction response: a known type, and every
// message carries allowed_mentions with an empty parse list and no role.
func checkResponse(t *testing.T, body []byte) {
	t.Helper()
	var resp struct {
		Type discordgo.InteractionResponseType `json:"type"`
		Data *struct {
			Content         string `json:"content"`
			AllowedMentions *struct {
				Parse *[]string `json:"parse"`
				Roles []string  `json:"roles"`
			} `json:"allowed_mentions"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	switch resp.Type {
	case discordgo.InteractionResponsePong:
		return
	case discordgo.InteractionResponseChannelMessageWithSource, discordgo.InteractionResponseDeferredChannelMessageWithSource,
		discordgo.InteractionResponseUpdateMessage, discordgo.InteractionResponseDeferredMessageUpdate:
	default:
		t.Fatalf("answer type %d: %s", resp.Type, body)
	}
	if resp.Type == discordgo.InteractionResponseDeferredMessageUpdate {
		return
	}
	if resp.Data == nil || resp.Data.AllowedMentions == nil || resp.Data.AllowedMentions.Parse == nil ||
		len(*resp.Data.AllowedMentions.Parse) != 0 || len(resp.Data.AllowedMentions.Roles) != 0 {
		t.Fatalf("answer without an empty allowed_mentions.parse: %s", body)
	}
	if strings.Contains(resp.Data.Content, "internal error") {
		t.Fatalf("a command panicked: %s", body)
	}
	if len([]rune(resp.Data.Content)) > 2000 {
		t.Fatalf("content of %d characters, Discord takes 2000", len([]rune(resp.Data.Content)))
	}
}

// FuzzInteractionJSON sends correctly signed interaction bodies of any
// bytes: never a panic, never a 5xx; what decodes is answered 200 with a
// valid response, what does not is a 400, and a copy of an id already
// seen (fuzzed bodies repeat ids) is a 401.
func FuzzInteractionJSON(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range []string{
		`{"id":"1","application_id":"` + appID + `","type":1,"token":"t","version":1}`,
		`{"id":"2","type":2,"token":"t2","channel_id":"1200000000000000001","member":{"user":{"id":"1100000000000000101"}},"data":{"name":"incident","type":1,"options":[{"type":1,"name":"raise","options":[{"type":3,"name":"category","value":"fire"},{"type":3,"name":"text","value":"@everyone <@&1> smoke\u0000"}]}]}}`,
		`{"id":"3","type":3,"token":"t3","channel_id":"1200000000000000001","user":{"id":"1100000000000000101"},"data":{"custom_id":"ack:T-6","component_type":2},"message":{"id":"9"}}`,
		`{"id":"4","type":3,"token":"t4","user":{"id":"1100000000000000110"},"data":{"custom_id":"close:INC-1","component_type":2}}`,
		`{"id":"5","type":2,"token":"t5","user":{"id":"1999"},"data":{"name":"ack","options":[{"type":3,"name":"task","value":"T-1"}]}}`,
		`{"id":"6","type":4,"token":"t6"}`, `{"id":"7","type":5,"data":{}}`, `{"type":2,"data":{"options":[{"type":1}]}}`,
		`{"type":2,"data":{"name":"incident","options":[{"type":1,"name":"raise","options":[{"type":3,"name":"text","value":1e400}]}]}}`,
		`{"type":2,"data":{"name":"incident","options":[{"type":1,"name":"raise","options":[{"type":3,"name":"text","value":{"a":[]}}]}]}}`,
		`{"type":3,"data":{"custom_id":":::"}}`, `{"type":3,"data":null}`, `{"type":2,"member":{"user":null}}`,
		`{}`, `null`, `[]`, `{"type":`, "\xff", `{"id":"8","type":2,"token":"../../x?y#z","data":{"name":"plan","options":[{"type":1,"name":"trigger","options":[{"type":3,"name":"plan","value":"fire-evacuation"}]}]},"user":{"id":"1100000000000000110"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := e.serve(body)
		switch w.Code {
		case http.StatusOK:
			checkResponse(t, w.Body.Bytes())
		case http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("HTTP %d %s", w.Code, w.Body)
		}
	})
}

// FuzzInteractionFields builds well-formed interactions, each with an id
// of its own, from fuzzed fields (type, command, subcommand, option
// values, button id, user, channel): every one is answered 200 with a
// valid response, and a stranger gets the roster answer.
func FuzzInteractionFields(f *testing.F) {
	e := newFuzzEnv(f)
	users := []string{amara, jonah, "1100000000000000104", "1999999999999999999", "", "<@1100000000000000101>"}
	for i, s := range []struct{ name, sub, v1, v2, custom string }{
		{"incident", "raise", "fire", "smoke @everyone <@&1> **bold** [x](http://x)", ""},
		{"incident", "raise", "other", "'; DROP TABLE incidents;-- $(rm -rf /)", ""},
		{"incident", "raise", "other", "nul\x00 \xff\x01", ""},
		{"incident", "show", "INC-1", "", ""}, {"incident", "list", "all", "", ""}, {"ack", "", "T-6", "covering", ""},
		{"ack", "", "T-1", "", ""}, {"done", "", "T--1", "", ""}, {"plan", "trigger", "fire-evacuation", "@depot", ""},
		{"roster", "", "@harbour", "week", ""}, {"muster", "help", "", "", ""}, {"nonsense", "x", "y", "z", ""},
		{"", "", "", "", "ack:T-6"}, {"", "", "", "", "close:INC-1"}, {"", "", "", "", "ack:T-99999999999999999999"}, {"", "", "", "", "x"},
		{"incident", "raise", "fire", strings.Repeat("x", 2100), ""},
	} {
		typ := uint8(2)
		if s.custom != "" {
			typ = 3
		}
		f.Add(typ, s.name, s.sub, s.v1, s.v2, s.custom, users[i%len(users)], []string{harbour, "1200000000000000002", "1300000000000000123", ""}[i%4])
	}
	f.Fuzz(func(t *testing.T, typ uint8, name, sub, v1, v2, custom, user, channel string) {
		n := e.seq.Add(1)
		in := map[string]any{"id": strconv.FormatInt(1e6+n, 10), "application_id": appID, "type": 2 + typ%2,
			"token": "fuzz-" + strconv.FormatInt(n, 10), "version": 1, "channel_id": channel,
			"member": map[string]any{"user": map[string]any{"id": user}}}
		if typ%2 == 0 {
			opts := []map[string]any{{"type": 3, "name": firstOption(name, sub), "value": v1}, {"type": 3, "name": secondOption(name, sub), "value": v2}}
			options := opts
			if sub != "" {
				options = []map[string]any{{"type": 1, "name": sub, "options": opts}}
			}
			in["data"] = map[string]any{"id": "9001", "name": name, "type": 1, "options": options}
		} else {
			in["data"] = map[string]any{"custom_id": custom, "component_type": 2}
			in["message"] = map[string]any{"id": "1300000000000000999", "channel_id": channel}
		}
		body, err := json.Marshal(in)
		if err != nil {
			t.Skip(err)
		}
		w := e.serve(body)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d %s for %s", w.Code, w.Body, body)
		}
		checkResponse(t, w.Body.Bytes())
		if _, ok := e.cfg.PersonByDiscord(user); !ok && strings.Contains(w.Body.String(), " raised") {
			t.Fatalf("a stranger raised an incident: %s", w.Body)
		}
	})
}

// firstOption and secondOption name the options a command takes, so the
// fuzzed values land where the adapter reads them.
func firstOption(name, sub string) string {
	switch name + " " + sub {
	case "incident raise":
		return "category"
	case "incident show", "incident update", "incident resolve", "incident ack":
		return "incident"
	case "plan trigger", "plan show", "plan dryrun":
		return "plan"
	case "ack ", "done ":
		return "task"
	case "incident list":
		return "which"
	}
	return "site"
}

func secondOption(name, sub string) string {
	switch name + " " + sub {
	case "incident raise", "incident update":
		return "text"
	case "ack ", "done ":
		return "note"
	case "plan trigger", "plan dryrun":
		return "site"
	}
	return "when"
}
