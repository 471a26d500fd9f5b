package sms

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// recorder is a Commander that remembers what it ran.
type recorder struct {
	mu   sync.Mutex
	reqs []commands.Request
}

func (r *recorder) Handle(_ context.Context, req commands.Request) commands.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return commands.Reply{Text: "ran " + req.Text}
}

func newHandlers(t *testing.T, token, public string) (*Handlers, *recorder, *store.Store, *observer.ObservedLogs) {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, nil)
	rec := &recorder{}
	core, logs := observer.New(zap.DebugLevel)
	h, err := New(Options{Config: cfg, Commands: rec, Store: st, AuthToken: token, PublicURL: public, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	return h, rec, st, logs
}

// post sends a form to h at path, signed for signURL with signToken.
func post(h http.Handler, path string, form url.Values, signToken, signURL string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", TwilioSignature(signToken, signURL, form))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Twilio's published example passes the handlers' check; a changed
// parameter, URL or token is refused with 403.
func TestHandlersCheckTwilioExample(t *testing.T) {
	h, _, _, _ := newHandlers(t, exampleToken, "https://mycompany.com")
	r := httptest.NewRequest(http.MethodPost, "/myapp.php?foo=1&bar=2", strings.NewReader(exampleParams().Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", exampleSignature)
	w := httptest.NewRecorder()
	h.Gather().ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Fatalf("Twilio's example: %d %s", w.Code, w.Body)
	}
	changed := exampleParams()
	changed.Set("Digits", "1235")
	for name, req := range map[string]struct {
		path  string
		form  url.Values
		token string
	}{
		"parameter": {"/myapp.php?foo=1&bar=2", changed, exampleToken},
		"url":       {"/myapp.php?foo=1&bar=3", exampleParams(), exampleToken},
		"token":     {"/myapp.php?foo=1&bar=2", exampleParams(), "54321"},
	} {
		r := httptest.NewRequest(http.MethodPost, req.path, strings.NewReader(req.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", exampleSignature)
		if req.token != exampleToken {
			r.Header.Set("X-Twilio-Signature", TwilioSignature(req.token, exampleURL, exampleParams()))
		}
		w := httptest.NewRecorder()
		h.Gather().ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("changed %s: %d, want 403", name, w.Code)
		}
	}
}

func TestInboundSMS(t *testing.T) {
	const token, public = "0123456789abcdef", "https://muster.example.com"
	h, rec, st, logs := newHandlers(t, token, public)
	sms := h.SMS()
	sids := 0
	form := func(from, body string) url.Values {
		// Each message has its own MessageSid (a repeated one is a retry).
		sids++
		return url.Values{"From": {from}, "To": {"+447700900999"}, "Body": {body}, "MessageSid": {fmt.Sprintf("SM%032d", sids)}}
	}

	// Forged: 403 and nothing runs.
	if w := post(sms, "/twilio/sms", form("+447700900101", "ACK"), "wrong", public+"/twilio/sms"); w.Code != http.StatusForbidden {
		t.Fatalf("forged: %d", w.Code)
	}
	// A known person: the command runs as them, by SMS.
	w := post(sms, "/twilio/sms", form("+447700900101", "status"), token, public+"/twilio/sms")
	if w.Code != http.StatusOK || w.Body.String() != `<?xml version="1.0" encoding="UTF-8"?><Response><Message>ran status</Message></Response>` {
		t.Fatalf("status: %d %s", w.Code, w.Body)
	}
	// An owner may mark a corrective action done by SMS.
	w = post(sms, "/twilio/sms", form("+447700900101", "ACTION DONE CA-3 fitted"), token, public+"/twilio/sms")
	if !strings.Contains(w.Body.String(), "<Message>ran ACTION DONE CA-3 fitted</Message>") {
		t.Fatalf("action by sms: %s", w.Body)
	}
	// Commands SMS does not take are not run.
	w = post(sms, "/twilio/sms", form("+447700900101", "/plan trigger fire-evacuation"), token, public+"/twilio/sms")
	if !strings.Contains(w.Body.String(), "muster understands") {
		t.Fatalf("plan by sms: %s", w.Body)
	}
	// Unknown number: polite refusal, logged masked.
	w = post(sms, "/twilio/sms", form("+15550009876", "ACK 3"), token, public+"/twilio/sms")
	if !strings.Contains(w.Body.String(), "not on the muster roster") {
		t.Fatalf("unknown: %s", w.Body)
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, "5550009876") {
				t.Fatalf("log shows the number: %s %v", e.Message, f)
			}
		}
	}
	// STOP is recorded, answered with an empty TwiML (Twilio replies).
	w = post(sms, "/twilio/sms", form("+447700900102", "Stop"), token, public+"/twilio/sms")
	if w.Body.String() != `<?xml version="1.0" encoding="UTF-8"?><Response/>` {
		t.Fatalf("stop: %s", w.Body)
	}
	if out, err := st.SMSOptedOut(context.Background(), "ben"); err != nil || !out {
		t.Fatalf("ben opted out: %v %v", out, err)
	}
	post(sms, "/twilio/sms", form("+447700900102", "START"), token, public+"/twilio/sms")
	if out, _ := st.SMSOptedOut(context.Background(), "ben"); out {
		t.Fatal("START did not opt ben back in")
	}
	if len(rec.reqs) != 2 || rec.reqs[1].Text != "ACTION DONE CA-3 fitted" {
		t.Fatalf("commands run: %+v", rec.reqs)
	}
	// Each command carries its message's replay guard.
	if r := rec.reqs[0]; r.Platform != commands.PlatformSMS || r.UserID != "+447700900101" || r.Text != "status" || r.Replay == nil {
		t.Fatalf("status: %+v, want an sms request from +447700900101 with its replay guard", r)
	}
}

func TestStatusCallbackNeedsASid(t *testing.T) {
	const token, public = "0123456789abcdef", "https://muster.example.com"
	h, _, _, _ := newHandlers(t, token, public)
	if w := post(h.Status(), "/twilio/status", url.Values{"AccountSid": {"AC1"}}, token, public+"/twilio/status"); w.Code != http.StatusBadRequest {
		t.Fatalf("no sid: %d", w.Code)
	}
	// A SID muster did not send is accepted and ignored.
	if w := post(h.Status(), "/twilio/status", url.Values{"MessageSid": {"SMx"}, "MessageStatus": {"failed"}}, token, public+"/twilio/status"); w.Code != http.StatusNoContent {
		t.Fatalf("unknown sid: %d", w.Code)
	}
}
