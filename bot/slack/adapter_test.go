package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Slack's published example goes through the real route with an injected
// clock: verification passes, and its user (not on our roster) gets the
// roster answer.
func TestCommandsHandlerSlackExample(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SigningSecret = exampleSecret })
	a, err := New(Options{
		Service: e.svc, Store: e.st, Config: e.cfg, BotToken: testBotToken, SigningSecret: exampleSecret,
		Clock: fixedClock{time.Unix(exampleTimestamp, 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r := newRequest([]byte(exampleBody), strconv.Itoa(exampleTimestamp), exampleSignature)
	w := httptest.NewRecorder()
	a.CommandsHandler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("Slack's example: HTTP %d %s, want 200", w.Code, w.Body)
	}
	var resp Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.ResponseType != "ephemeral" || resp.Text != NotOnRoster {
		t.Errorf("answer = %+v, want the ephemeral roster answer", resp)
	}

	// One second past the replay window, the same request is refused.
	late := fixedClock{time.Unix(exampleTimestamp, 0).Add(5*time.Minute + time.Second)}
	a2, _ := New(Options{Service: e.svc, Store: e.st, Config: e.cfg, BotToken: testBotToken, SigningSecret: exampleSecret, Clock: late})
	defer a2.Close()
	w = httptest.NewRecorder()
	a2.CommandsHandler().ServeHTTP(w, newRequest([]byte(exampleBody), strconv.Itoa(exampleTimestamp), exampleSignature))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("stale example: HTTP %d, want 401", w.Code)
	}
}

// A valid, fresh request is answered 200 with the command's reply, and the
// command ran (the incident exists).
func TestCommandsValidRequestRuns(t *testing.T) {
	e := newEnv(t, nil)
	r := e.slash("U0FARID", "C0HARBOUR", "/incident", "raise fire sev2 @harbour smoke in the loading bay")
	if r.ResponseType != "in_channel" || !strings.HasPrefix(r.Text, "INC-1 raised") {
		t.Fatalf("answer = %+v", r)
	}
	inc, err := e.st.Incident(context.Background(), 1)
	if err != nil || inc.Site != "harbour" || inc.Category != "fire" || inc.Severity != "sev2" || inc.Reporter != "farid" {
		t.Fatalf("incident = %+v, %v", inc, err)
	}
}

// Every failure of verification is a 401 and nothing happens: no command
// runs (the store has no incident), and Slack is not called.
func TestUnverifiedRequestsAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	form := e.slashForm("U0FARID", "C0HARBOUR", "/incident", "raise fire @harbour smoke")
	body := []byte(form.Encode())
	now := e.clk.Now().Unix()
	cases := []struct {
		name string
		path string
		body []byte
		ts   int64
		sig  string
		omit []string
	}{
		{name: "changed body", path: "/slack/commands", body: []byte(strings.Replace(string(body), "smoke", "smoky", 1)), sig: Sign(testSecret, now, body)},
		{name: "stale timestamp", path: "/slack/commands", body: body, ts: now - 301},
		{name: "future timestamp", path: "/slack/commands", body: body, ts: now + 301},
		{name: "missing signature", path: "/slack/commands", body: body, omit: []string{"X-Slack-Signature"}},
		{name: "missing timestamp", path: "/slack/commands", body: body, omit: []string{"X-Slack-Request-Timestamp"}},
		{name: "wrong secret", path: "/slack/commands", body: body, sig: Sign("other-secret", now, body)},
		{name: "oversized body", path: "/slack/commands", body: append(append([]byte{}, body...), []byte("&pad="+strings.Repeat("x", MaxBodyBytes))...)},
		{name: "interaction with changed body", path: "/slack/interactions", body: []byte("payload=%7B%7D"), sig: Sign(testSecret, now, []byte("payload=%7B%22x%22%7D"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := e.post(tc.path, tc.body, tc.ts, tc.sig, tc.omit...)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("HTTP %d %s, want 401", w.Code, w.Body)
			}
		})
	}
	list, err := e.st.ListIncidents(context.Background(), store.IncidentFilter{})
	if err != nil || len(list) != 0 {
		t.Errorf("store holds %d incidents (%v) after refused requests, want 0", len(list), err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("Slack was called %d times after refused requests", n)
	}
	// A signing secret that is missing refuses everything too.
	e2 := newEnv(t, func(o *Options) { o.SigningSecret = "" })
	if w := e2.post("/slack/commands", body, 0, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("no signing secret: HTTP %d, want 401", w.Code)
	}
}

// An unknown Slack user gets the roster answer and nothing happens.
func TestUnknownUserGetsRosterAnswer(t *testing.T) {
	e := newEnv(t, nil)
	r := e.slash("U0STRANGER", "C0HARBOUR", "/incident", "raise fire @harbour smoke")
	if r.ResponseType != "ephemeral" || r.Text != NotOnRoster {
		t.Fatalf("answer = %+v", r)
	}
	if list, _ := e.st.ListIncidents(context.Background(), store.IncidentFilter{}); len(list) != 0 {
		t.Errorf("a stranger raised %d incidents", len(list))
	}
	// A button from a stranger: answered through response_url, nothing done.
	if w := e.click("U0STRANGER", "C0HARBOUR", ActionResolve, "INC-1"); w.Code != http.StatusOK {
		t.Fatalf("click: HTTP %d", w.Code)
	}
	resp, err := e.fake.WaitForResponse(e.ctx(), func(fakeslack.Response) bool { return true })
	if err != nil || resp.Text != NotOnRoster || resp.ResponseType != "ephemeral" {
		t.Errorf("response = %+v, %v", resp, err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("Slack Web API called %d times for a stranger", n)
	}
}

// The channel a command is typed in sets the default site.
func TestChannelSetsDefaultSite(t *testing.T) {
	e := newEnv(t, nil)
	r := e.slash("U0JONAH", "C0DEPOT", "/incident", "raise theft forklift battery gone")
	if !strings.HasPrefix(r.Text, "INC-1 raised") {
		t.Fatalf("answer = %+v", r)
	}
	if inc, err := e.st.Incident(context.Background(), 1); err != nil || inc.Site != "depot" {
		t.Fatalf("incident = %+v, %v; want site depot from channel C0DEPOT", inc, err)
	}
}

// /incident raise from Slack posts an incident card to the site's channel
// (through the real notifier, against fake Slack), with Acknowledge and
// Resolve, and remembers it.
func TestRaisePostsCard(t *testing.T) {
	e := newEnv(t, nil)
	e.slash("U0FARID", "C0HARBOUR", "/incident", "raise intrusion sev2 @harbour fence cut near gate B")
	p, err := e.fake.WaitForPost(e.ctx(), func(p fakeslack.Post) bool { return p.Channel == "C0HARBOUR" })
	if err != nil {
		t.Fatal(err)
	}
	if err := e.a.Flush(e.ctx()); err != nil {
		t.Fatal(err)
	}
	blocks := string(p.Blocks)
	for _, want := range []string{"INC-1", "sev2", "intrusion", "Harbour Point HQ", "fence cut near gate B", "Farid Haddad", "Open",
		`"action_id":"muster_ack"`, `"action_id":"muster_resolve"`, `"value":"INC-1"`} {
		if !strings.Contains(blocks, want) {
			t.Errorf("card lacks %q: %s", want, blocks)
		}
	}
	locs, err := e.st.Cards(context.Background(), Platform, "INC-1")
	if err != nil || len(locs) != 1 || locs[0] != "C0HARBOUR/"+p.TS {
		t.Errorf("cards = %v, %v; want [C0HARBOUR/%s]", locs, err, p.TS)
	}
}

// A raise whose text tries to ping everyone reaches Slack with no live
// mention, in the card and in the in-channel answer.
func TestNoMentionInjection(t *testing.T) {
	e := newEnv(t, nil)
	r := e.slash("U0FARID", "C0HARBOUR", "/incident", "raise intrusion @harbour <!channel> @everyone <@U123> <!here|here> & co")
	if r.ResponseType != "in_channel" {
		t.Fatalf("answer = %+v", r)
	}
	if m := fakeslack.LiveMentions(fakeslack.Post{Text: r.Text}); len(m) != 0 {
		t.Errorf("answer %q mentions %v", r.Text, m)
	}
	if !strings.Contains(r.Text, "&lt;!channel&gt; @everyone &lt;@U123&gt; &lt;!here|here&gt; &amp; co") {
		t.Errorf("answer text = %q, want the typed text escaped", r.Text)
	}
	p, err := e.fake.WaitForPost(e.ctx(), func(p fakeslack.Post) bool { return p.Channel == "C0HARBOUR" })
	if err != nil {
		t.Fatal(err)
	}
	if m := fakeslack.LiveMentions(p); len(m) != 0 {
		t.Errorf("card mentions %v: text %q blocks %s", m, p.Text, p.Blocks)
	}
	if p.LinkNames != "" && p.LinkNames != "0" && p.LinkNames != "false" {
		t.Errorf("link_names = %q; muster never sets it", p.LinkNames)
	}
	if !strings.Contains(strings.ReplaceAll(string(p.Blocks), `\u0026`, "&"), "&lt;!channel&gt; @everyone &lt;@U123&gt;") {
		t.Errorf("the typed text is not shown escaped: %s", p.Blocks)
	}
}

// Posts to one channel are spaced at least a second apart on the
// adapter's clock, in order.
func TestPacingOnePostPerSecondPerChannel(t *testing.T) {
	e := newEnv(t, nil)
	// Notify waits for its post; each is queued before the next starts,
	// so they queue in order.
	errs := make(chan error, 4)
	// The first goes at once; the next wait for the clock.
	harbour := func(i int) notify.Message {
		return notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "note " + strconv.Itoa(i)}
	}
	notifyAsync(t, e, errs, harbour(1), func() bool { return len(postsTo(e.fake, "C0HARBOUR")) == 1 && e.a.Pending() == 0 })
	notifyAsync(t, e, errs, harbour(2), func() bool { return e.a.Pending() == 1 })
	notifyAsync(t, e, errs, harbour(3), func() bool { return e.a.Pending() == 2 })
	// Another channel is not held up by harbour's queue.
	notifyAsync(t, e, errs, notify.Message{Channel: notify.Chat, Site: "depot", Kind: "broadcast", Text: "depot note"},
		func() bool { return len(postsTo(e.fake, "C0DEPOT")) == 1 })
	pump(t, e.clk, e.fake, 250*time.Millisecond, func() bool {
		return len(postsTo(e.fake, "C0HARBOUR")) == 3 && len(postsTo(e.fake, "C0DEPOT")) == 1
	})
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	posts := postsTo(e.fake, "C0HARBOUR")
	for i, p := range posts {
		if want := "note " + strconv.Itoa(i+1); p.Text != want {
			t.Errorf("post %d = %q, want %q", i, p.Text, want)
		}
		if i > 0 {
			if gap := p.Received.Sub(posts[i-1].Received); gap < time.Second {
				t.Errorf("posts %d and %d are %v apart, want >= 1s", i-1, i, gap)
			}
		}
	}
	depot := postsTo(e.fake, "C0DEPOT")
	if len(depot) != 1 || depot[0].Text != "depot note" {
		t.Errorf("depot posts = %+v, want one", depot)
	}
}

// A 429 is honoured: the post is retried only after Retry-After.
func TestRateLimitRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, nil)
	e.fake.RateLimitNext(1, 3*time.Second)
	errs := make(chan error, 1)
	notifyAsync(t, e, errs, notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "after the limit"},
		func() bool { return len(e.fake.Requests()) == 1 })
	pump(t, e.clk, e.fake, 500*time.Millisecond, func() bool { return len(postsTo(e.fake, "C0HARBOUR")) == 1 })
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	reqs := e.fake.Requests()
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests {
		t.Fatalf("requests = %+v, want a 429 then a post", reqs)
	}
	if gap := reqs[1].Received.Sub(reqs[0].Received); gap < 3*time.Second {
		t.Errorf("retried %v after the 429, want >= Retry-After 3s", gap)
	}
}

// A command slower than the reply budget is answered "working on it" at
// once, and its real answer follows through response_url.
func TestSlowCommandAnswersThroughResponseURL(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, func(o *Options) {
		o.Service = gated{Handler: o.Service, release: release}
		o.ReplyBudget = 10 * time.Millisecond
	})
	r := e.slash("U0JONAH", "C0HARBOUR", "/muster", "whoami")
	if r.Text != Escape(workingOnIt) || r.ResponseType != "ephemeral" {
		t.Fatalf("answer = %+v, want working on it", r)
	}
	close(release)
	resp, err := e.fake.WaitForResponse(e.ctx(), func(fakeslack.Response) bool { return true })
	if err != nil || !strings.Contains(resp.Text, "Jonah Reid") {
		t.Errorf("late answer = %+v, %v", resp, err)
	}
}

// gated holds every command until release is closed.
type gated struct {
	Handler
	release chan struct{}
}

func (g gated) Handle(ctx context.Context, req commands.Request) commands.Reply {
	<-g.release
	return g.Handler.Handle(ctx, req)
}

func TestActionLine(t *testing.T) {
	tests := []struct{ action, value, want string }{
		{ActionAck, "T-17", "/ack T-17"},
		{ActionAck, "INC-4", "/incident ack INC-4"},
		{ActionResolve, "INC-4", "/incident resolve INC-4 resolved from Slack"},
		{ActionResolve, "T-17", ""},
		{ActionAck, "INC-4; /plan trigger x", ""},
		{ActionAck, "A-3", ""},
		{"other", "INC-4", ""},
	}
	for _, tt := range tests {
		if got := actionLine(tt.action, tt.value); got != tt.want {
			t.Errorf("actionLine(%q, %q) = %q, want %q", tt.action, tt.value, got, tt.want)
		}
	}
}

func TestLine(t *testing.T) {
	if got := Line("/incident", " raise fire @harbour smoke "); got != "/incident raise fire @harbour smoke" {
		t.Errorf("Line = %q", got)
	}
	if got := Line("/ack", ""); got != "/ack" {
		t.Errorf("Line = %q", got)
	}
}

func TestEscape(t *testing.T) {
	if got := Escape("a <!channel> & <@U1> > b"); got != "a &lt;!channel&gt; &amp; &lt;@U1&gt; &gt; b" {
		t.Errorf("Escape = %q", got)
	}
}
