package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/redistest"
)

// twilioToken is the auth token startLoadServe gives muster serve.
const twilioToken = "authtoken123"

// sms POSTs an inbound SMS to muster serve's /twilio/sms as Twilio does:
// signed (X-Twilio-Signature) for server.public_url, the address Twilio
// calls, and sent to the listener.
func (e *loadServe) sms(t *testing.T, from, body string) (int, string) {
	t.Helper()
	params := url.Values{"AccountSid": {"AC0000000000000000000000000000000a"}, "From": {from}, "To": {"+447700900999"},
		"Body": {body}, "MessageSid": {"SM" + strings.Repeat("0", 24) + from[len(from)-8:]}, "NumMedia": {"0"}}
	req, err := http.NewRequest(http.MethodPost, e.base+"/twilio/sms", strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", faketwilio.Sign(twilioToken, "https://muster.example.com/twilio/sms", params))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("SMS %q from %s: %v", body, from, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// slackText is the text of a slash command's JSON answer.
func slackText(t *testing.T, a answer) string {
	t.Helper()
	var r struct{ Text string }
	if a.err != nil || a.status != 200 || json.Unmarshal([]byte(a.body), &r) != nil {
		t.Fatalf("slash command answered %d %q (%v)", a.status, a.body, a.err)
	}
	return r.Text
}

// The degraded roll call, through muster serve's own HTTP handlers: with
// its Redis stopped, a signed Slack /rollcall start asks everyone on duty
// at Harbour Point by SMS; two of them answer by signed Twilio SMS, one
// SAFE and one HELP (which pages the supervisor and control directly).
// Redis returns: the journal is replayed into exactly one R-n holding
// every answer, and the HELP's sev1 incident, linked to it.
func TestDegradedRollCallThroughServe(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.StartSingle(t)
	e := startLoadServe(t, r.URL())
	e.waitReady(t, 200)
	r.Kill()
	e.waitReady(t, 503)

	start := slackText(t, e.post(e.sign("U0FARID", "C0HARBOUR", "/rollcall", "start @harbour assembly point B")))
	if !strings.Contains(start, "DEGRADED MODE") || !strings.Contains(start, "journal dg-") {
		t.Fatalf("/rollcall start with Redis stopped = %q", start)
	}
	// Whom it asked: everyone the journal names, each by SMS.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	asked := func() map[string]bool {
		got := map[string]bool{}
		for _, m := range e.twilio.Messages() {
			if strings.Contains(m.Body, "Roll call at Harbour Point HQ: are you safe? Reply SAFE or HELP") {
				got[m.To] = true
			}
		}
		return got
	}
	want := strings.Count(start, "\n  ") - 1 // a line per person asked, and the site channel
	if want < 3 {
		t.Fatalf("the roll call asked %d people, the test wants three or more: %q", want, start)
	}
	if err := e.twilio.WaitFor(ctx, func() bool { return len(asked()) == want }); err != nil {
		t.Fatalf("roll call SMS: %v to %d people, want %d: %v", asked(), len(asked()), want, err)
	}
	var safe, help *configs.Person
	for i := range cfg.People {
		p := &cfg.People[i]
		if !asked()[p.Phone] || p.ID == "farid" {
			continue
		}
		if safe == nil {
			safe = p
		} else if help == nil {
			help = p
		}
	}
	if help == nil {
		t.Fatalf("asked %v: the test wants two besides the starter", asked())
	}

	status, body := e.sms(t, safe.Phone, "SAFE")
	if status != 200 || !strings.Contains(body, "your SAFE at") || !strings.Contains(body, "is kept") {
		t.Fatalf("SMS SAFE from %s = %d %q", safe.ID, status, body)
	}
	before := len(e.twilio.Messages())
	status, body = e.sms(t, help.Phone, "HELP trapped in the stairwell")
	if status != 200 || !strings.Contains(body, "raises a sev1 incident when they return") {
		t.Fatalf("SMS HELP from %s = %d %q", help.ID, status, body)
	}
	// The HELP pages directly while records are unavailable.
	if err := e.twilio.WaitFor(ctx, func() bool {
		for _, m := range e.twilio.Messages()[before:] {
			if strings.HasPrefix(m.Body, "HELP: ") && strings.Contains(m.Body, "trapped in the stairwell") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the HELP paged nobody directly: %+v: %v", e.twilio.Messages()[before:], err)
	}

	r.Restart()
	e.waitReady(t, 200)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, _ := filepath.Glob(e.journal + ".*.replayed"); len(m) == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the journal was not replayed")
		case <-tick.C:
		}
	}

	tally := slackText(t, e.post(e.sign("U0FARID", "C0HARBOUR", "/rollcall", "status")))
	for _, w := range []string{"Roll call R-1 at Harbour Point HQ", "1 safe, 1 need help", "Need help (1): " + help.Name, "INC-1: trapped in the stairwell",
		"Safe (1): " + safe.Name} {
		if !strings.Contains(tally, w) {
			t.Errorf("/rollcall status after the replay = %q, lacks %q", tally, w)
		}
	}
	if strings.Contains(tally, "R-2") {
		t.Errorf("/rollcall status names R-2: %q", tally)
	}
	if other := slackText(t, e.post(e.sign("U0FARID", "C0HARBOUR", "/rollcall", "status R-2"))); !strings.Contains(other, "There is no R-2") {
		t.Errorf("/rollcall status R-2 = %q, want none: one R-n", other)
	}
	inc := slackText(t, e.post(e.sign("U0FARID", "C0HARBOUR", "/incident", "show INC-1")))
	for _, w := range []string{"sev1", help.Name + " needs help (R-1): trapped in the stairwell"} {
		if !strings.Contains(inc, w) {
			t.Errorf("/incident show INC-1 = %q, lacks %q", inc, w)
		}
	}
	if other := slackText(t, e.post(e.sign("U0FARID", "C0HARBOUR", "/incident", "show INC-2"))); strings.Contains(other, "sev1") {
		t.Errorf("a second incident: %q", other)
	}
}
