package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/faketwilio"
)

// slashCommand sends form to muster serve at base as a slash command,
// signed with secret as Slack signs one now, and returns the answer.
func slashCommand(t *testing.T, base, secret string, form url.Values) (status int, answer string) {
	t.Helper()
	body := form.Encode()
	ts := time.Now().Unix()
	resp, err := http.DefaultClient.Do(slackRequest(base, body, ts, slackbot.Sign(secret, ts, []byte(body))))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// slackRequest is a slash command to muster serve at base: body signed
// as sig at ts.
func slackRequest(base, body string, ts int64, sig string) *http.Request {
	req, _ := http.NewRequest("POST", base+"/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", sig)
	return req
}

// muster serve with Slack secrets in its environment serves Slack: a
// signed slash command gets its answer, and the incident card reaches the
// site channel through the outbox and the Slack notifier.
func TestServeWiresSlack(t *testing.T) {
	o := newOrg(t)
	fake := fakeslack.New("xoxb-test")
	api := httptest.NewServer(fake)
	defer api.Close()
	cfg, err := os.ReadFile(o.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "  bot_token_env: SLACK_BOT_TOKEN", "  api_url: "+api.URL+"/api/\n  bot_token_env: SLACK_BOT_TOKEN", 1))
	if err := os.WriteFile(o.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "test-signing-secret"
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-test")
	t.Setenv("SLACK_SIGNING_SECRET", secret)
	t.Setenv("SLACK_APP_TOKEN", "")
	t.Setenv("DISCORD_BOT_TOKEN", "")
	t.Setenv("DISCORD_PUBLIC_KEY", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"serve", "--config", o.config, "--listen", "127.0.0.1:0", "--log-level", "error"}
	args = append(args, "--redis", o.redisURL(t))
	banner, code := startServe(ctx, t, args)
	if !strings.Contains(banner, "platforms: slack") {
		t.Fatalf("banner %q does not list slack", banner)
	}
	base := strings.Fields(banner)[3]

	status, answer := slashCommand(t, base, secret, url.Values{"command": {"/incident"}, "text": {"raise intrusion sev2 @harbour Fence cut near gate B"},
		"user_id": {"U0AMARA"}, "channel_id": {"C0HARBOUR"}, "response_url": {api.URL + "/response/x"}})
	if status != 200 || !strings.Contains(answer, "INC-1 raised") {
		t.Fatalf("slash command = %d %s", status, answer)
	}

	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if _, err := fake.WaitForPost(wctx, func(p fakeslack.Post) bool {
		return p.Channel == "C0HARBOUR" && strings.Contains(p.Text+string(p.Blocks), "INC-1")
	}); err != nil {
		t.Fatalf("no INC-1 card in #harbour: %v", err)
	}

	// An unsigned request is refused.
	resp, err := http.Post(base+"/slack/commands", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"command": {"/incident"}, "text": {"list"}, "user_id": {"U0AMARA"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request = %d, want 401", resp.StatusCode)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d", c)
	}
}

// muster serve with Twilio secrets mounts the signed Twilio webhooks: an
// inbound SMS signed for server.public_url gets a TwiML answer; an
// unsigned one gets 403.
func TestServeWiresTwilio(t *testing.T) {
	o := newOrg(t)
	t.Setenv("SLACK_BOT_TOKEN", "")
	t.Setenv("DISCORD_BOT_TOKEN", "")
	t.Setenv("DISCORD_PUBLIC_KEY", "")
	t.Setenv("TWILIO_ACCOUNT_SID", "AC0000000000000000000000000000000a")
	t.Setenv("TWILIO_AUTH_TOKEN", "authtoken123")
	fake := faketwilio.New("AC0000000000000000000000000000000a", "authtoken123")
	api := httptest.NewServer(fake)
	defer api.Close()

	// Twilio signs the public URL; point it at the listener once we know
	// its port, so write the config with a placeholder first.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	port := freePort(t)
	public := "http://127.0.0.1:" + port
	cfg, err := os.ReadFile(o.config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "  public_url: https://muster.example.com", "  public_url: "+public, 1)
	text = strings.Replace(text, "  account_sid_env: TWILIO_ACCOUNT_SID", "  api_url: "+api.URL+"\n  account_sid_env: TWILIO_ACCOUNT_SID", 1)
	if err := os.WriteFile(o.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--config", o.config, "--listen", "127.0.0.1:" + port, "--log-level", "error"}
	args = append(args, "--redis", o.redisURL(t))
	banner, code := startServe(ctx, t, args)
	if !strings.Contains(banner, "twilio") {
		t.Fatalf("banner %q does not list twilio", banner)
	}
	body, status, err := fake.SendSMS(ctx, public+"/twilio/sms", "+447700900101", "+447700900999", "HELP")
	if err != nil || status != 200 || !strings.Contains(body, "<Response><Message>") || !strings.Contains(body, "ACK") {
		t.Fatalf("signed HELP = %d %q, %v", status, body, err)
	}
	resp, err := http.Post(public+"/twilio/sms", "application/x-www-form-urlencoded", strings.NewReader("From=%2B447700900101&Body=HELP"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned SMS = %d, want 403", resp.StatusCode)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d", c)
	}
}

// startServe runs `muster serve` with args until ctx ends and returns its
// banner line ("muster serving on http://ADDR (platforms: ...)") and a
// channel that receives its exit code.
func startServe(ctx context.Context, t *testing.T, args []string) (banner string, code <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	c := make(chan int, 1)
	go func() {
		c <- run(ctx, args, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	banner, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("muster serve printed no banner: %v", err)
	}
	go io.Copy(io.Discard, pr)
	return banner, c
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// A console pointed at the Redis of a running muster serve is its client:
// a plan it triggers is escalated and delivered by serve (the task
// notices reach Slack), and the console prints none of them. Its own
// clock cannot be sped up or moved there.
func TestConsoleIsAClientOfServe(t *testing.T) {
	o := newOrg(t)
	fake := fakeslack.New("xoxb-test")
	api := httptest.NewServer(fake)
	defer api.Close()
	cfg, err := os.ReadFile(o.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "  bot_token_env: SLACK_BOT_TOKEN", "  api_url: "+api.URL+"/api/\n  bot_token_env: SLACK_BOT_TOKEN", 1))
	if err := os.WriteFile(o.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-test")
	t.Setenv("SLACK_SIGNING_SECRET", "test-signing-secret")
	t.Setenv("SLACK_APP_TOKEN", "")
	t.Setenv("DISCORD_BOT_TOKEN", "")
	t.Setenv("DISCORD_PUBLIC_KEY", "")
	redis := o.redisURL(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, code := startServe(ctx, t, []string{"serve", "--config", o.config, "--redis", redis, "--listen", "127.0.0.1:0", "--log-level", "error"})

	r := muster(t, "/plan trigger fire-evacuation @harbour Smoke in the loading bay\n", "console", "--config", o.config, "--redis", redis, "--as", "farid")
	if r.code != 0 || !strings.Contains(r.stdout, "A-1 triggered") {
		t.Fatalf("console trigger: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "→") {
		t.Errorf("the console printed outgoing messages; serve should deliver them:\n%s", r.stdout)
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	for _, task := range []string{"T-1", "T-2", "T-3"} {
		if _, err := fake.WaitForPost(wctx, func(p fakeslack.Post) bool {
			return strings.HasPrefix(p.Channel, "D") && strings.Contains(p.Text+string(p.Blocks), task)
		}); err != nil {
			t.Errorf("no notice of %s in a DM through serve: %v", task, err)
		}
	}

	for _, extra := range [][]string{{"--time-scale", "60"}, {"--start", "2026-03-24T10:00:00Z"}} {
		r := muster(t, "", append([]string{"console", "--config", o.config, "--redis", redis}, extra...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "run only on the embedded store") {
			t.Errorf("console --redis %v: exit %d, stderr %q; want 2 and the reason", extra, r.code, r.stderr)
		}
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d", c)
	}
}
