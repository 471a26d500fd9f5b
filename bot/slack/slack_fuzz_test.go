package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/storetest"
)

// fuzzEnv is one adapter, store and fake Slack for a whole fuzz target
// (not one per input): a fuzz iteration must stay cheap.
type fuzzEnv struct {
	cfg  *configs.Config
	clk  *clock.Fake
	a    *Adapter
	mux  *http.ServeMux
	fake *fakeslack.Server
	api  *httptest.Server
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	cfg, err := configs.Example()
	if err != nil {
		tb.Fatal(err)
	}
	clk := clock.NewFake(testStart)
	st := storetest.Open(tb, clk.Now)
	fake := fakeslack.New(testBotToken)
	fake.SetClock(clk.Now)
	api := httptest.NewServer(fake)
	tb.Cleanup(api.Close)
	svc := commands.New(commands.Options{Config: cfg, Store: st, Now: clk.Now})
	a, err := New(Options{
		Service: svc, Store: st, Config: cfg, BotToken: testBotToken, SigningSecret: testSecret,
		APIURL: api.URL + "/api/", HTTPClient: onlyTo(api.Listener.Addr().String()), Clock: clk, Logger: zap.NewNop(),
		ReplyBudget: 30 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.Close)
	mux := http.NewServeMux()
	a.Register(mux)
	// Tasks and an incident to aim at.
	for _, line := range []string{"/plan trigger medical-emergency @harbour", "/plan trigger medical-emergency @depot", "/incident raise fire @harbour smoke"} {
		if r := svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: "jonah", Text: line}); r.Error {
			tb.Fatalf("%s: %s", line, r.Text)
		}
	}
	return &fuzzEnv{cfg: cfg, clk: clk, a: a, mux: mux, fake: fake, api: api}
}

// onlyTo is an HTTP client that can reach addr and nothing else: a fuzzed
// response_url must never send traffic anywhere but the fake.
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

// post signs body at a timestamp no earlier input used (so no input is a
// replay of another) and serves it.
func (e *fuzzEnv) post(path, contentType string, body []byte) *httptest.ResponseRecorder {
	e.clk.Advance(time.Second)
	ts := e.clk.Now().Unix()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("X-Slack-Signature", Sign(testSecret, ts, body))
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// slackUsers are the seeds' senders: people of the example config, and
// strangers.
var slackUsers = []string{"U0AMARA", "U0JONAH", "U0DEV", "U0STRANGER", "", "<@U0AMARA>", "u0amara"}

// hostileTexts are seed texts: realistic commands and hostile ones.
var hostileTexts = []string{
	"raise fire sev2 @harbour smoke in the loading bay",
	"list all", "show INC-1", "update INC-1 \"guard on scene\"", "resolve INC-1 false alarm",
	"trigger medical-emergency @depot", "T-3", "T-6 covering for Dev", "@harbour now guard", "help",
	"raise other @harbour <!channel> <!here> @everyone <@U123> *bold* `code` [link](http://x) <http://x|y>",
	"raise other @harbour '; DROP TABLE incidents;-- $(rm -rf /)",
	"raise other @harbour a\x00b \xff\xfe \x01\x7f", "\"unclosed “quote «", strings.Repeat("x", 2001),
	"raise fire @nowhere smoke", "show INC-99999999999999999999", "T-0", "T--1", "@", "\u202eevil\u202c",
}

// FuzzSlashCommand sends correctly signed slash commands whose fields are
// fuzzed. Decoding is always reached; the answer is always a 200 with a
// JSON reply whose text carries no Slack markup (every < and > escaped, so
// nothing typed pings anyone); a stranger gets the roster answer.
func FuzzSlashCommand(f *testing.F) {
	e := newFuzzEnv(f)
	commandsSeen := []string{"/incident", "/ack", "/done", "/plan", "/roster", "/muster", "/drill", "/status", "/nonsense", "", "incident"}
	for i, text := range hostileTexts {
		f.Add(slackUsers[i%len(slackUsers)], []string{"C0HARBOUR", "C0DEPOT", "D0DM", ""}[i%4], commandsSeen[i%len(commandsSeen)], text)
	}
	f.Fuzz(func(t *testing.T, user, channel, command, text string) {
		form := url.Values{"team_id": {fakeslack.TeamID}, "user_id": {user}, "channel_id": {channel},
			"command": {command}, "text": {text}, "response_url": {e.fake.ResponseURL(e.api.URL)}}
		w := e.post("/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()))
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d %s, want 200", w.Code, w.Body)
		}
		var resp Response
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer %q: %v", w.Body, err)
		}
		if resp.ResponseType != "ephemeral" && resp.ResponseType != "in_channel" {
			t.Fatalf("response_type %q", resp.ResponseType)
		}
		if resp.Text == "" || strings.ContainsAny(resp.Text, "<>") {
			t.Fatalf("answer text %q: empty or unescaped markup", resp.Text)
		}
		if strings.Contains(resp.Text, "internal error") {
			t.Fatalf("a command panicked: %q", resp.Text)
		}
		if _, ok := e.cfg.PersonBySlack(user); !ok && resp.Text != NotOnRoster {
			t.Fatalf("stranger %q got %q", user, resp.Text)
		}
	})
}

// FuzzSlackRequestBody sends correctly signed raw bodies, of any content
// type, to both Slack routes: never a panic, never a 5xx, and never a 401
// (the signature is right and no input repeats a timestamp).
func FuzzSlackRequestBody(f *testing.F) {
	e := newFuzzEnv(f)
	for _, text := range hostileTexts {
		f.Add(false, "application/x-www-form-urlencoded", []byte(url.Values{"command": {"/incident"}, "text": {text}, "user_id": {"U0AMARA"}, "channel_id": {"C0HARBOUR"}}.Encode()))
	}
	for _, s := range []struct {
		ct   string
		body string
	}{
		{"application/json", `{"command":"/incident","text":"raise fire"}`}, {"text/plain", "command=/ack"}, {"", ""},
		{"application/x-www-form-urlencoded; charset=utf-8", "a=%zz&b=;c"}, {"application/x-www-form-urlencoded", "payload=%7B%7D"},
		{"multipart/form-data; boundary=x", "--x\r\n\r\n--x--"}, {"application/x-www-form-urlencoded", strings.Repeat("a=b&", 5000)},
		{"application/x-www-form-urlencoded", "payload=" + url.QueryEscape(`{"type":"block_actions","actions":[{"action_id":"ack","value":"T-1"}],"user":{"id":"U0AMARA"}}`)},
	} {
		f.Add(false, s.ct, []byte(s.body))
		f.Add(true, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, interactions bool, contentType string, body []byte) {
		path := "/slack/commands"
		if interactions {
			path = "/slack/interactions"
		}
		w := e.post(path, contentType, body)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("%s %q: HTTP %d %s", path, contentType, w.Code, w.Body)
		}
	})
}

// FuzzSlackInteraction sends correctly signed interaction payloads whose
// JSON is fuzzed, so slack.InteractionCallback decoding is reached: a 200
// for what decodes, a 400 for what does not, nothing else. What a payload
// makes muster do runs in the background and answers its response_url,
// which can only ever reach the fake (onlyTo).
func FuzzSlackInteraction(f *testing.F) {
	e := newFuzzEnv(f)
	respURL := e.fake.ResponseURL(e.api.URL)
	click := func(user, action, value, respURL string) string {
		b, _ := json.Marshal(map[string]any{
			"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": "C0HARBOUR"},
			"response_url": respURL, "trigger_id": "1.2.3",
			"actions": []map[string]any{{"type": "button", "action_id": action, "value": value, "block_id": "actions"}},
		})
		return string(b)
	}
	for _, s := range []string{
		click("U0AMARA", ActionAck, "T-1", respURL), click("U0AMARA", ActionAck, "T-6", respURL),
		click("U0JONAH", ActionResolve, "INC-1", respURL), click("U0STRANGER", ActionAck, "T-1", respURL),
		click("U0AMARA", ActionAck, "T-1; DROP TABLE", respURL), click("U0AMARA", "nonsense", "<!channel>", respURL),
		click("U0AMARA", ActionAck, "T-1", "http://10.0.0.1/x"), click("U0AMARA", ActionAck, "INC-99999999999999999999", ""),
		`{"type":"view_submission"}`, `{"type":"block_actions","actions":[null]}`, `{"type":"block_actions","actions":{}}`,
		`{}`, `null`, `[]`, `"x"`, `{"type":`, "\x00", `{"type":"block_actions","user":{"id":1}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		w := e.post("/slack/interactions", "application/x-www-form-urlencoded", []byte(url.Values{"payload": {payload}}.Encode()))
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("HTTP %d %s", w.Code, w.Body)
		}
	})
}
