package slack

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

	"go.uber.org/zap/zaptest"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const (
	testBotToken = "xoxb-muster-test"
	testSecret   = "muster-test-signing-secret"
)

// testStart is a Wednesday morning, mid-shift for every rotation.
var testStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// env is one muster process with the Slack adapter, against fake Slack
// and a real (or embedded) Redis, on a fake clock.
type env struct {
	t     *testing.T
	cfg   *configs.Config
	st    *store.Store
	clk   *clock.Fake
	svc   *commands.Service
	fake  *fakeslack.Server
	slack *httptest.Server
	a     *Adapter
	mux   *http.ServeMux
	del   *notify.Deliverer
}

// newEnv builds an env; tweak may change the adapter's options.
func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(testStart)
	st := storetest.Open(t, clk.Now)
	fake := fakeslack.New(testBotToken)
	fake.SetClock(clk.Now)
	fs := httptest.NewServer(fake)
	t.Cleanup(fs.Close)
	disp := notify.NewDispatcher(nil)
	co := commands.Options{Config: cfg, Store: st, Now: clk.Now}
	svc := commands.New(co)
	o := Options{
		Service: svc, Store: st, Config: cfg, BotToken: testBotToken, SigningSecret: testSecret,
		APIURL: fs.URL + "/api", Clock: clk, Logger: zaptest.NewLogger(t), HTTPClient: fs.Client(),
		// Generous, so a busy machine under -race never takes the "working
		// on it" path by accident; TestSlowCommandAnswersThroughResponseURL
		// tests that path with a budget of its own.
		ReplyBudget: 30 * time.Second,
	}
	if tweak != nil {
		tweak(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	disp.AddChat(a)
	mux := http.NewServeMux()
	a.Register(mux)
	return &env{t: t, cfg: cfg, st: st, clk: clk, svc: svc, fake: fake, slack: fs, a: a, mux: mux,
		del: notify.NewDeliverer(st, disp, nil, notify.NewToken(), cfg.Engine.Lease.D())}
}

// drain delivers what commands queued on the outbox to the dispatcher
// (and so to the adapter's queues).
func (e *env) drain() {
	e.t.Helper()
	if _, err := e.del.Drain(e.ctx()); err != nil {
		e.t.Fatalf("outbox drain: %v", err)
	}
}

// slashForm is a slash command's form as Slack sends it.
func (e *env) slashForm(user, channel, command, text string) url.Values {
	return url.Values{
		"token": {"legacy-verification-token"}, "team_id": {fakeslack.TeamID}, "channel_id": {channel},
		"user_id": {user}, "command": {command}, "text": {text},
		"response_url": {e.fake.ResponseURL(e.slack.URL)}, "trigger_id": {"1.2.3"},
	}
}

// post sends body to path signed at the clock's now (sig "" signs it
// properly; ts 0 uses now).
func (e *env) post(path string, body []byte, ts int64, sig string, omit ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	if ts == 0 {
		ts = e.clk.Now().Unix()
	}
	if sig == "" {
		sig = Sign(testSecret, ts, body)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("X-Slack-Signature", sig)
	for _, h := range omit {
		r.Header.Del(h)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// slash runs a signed slash command and decodes the answer.
func (e *env) slash(user, channel, command, text string) Response {
	e.t.Helper()
	w := e.post("/slack/commands", []byte(e.slashForm(user, channel, command, text).Encode()), 0, "")
	if w.Code != http.StatusOK {
		e.t.Fatalf("%s %s: HTTP %d %s", command, text, w.Code, w.Body)
	}
	var r Response
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		e.t.Fatalf("answer %q: %v", w.Body, err)
	}
	e.drain()
	return r
}

// click sends a signed block_actions payload.
func (e *env) click(user, channel, actionID, value string) *httptest.ResponseRecorder {
	e.t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": channel},
		"response_url": e.fake.ResponseURL(e.slack.URL), "trigger_id": "1.2.3",
		"actions": []map[string]any{{"type": "button", "action_id": actionID, "value": value, "block_id": "actions"}},
	})
	return e.post("/slack/interactions", []byte(url.Values{"payload": {string(payload)}}.Encode()), 0, "")
}

// ctx is a context bounded for one wait.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// pump moves the fake clock by step whenever a queue waits on it, until
// cond holds; it fails the test after 10 s of real time.
func pump(t *testing.T, clk *clock.Fake, fake *fakeslack.Server, step time.Duration, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		cc, fc := clk.Changed(), fake.Changed()
		if cond() {
			return
		}
		if clk.Waiters() > 0 {
			clk.Advance(step)
			continue
		}
		select {
		case <-cc:
		case <-fc:
		case <-timeout.C:
			t.Fatalf("condition not met after 10 s; fake saw %d requests", len(fake.Requests()))
		}
	}
}

// postsTo returns the chat.postMessage calls to channel.
func postsTo(fake *fakeslack.Server, channel string) []fakeslack.Post {
	var out []fakeslack.Post
	for _, p := range fake.Posts() {
		if p.Method == "chat.postMessage" && p.Channel == channel {
			out = append(out, p)
		}
	}
	return out
}

// fixedClock always tells the same time; its waits are real.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func (c fixedClock) After(d time.Duration) (<-chan time.Time, func()) { return clock.Real{}.After(d) }
