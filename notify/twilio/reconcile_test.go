package twilio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

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
