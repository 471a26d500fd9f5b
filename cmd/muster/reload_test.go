package main

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/fakeslack"
)

// newGuards are two guards the example does not have; the reload makes
// them the harbour's guard rotation, so /roster shows one of them
// whoever the clock puts on duty.
const newGuards = `  - id: zoe
    name: Zoe Lindqvist
    phone: "+447700900198"
    slack: U0ZOE
    roles: [guard]
    qualifications:
      - {name: sia-licence, expires: 2099-12-31}
  - id: yann
    name: Yann Lindqvist
    phone: "+447700900199"
    slack: U0YANN
    roles: [guard]
    qualifications:
      - {name: sia-licence, expires: 2099-12-31}
`

// SIGHUP reloads the configuration: a rotation changed in the file shows
// in /roster without a restart; a broken file, or one that changes what
// only a restart applies, leaves muster serving the configuration in
// force, with the reload metric at 0 until a good one is read again.
func TestServeReloadsItsConfigOnHangup(t *testing.T) {
	o := newOrg(t)
	fake := fakeslack.New("xoxb-test")
	api := httptest.NewServer(fake)
	defer api.Close()
	original, err := os.ReadFile(o.config)
	if err != nil {
		t.Fatal(err)
	}
	withSlack := strings.Replace(string(original), "  bot_token_env: SLACK_BOT_TOKEN",
		"  api_url: "+api.URL+"/api/\n  bot_token_env: SLACK_BOT_TOKEN", 1)
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(o.config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(withSlack)
	const secret = "test-signing-secret"
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-test")
	t.Setenv("SLACK_SIGNING_SECRET", secret)
	t.Setenv("SLACK_APP_TOKEN", "")
	t.Setenv("DISCORD_BOT_TOKEN", "")
	t.Setenv("DISCORD_PUBLIC_KEY", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	banner, code := startServe(ctx, t, []string{"serve", "--config", o.config, "--listen", "127.0.0.1:0",
		"--log-level", "error", "--redis", o.redisURL(t)})
	base := strings.Fields(banner)[3]

	asked := 0
	roster := func() string {
		t.Helper()
		asked++ // a signed request is taken once: each asks anew
		status, answer := slashCommand(t, base, secret, url.Values{"command": {"/roster"}, "text": {"@harbour"}, "user_id": {"U0JONAH"},
			"channel_id": {"C0HARBOUR"}, "response_url": {api.URL + "/response/x"}, "trigger_id": {strconv.Itoa(asked)}})
		if status != 200 {
			t.Fatalf("/roster = %d %s", status, answer)
		}
		return answer
	}
	reloadMetric := func() string {
		t.Helper()
		_, body := get(t, base+"/metrics")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "muster_config_last_reload_successful "); ok {
				return v
			}
		}
		t.Fatalf("/metrics has no muster_config_last_reload_successful:\n%s", body)
		return ""
	}
	// hangup sends SIGHUP and waits until the reload metric reads want
	// and /roster passes check.
	hangup := func(want string, check func(string) bool) string {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := roster()
			if reloadMetric() == want && check(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("after SIGHUP: reload metric %s (want %s), /roster:\n%s", reloadMetric(), want, got)
			}
			tick := time.NewTimer(20 * time.Millisecond)
			<-tick.C
		}
	}
	hasNewGuards := func(s string) bool { return strings.Contains(s, "Lindqvist") }

	if got := roster(); hasNewGuards(got) {
		t.Fatalf("/roster shows a Lindqvist before they are in the config:\n%s", got)
	}
	if m := reloadMetric(); m != "1" {
		t.Fatalf("reload metric at start = %s, want 1", m)
	}

	changed := strings.Replace(withSlack, "people:\n", "people:\n"+newGuards, 1)
	changed = strings.Replace(changed,
		"rotation: {shift: 12h, handover: \"07:00\", start: 2026-01-05, people: [amara, ben, chloe]}\n    requires: [sia-licence]",
		"rotation: {shift: 12h, handover: \"07:00\", start: 2026-01-05, people: [zoe, yann]}\n    requires: [sia-licence]", 1)
	if !strings.Contains(changed, "people: [zoe, yann]") || !strings.Contains(changed, "id: zoe") {
		t.Fatal("the test's edit of the example's harbour guard rotation no longer applies")
	}
	write(changed)
	hangup("1", hasNewGuards)

	// A broken file: the configuration in force stays, and the metric
	// says the reload failed.
	write(strings.Replace(changed, "people: [zoe, yann]", "people: [zoe, nobody-here]", 1))
	hangup("0", hasNewGuards)
	if status, _ := get(t, base+"/healthz"); status != 200 {
		t.Fatalf("/healthz after a failed reload = %d", status)
	}
	write(changed)
	hangup("1", hasNewGuards)

	// A setting only a restart applies is refused whole: the new guards stay on.
	moved := namespaceRE.ReplaceAllString(withSlack, "namespace: "+o.ns+"-moved")
	if moved == withSlack {
		t.Fatal("the test's namespace edit no longer applies")
	}
	write(moved)
	hangup("0", hasNewGuards)

	write(withSlack)
	hangup("1", func(s string) bool { return !hasNewGuards(s) })

	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d", c)
	}
}
