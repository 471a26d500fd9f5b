package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/redistest"
)

// loadServe is a muster serve on its own listener with Slack (signed
// slash commands in, posts to the fake Slack) and Twilio (the fake, at
// twilio.rate 1 as in the example config).
type loadServe struct {
	base    string
	journal string
	twilio  *faketwilio.Server
	slack   *fakeslack.Server
	api     string
	stderr  *syncBuffer
	client  *http.Client
	cancel  context.CancelFunc
	code    <-chan int
}

const loadSecret = "load-signing-secret"

func startLoadServe(t *testing.T, redisURL string) *loadServe {
	t.Helper()
	o := newOrg(t)
	e := &loadServe{journal: filepath.Join(t.TempDir(), "muster-journal.jsonl"), stderr: &syncBuffer{}}
	e.slack = fakeslack.New("xoxb-test")
	sapi := httptest.NewServer(e.slack)
	t.Cleanup(sapi.Close)
	e.api = sapi.URL
	const sid, token = "AC0000000000000000000000000000000a", "authtoken123"
	e.twilio = faketwilio.New(sid, token)
	tapi := httptest.NewServer(e.twilio)
	t.Cleanup(func() { e.twilio.Close(); tapi.Close() })
	raw, err := os.ReadFile(o.config)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for old, new := range map[string]string{
		"  bot_token_env: SLACK_BOT_TOKEN":      "  api_url: " + sapi.URL + "/api/\n  bot_token_env: SLACK_BOT_TOKEN",
		"  account_sid_env: TWILIO_ACCOUNT_SID": "  api_url: " + tapi.URL + "\n  account_sid_env: TWILIO_ACCOUNT_SID",
		"  journal: muster-journal.jsonl":       "  journal: " + e.journal,
		"  rate: 1 ":                            "  rate: 1 ", // twilio.rate: 1, as the example has it
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("the example config has no %q", old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	if err := os.WriteFile(o.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-test")
	t.Setenv("SLACK_SIGNING_SECRET", loadSecret)
	t.Setenv("SLACK_APP_TOKEN", "")
	t.Setenv("DISCORD_BOT_TOKEN", "")
	t.Setenv("DISCORD_PUBLIC_KEY", "")
	t.Setenv("TWILIO_ACCOUNT_SID", sid)
	t.Setenv("TWILIO_AUTH_TOKEN", token)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	args := []string{"serve", "--config", o.config, "--listen", "127.0.0.1:0", "--log-level", "warn", "--log-format", "text", "--redis", redisURL}
	e.base, e.code = serveBase(ctx, t, args, e.stderr)
	e.client = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0}}
	t.Cleanup(func() {
		cancel()
		select {
		case <-e.code:
		case <-time.After(30 * time.Second):
			t.Error("muster serve did not stop within 30s")
		}
	})
	return e
}

// signed is one signed slash command, ready to be sent (and sent again).
type signed struct {
	body string
	ts   int64
	sig  string
}

func (e *loadServe) sign(user, channel, command, text string) signed {
	form := url.Values{"command": {command}, "text": {text}, "user_id": {user}, "channel_id": {channel},
		"response_url": {e.api + "/response/x"}}
	body := form.Encode()
	ts := time.Now().Unix()
	return signed{body: body, ts: ts, sig: slackbot.Sign(loadSecret, ts, []byte(body))}
}

// answer is what muster answered one request, and how fast.
type answer struct {
	status int
	body   string
	took   time.Duration
	err    error
}

// handled: muster ran the command (not refused, not shed).
func (a answer) handled() bool {
	return a.err == nil && a.status == 200 && !strings.Contains(a.body, "overloaded")
}

func (e *loadServe) post(s signed) answer {
	req := slackRequest(e.base, s.body, s.ts, s.sig)
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return answer{status: resp.StatusCode, body: string(body), took: time.Since(start)}
}

// waitReady waits until /readyz says want (200 or 503).
func (e *loadServe) waitReady(t *testing.T, want int) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := e.client.Get(e.base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return string(body)
			}
		}
		select {
		case <-deadline:
			t.Fatalf("/readyz never answered %d", want)
		case <-tick.C:
		}
	}
}

// degradedSMS are the SMS degraded mode sent (their text says records are
// down).
func (e *loadServe) degradedSMS() []faketwilio.Message {
	var out []faketwilio.Message
	for _, m := range e.twilio.Messages() {
		if strings.Contains(m.Body, "records are down") {
			out = append(out, m)
		}
	}
	return out
}

// With Redis stopped (muster serve's own redis-server), the same signed
// /plan trigger POSTed twice calls out once: the first is triggered in
// degraded mode, the copy is refused 401 by this process's own replay
// memory; the journal holds one line and, once Redis returns, replays it
// into one activation.
func TestReplayedTriggerDuringAnOutageCallsOutOnce(t *testing.T) {
	r := redistest.StartSingle(t)
	e := startLoadServe(t, r.URL())
	e.waitReady(t, 200)
	r.Kill()
	if body := e.waitReady(t, 503); !strings.HasPrefix(body, "not ready: redis unreachable") {
		t.Fatalf("/readyz while Redis is down: %q", body)
	}

	req := e.sign("U0FARID", "C0HARBOUR", "/plan", "trigger fire-evacuation @harbour smoke on level 3")
	first := e.post(req)
	if first.status != 200 || !strings.Contains(first.body, "DEGRADED MODE") {
		t.Fatalf("first trigger = %d %q (%v)", first.status, first.body, first.err)
	}
	second := e.post(req)
	if second.status != http.StatusUnauthorized {
		t.Fatalf("the same signed trigger again = %d %q, want 401", second.status, second.body)
	}
	// One journal line, written before anything went out.
	raw, err := os.ReadFile(e.journal)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(raw)), "\n") + 1; n != 1 {
		t.Fatalf("journal has %d lines, want 1:\n%s", n, raw)
	}
	// The one call-out reaches Twilio, paced.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.twilio.WaitFor(ctx, func() bool { return len(e.degradedSMS()) >= 2 }); err != nil {
		t.Fatalf("degraded SMS: %+v: %v", e.degradedSMS(), err)
	}

	// Redis returns: ready again, and the journal replays once.
	r.Restart()
	e.waitReady(t, 200)
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		m, _ := filepath.Glob(e.journal + ".*.replayed")
		if len(m) == 1 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("the journal was not replayed within 30s")
		case <-tick.C:
		}
	}
	status := e.post(e.sign("U0FARID", "C0HARBOUR", "/plan", "status"))
	if !strings.Contains(status.body, "A-1") || strings.Contains(status.body, "A-2") {
		t.Fatalf("/plan status after the replay = %q, want A-1 only", status.body)
	}
	list := e.post(e.sign("U0FARID", "C0HARBOUR", "/plan", "status A-2"))
	if !strings.Contains(list.body, "no A-2") && !strings.Contains(list.body, "There is no") {
		t.Fatalf("/plan status A-2 = %q, want none", list.body)
	}
	// The copy was never journaled, so nothing of it went out: every
	// degraded SMS is the first trigger's, one per assignee.
	to := map[string]int{}
	for _, m := range e.degradedSMS() {
		to[m.To]++
	}
	for phone, n := range to {
		if n != 1 {
			t.Errorf("%s got %d degraded SMS, want 1", phone, n)
		}
	}
}
