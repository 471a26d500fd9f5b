package faketwilio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
)

// app stands in for muster's Twilio webhooks: it checks X-Twilio-Signature with twilio-go's
// validator and remembers what it got.
type app struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []url.Values
	bad int
}

func newApp(t *testing.T, token string) *app {
	t.Helper()
	a := &app{}
	v := client.NewRequestValidator(token)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		full := "http://" + r.Host + r.URL.RequestURI()
		var ok bool
		var params url.Values
		if r.Method == http.MethodGet {
			params = r.URL.Query()
			ok = v.Validate(full, map[string]string{}, r.Header.Get("X-Twilio-Signature"))
		} else {
			params, _ = url.ParseQuery(string(body))
			ok = v.ValidateBody(full, body, r.Header.Get("X-Twilio-Signature"))
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if !ok {
			a.bad++
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		a.got = append(a.got, params)
		w.Header().Set("Content-Type", "text/xml")
		switch {
		case strings.HasPrefix(r.URL.Path, "/twilio/sms"):
			_, _ = io.WriteString(w, `<Response><Message>OK, T-`+params.Get("Body")+`</Message></Response>`)
		case strings.HasPrefix(r.URL.Path, "/twilio/voice"):
			_, _ = io.WriteString(w, `<Response><Gather action="/twilio/voice/gather" numDigits="1"/></Response>`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) badSignatures() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bad
}

func (a *app) last() url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.got) == 0 {
		return nil
	}
	return a.got[len(a.got)-1]
}

func TestSendStatus(t *testing.T) {
	fake, srv := newFake(t)
	a := newApp(t, testToken)
	form := sms("+15551230001", "x")
	form.Set("StatusCallback", a.srv.URL+"/twilio/status?task=T-17")
	_, _, body := post(t, srv, messagesPath, testSID, testToken, form)
	sid := body["sid"].(string)

	if err := fake.SendStatus(context.Background(), sid, "undelivered", 30003); err != nil {
		t.Fatal(err)
	}
	got := a.last()
	want := map[string]string{
		"MessageSid": sid, "SmsSid": sid, "MessageStatus": "undelivered", "SmsStatus": "undelivered",
		"To": "+15551230001", "From": "+15550000000", "AccountSid": testSID, "ErrorCode": "30003",
		"ApiVersion": "2010-04-01",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if m, _ := fake.Message(sid); m.Status != "undelivered" || m.ErrorCode != 30003 {
		t.Errorf("message status = %q/%d", m.Status, m.ErrorCode)
	}
	if err := fake.SendStatus(context.Background(), sid, "delivered", 0); err != nil {
		t.Fatal(err)
	}
	if a.last().Has("ErrorCode") {
		t.Error("ErrorCode sent for a delivered message")
	}
	cbs := fake.Callbacks()
	if len(cbs) != 2 || cbs[0].Kind != CallbackStatus || cbs[0].Status != http.StatusNoContent {
		t.Errorf("callbacks = %+v", cbs)
	}
	if err := fake.SendStatus(context.Background(), "SMnope", "sent", 0); !errors.Is(err, ErrUnknownSID) {
		t.Errorf("unknown sid: err = %v", err)
	}
}

func TestSendStatusReportsRefusal(t *testing.T) {
	fake, srv := newFake(t)
	a := newApp(t, "another-token") // the app checks with a token the fake does not sign with
	form := sms("+15551230001", "x")
	form.Set("StatusCallback", a.srv.URL+"/twilio/status")
	_, _, body := post(t, srv, messagesPath, testSID, testToken, form)
	err := fake.SendStatus(context.Background(), body["sid"].(string), "sent", 0)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("err = %v, want a 403 refusal", err)
	}
	if n := a.badSignatures(); n != 1 {
		t.Errorf("app saw %d badly signed requests, want 1", n)
	}
}

func TestSendStatusWithoutCallback(t *testing.T) {
	fake, srv := newFake(t)
	_, _, body := post(t, srv, messagesPath, testSID, testToken, sms("+15551230001", "x"))
	if err := fake.SendStatus(context.Background(), body["sid"].(string), "sent", 0); !errors.Is(err, ErrNoCallback) {
		t.Errorf("err = %v, want ErrNoCallback", err)
	}
}

func TestAutoDeliver(t *testing.T) {
	fake, srv := newFake(t)
	a := newApp(t, testToken)
	fake.SetAutoDeliver(true)
	form := sms("+15551230001", "x")
	form.Set("StatusCallback", a.srv.URL+"/twilio/status")
	_, _, body := post(t, srv, messagesPath, testSID, testToken, form)
	sid := body["sid"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := fake.WaitForMessage(ctx, func(m Message) bool { return m.SID == sid && m.Status == "delivered" }); err != nil {
		t.Fatal(err)
	}
	if err := fake.WaitFor(ctx, func() bool { return len(fake.Callbacks()) == 2 }); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, cb := range fake.Callbacks() {
		statuses = append(statuses, cb.Params.Get("MessageStatus"))
	}
	if strings.Join(statuses, ",") != "sent,delivered" {
		t.Errorf("statuses = %v", statuses)
	}
}

func TestSendSMS(t *testing.T) {
	fake, _ := newFake(t)
	a := newApp(t, testToken)
	twiml, status, err := fake.SendSMS(context.Background(), a.srv.URL+"/twilio/sms", "+15551230001", "+15550000000", "ACK 17")
	if err != nil || status != 200 {
		t.Fatalf("status %d, err %v", status, err)
	}
	if twiml != `<Response><Message>OK, T-ACK 17</Message></Response>` {
		t.Errorf("twiml = %q", twiml)
	}
	got := a.last()
	for k, v := range map[string]string{"From": "+15551230001", "To": "+15550000000", "Body": "ACK 17", "NumMedia": "0", "AccountSid": testSID} {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if !strings.HasPrefix(got.Get("MessageSid"), "SM") || got.Get("SmsSid") != got.Get("MessageSid") {
		t.Errorf("MessageSid = %q, SmsSid = %q", got.Get("MessageSid"), got.Get("SmsSid"))
	}
}

func TestVoiceFlow(t *testing.T) {
	fake, srv := newFake(t)
	a := newApp(t, testToken)
	form := url.Values{
		"To": {"+15551230001"}, "From": {"+15550000000"}, "Url": {a.srv.URL + "/twilio/voice?task=T-17"},
		"StatusCallback": {a.srv.URL + "/twilio/status"},
	}
	_, _, body := post(t, srv, callsPath, testSID, testToken, form)
	sid := body["sid"].(string)
	ctx := context.Background()

	twiml, status, err := fake.AnswerCall(ctx, sid)
	if err != nil || status != 200 || !strings.Contains(twiml, "<Gather") {
		t.Fatalf("AnswerCall: %q %d %v", twiml, status, err)
	}
	if got := a.last(); got.Get("CallSid") != sid || got.Get("CallStatus") != "in-progress" || got.Get("task") != "" {
		t.Errorf("answer params = %v", got)
	}
	if _, status, err := fake.SendVoiceGather(ctx, a.srv.URL+"/twilio/voice/gather", sid, "1", "+15550000000", "+15551230001"); err != nil || status != 200 {
		t.Fatalf("gather: %d %v", status, err)
	}
	if got := a.last(); got.Get("Digits") != "1" || got.Get("CallSid") != sid {
		t.Errorf("gather params = %v", got)
	}
	if err := fake.SendCallStatus(ctx, sid, "completed"); err != nil {
		t.Fatal(err)
	}
	if got := a.last(); got.Get("CallStatus") != "completed" || got.Get("To") != "+15551230001" {
		t.Errorf("status params = %v", got)
	}
	if c, _ := fake.Call(sid); c.Status != "completed" {
		t.Errorf("call status = %q", c.Status)
	}
	if n := a.badSignatures(); n != 0 {
		t.Errorf("%d webhooks failed the signature check", n)
	}
}

func TestAnswerCallWithGet(t *testing.T) {
	fake, srv := newFake(t)
	a := newApp(t, testToken)
	form := url.Values{"To": {"+15551230001"}, "From": {"+15550000000"}, "Url": {a.srv.URL + "/twilio/voice?task=T-17"}, "Method": {"GET"}}
	_, _, body := post(t, srv, callsPath, testSID, testToken, form)
	if _, status, err := fake.AnswerCall(context.Background(), body["sid"].(string)); err != nil || status != 200 {
		t.Fatalf("AnswerCall: %d %v (bad signatures: %d)", status, err, a.badSignatures())
	}
	if got := a.last(); got.Get("task") != "T-17" || got.Get("CallStatus") != "in-progress" {
		t.Errorf("query = %v", got)
	}
}
