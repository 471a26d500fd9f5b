package twilio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
)

// methods lists the method of every request the fake received, in order.
func methods(fake *faketwilio.Server) []string {
	var out []string
	for _, r := range fake.Requests() {
		out = append(out, r.Method)
	}
	return out
}

func sameMethods(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func callout(text string) notify.Message {
	return notify.Message{Key: "T-3:1:sms", Channel: notify.SMS, To: "amara", Ref: "T-3", Text: text}
}

// A message sent in the normal case is one POST: no lookup.
func TestSureSMSIsOnePost(t *testing.T) {
	c, fake, _ := setup(t, nil)
	if _, err := c.Notify(context.Background(), callout("T-3 Harbour: Sweep Reply ACK 3")); err != nil {
		t.Fatal(err)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost) {
		t.Fatalf("requests %v, want one POST", got)
	}
}

// An SMS whose earlier attempt Twilio accepted, though nobody recorded it,
// is found and not sent again; its SID is remembered again for the status
// callbacks.
func TestUnsureSMSAlreadyAcceptedIsNotSentAgain(t *testing.T) {
	c, fake, mp := setup(t, nil)
	m := callout("T-3 Harbour: Sweep Reply ACK 3")
	resendUnsure(t, c, mp, m)
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the fake holds %d messages, want 1: %+v", len(msgs), msgs)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodGet) {
		t.Fatalf("requests %v, want the first POST and one lookup", got)
	}
	if d, ok := mp.m[msgs[0].SID]; !ok || d.Task != 3 || d.Key != m.Key {
		t.Fatalf("SID %s not remembered again: %+v", msgs[0].SID, mp.m)
	}
	r := fake.Requests()[1]
	if r.Path != "/2010-04-01/Accounts/"+sid+"/Messages.json" {
		t.Fatalf("lookup path %s", r.Path)
	}
}

// An unsure SMS that Twilio never took is sent, once; messages to the same
// number with another body, or created before the first attempt (less the
// margin), are not it.
func TestUnsureSMSNotAtTwilioIsSentOnce(t *testing.T) {
	c, fake, _ := setup(t, nil)
	now := time.Now()
	// Yesterday's copy of the same text, and another text today.
	fake.SetClock(func() time.Time { return now.Add(-24 * time.Hour) })
	if _, err := c.Notify(context.Background(), callout("T-3 Harbour: Sweep Reply ACK 3")); err != nil {
		t.Fatal(err)
	}
	fake.SetClock(time.Now)
	if _, err := c.Notify(context.Background(), callout("T-4 Harbour: Gate Reply ACK 4")); err != nil {
		t.Fatal(err)
	}

	m := callout("T-3 Harbour: Sweep Reply ACK 3")
	m.MaybeSent = now
	retry, err := c.Notify(context.Background(), m)
	if err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPost) {
		t.Fatalf("requests %v, want a lookup then one POST", got)
	}
	if n, _ := fake.CountTo("+447700900101"); n != 3 {
		t.Fatalf("%d messages to amara, want 3", n)
	}
}

// With a Messaging Service the lookup has no From: it matches the service.
func TestUnsureSMSThroughMessagingService(t *testing.T) {
	const service = "MG00000000000000000000000000000001"
	c, fake, _ := setup(t, func(o *twilio.Options) { o.From, o.MessagingServiceSID = "", service })
	m := callout("T-3 Harbour: Sweep Reply ACK 3")
	if _, err := c.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	m.MaybeSent = time.Now().Add(-time.Second)
	if _, err := c.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodGet) {
		t.Fatalf("requests %v, want the first POST and one lookup", got)
	}
	if q := fake.Requests()[1].Form; len(q) != 0 {
		t.Fatalf("a GET carries a form %v", q)
	}
}

// failGets fails every GET before it reaches Twilio.
type failGets struct{ next http.RoundTripper }

func (f failGets) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// A lookup that fails falls back to sending: at least once beats never.
func TestUnsureSMSLookupFailureSends(t *testing.T) {
	c, fake, _ := setup(t, func(o *twilio.Options) { o.Transport = failGets{http.DefaultTransport} })
	m := callout("T-3 Harbour: Sweep Reply ACK 3")
	m.MaybeSent = time.Now()
	if retry, err := c.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost) {
		t.Fatalf("requests reaching the fake %v, want one POST", got)
	}
}

// dropAnswers delivers each request and then loses the answer, as a
// connection that breaks after the request was written.
type dropAnswers struct{ next http.RoundTripper }

func (d dropAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return nil, io.ErrUnexpectedEOF
}

// A request that may have reached Twilio is retried and says its outcome
// is unknown (so the outbox marks the next attempt unsure); one that could
// not connect is retried and does not.
func TestAmbiguousFailureSaysOutcomeUnknown(t *testing.T) {
	c, fake, _ := setup(t, func(o *twilio.Options) { o.Transport = dropAnswers{http.DefaultTransport} })
	retry, err := c.Notify(context.Background(), callout("x"))
	if err == nil || !retry || !errors.Is(err, twilio.ErrOutcomeUnknown) {
		t.Fatalf("lost answer: %v, retry %v; want a retryable ErrOutcomeUnknown", err, retry)
	}
	if len(fake.Messages()) != 1 {
		t.Fatalf("the fake took %d messages", len(fake.Messages()))
	}
	c, _, _ = setup(t, func(o *twilio.Options) { o.APIURL = "http://127.0.0.1:1" })
	retry, err = c.Notify(context.Background(), callout("x"))
	if err == nil || !retry || errors.Is(err, twilio.ErrOutcomeUnknown) {
		t.Fatalf("refused connection: %v, retry %v; want retryable, outcome known", err, retry)
	}
	// Twilio's own refusal is an answer: the outcome is known.
	c, fake, _ = setup(t, nil)
	fake.FailNext("", 503, 20503)
	if _, err := c.Notify(context.Background(), callout("x")); err == nil || errors.Is(err, twilio.ErrOutcomeUnknown) {
		t.Fatalf("503: %v; want an error with a known outcome", err)
	}
}

// Escalation often sends the same text to the same person again. An
// unsure SMS whose text Twilio holds only as an earlier message, one muster
// recorded for another step, is not taken for it: it is sent.
func TestUnsureSMSIsNotAnEarlierStepWithTheSameText(t *testing.T) {
	c, fake, _ := setup(t, nil)
	text := "T-3 Harbour: Sweep Reply ACK 3"
	first := notify.Message{Key: "T-3:0:sms", Channel: notify.SMS, To: "amara", Ref: "T-3", Text: text}
	if _, err := c.Notify(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	third := notify.Message{Key: "T-3:2:sms", Channel: notify.SMS, To: "amara", Ref: "T-3", Text: text,
		MaybeSent: time.Now()}
	if retry, err := c.Notify(context.Background(), third); err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	if msgs := fake.Messages(); len(msgs) != 2 {
		t.Fatalf("the fake holds %d messages, want 2 (the earlier step's and this one): %+v", len(msgs), msgs)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodGet, http.MethodPost) {
		t.Fatalf("requests %v, want POST, the lookup, POST", got)
	}
}

func voice(key string) notify.Message {
	return notify.Message{Key: key, Channel: notify.Voice, To: "amara", Ref: "T-3", Text: "T-3 Harbour: Sweep"}
}

// A call whose earlier attempt Twilio accepted, though nobody recorded it,
// is found and not placed again (it would ring twice); its SID is
// remembered again for the status callbacks.
func TestUnsureCallAlreadyAcceptedIsNotCalledAgain(t *testing.T) {
	c, fake, mp := setup(t, nil)
	m := voice("T-3:1:voice")
	resendUnsure(t, c, mp, m)
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("the fake holds %d calls, want 1: %+v", len(calls), calls)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodGet) {
		t.Fatalf("requests %v, want the first POST and one lookup", got)
	}
	if d, ok := mp.m[calls[0].SID]; !ok || d.Task != 3 || d.Key != m.Key || d.Channel != notify.Voice {
		t.Fatalf("SID %s not remembered again: %+v", calls[0].SID, mp.m)
	}
	if r := fake.Requests()[1]; r.Path != "/2010-04-01/Accounts/"+sid+"/Calls.json" {
		t.Fatalf("lookup path %s", r.Path)
	}
}

// An unsure call that Twilio never took is placed, once. Calls to the same
// number that muster has no record of are not it when they were created
// before the first attempt (less the margin) or came from another sender;
// nor is a text message to it.
func TestUnsureCallNotAtTwilioIsCalledOnce(t *testing.T) {
	var o twilio.Options
	c, fake, _ := setup(t, func(opts *twilio.Options) { o = *opts })
	// Clients that remember no SIDs: their calls are unknown to muster.
	o.Deliveries = nil
	unrecorded, err := twilio.New(o)
	if err != nil {
		t.Fatal(err)
	}
	o.From = "+447700900998"
	otherSender, err := twilio.New(o)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Yesterday's call, then today another sender's call and an SMS.
	fake.SetClock(func() time.Time { return now.Add(-24 * time.Hour) })
	if _, err := unrecorded.Notify(context.Background(), voice("T-3:1:voice")); err != nil {
		t.Fatal(err)
	}
	fake.SetClock(time.Now)
	if _, err := otherSender.Notify(context.Background(), voice("T-3:1:voice")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(context.Background(), callout("T-3 Harbour: Sweep Reply ACK 3")); err != nil {
		t.Fatal(err)
	}

	m := voice("T-3:1:voice")
	m.MaybeSent = now
	retry, err := c.Notify(context.Background(), m)
	if err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPost) {
		t.Fatalf("requests %v, want a lookup then one POST", got)
	}
	if _, n := fake.CountTo("+447700900101"); n != 3 {
		t.Fatalf("%d calls to amara, want 3", n)
	}
}

// An earlier step's call to the same person, which muster recorded for
// that step, is not taken for an unsure later one: it is placed.
func TestUnsureCallIsNotAnEarlierStepsCall(t *testing.T) {
	c, fake, _ := setup(t, nil)
	if _, err := c.Notify(context.Background(), voice("T-3:0:voice")); err != nil {
		t.Fatal(err)
	}
	third := voice("T-3:2:voice")
	third.MaybeSent = time.Now()
	if retry, err := c.Notify(context.Background(), third); err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	if calls := fake.Calls(); len(calls) != 2 {
		t.Fatalf("the fake holds %d calls, want 2 (the earlier step's and this one): %+v", len(calls), calls)
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost, http.MethodGet, http.MethodPost) {
		t.Fatalf("requests %v, want POST, the lookup, POST", got)
	}
}

// A call lookup that fails falls back to calling: at least once beats
// never.
func TestUnsureCallLookupFailureCalls(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	c, fake, _ := setup(t, func(o *twilio.Options) {
		o.Transport = failGets{http.DefaultTransport}
		o.Logger = zap.New(core)
	})
	m := voice("T-3:1:voice")
	m.MaybeSent = time.Now()
	if retry, err := c.Notify(context.Background(), m); err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	if n := logs.FilterMessage("twilio lookup failed; calling again, which may ring twice").Len(); n != 1 {
		t.Fatalf("%d warnings of the failed lookup, want 1: %v", n, logs.All())
	}
	if got := methods(fake); !sameMethods(got, http.MethodPost) {
		t.Fatalf("requests reaching the fake %v, want one POST", got)
	}
	if calls := fake.Calls(); len(calls) != 1 {
		t.Fatalf("the fake holds %d calls, want 1", len(calls))
	}
}

// resendUnsure sends m once, forgets what the client remembered of it (as
// a process that died before recording the outcome would), and sends it
// again marked unsure; the second Notify must succeed without a retry.
func resendUnsure(t *testing.T, c *twilio.Client, mp *mapper, m notify.Message) {
	t.Helper()
	first := time.Now()
	if _, err := c.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mp.mu.Lock()
	clear(mp.m)
	mp.mu.Unlock()

	m.MaybeSent = first
	retry, err := c.Notify(context.Background(), m)
	if err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
}
