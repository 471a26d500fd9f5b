package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
)

const (
	sid   = "AC0000000000000000000000000000000a"
	token = "0123456789abcdef0123456789abcdef"
)

// mapper is the real store's SID memory, with a copy of what the client
// asked it to remember for the tests to read.
type mapper struct {
	st *store.Store
	mu sync.Mutex
	m  map[string]store.Delivery
}

func (m *mapper) MapDelivery(ctx context.Context, id string, d store.Delivery) error {
	m.mu.Lock()
	m.m[id] = d
	m.mu.Unlock()
	return m.st.MapDelivery(ctx, id, d)
}

func (m *mapper) DeliveryKeys(ctx context.Context, ids []string) ([]string, error) {
	return m.st.DeliveryKeys(ctx, ids)
}

func setup(t *testing.T, mutate func(*twilio.Options)) (*twilio.Client, *faketwilio.Server, *mapper) {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	fake := faketwilio.New(sid, token)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); srv.Close() })
	mp := &mapper{st: storetest.Open(t, nil), m: map[string]store.Delivery{}}
	o := twilio.Options{AccountSID: sid, AuthToken: token, From: "+447700900999", APIURL: srv.URL,
		PublicURL: "https://muster.example.com/", People: cfg, Deliveries: mp}
	if mutate != nil {
		mutate(&o)
	}
	c, err := twilio.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, fake, mp
}

func TestSMSGoesToTheFakeWithCallback(t *testing.T) {
	c, fake, mp := setup(t, nil)
	retry, err := c.Notify(context.Background(), notify.Message{Key: "T-3:1:sms", Channel: notify.SMS, To: "amara", Ref: "T-3",
		Text: notify.DrillPrefix + "T-3 Harbour: Sweep Reply ACK 3"})
	if err != nil || retry {
		t.Fatalf("Notify: %v, retry %v", err, retry)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("messages: %+v", msgs)
	}
	m := msgs[0]
	if m.To != "+447700900101" || m.From != "+447700900999" || m.Body != "DRILL — T-3 Harbour: Sweep Reply ACK 3" ||
		m.StatusCallback != "https://muster.example.com/twilio/status" {
		t.Fatalf("message %+v", m)
	}
	if d := mp.m[m.SID]; d.Task != 3 || d.Key != "T-3:1:sms" || d.Channel != notify.SMS || d.To != "amara" {
		t.Fatalf("mapped %+v", d)
	}
}

func TestMessagingServiceAndAPIURLPath(t *testing.T) {
	cfg, _ := configs.Example()
	fake := faketwilio.New(sid, token)
	// A proxy that serves Twilio under /twilio-proxy.
	srv := httptest.NewServer(http.StripPrefix("/twilio-proxy", fake))
	t.Cleanup(func() { fake.Close(); srv.Close() })
	c, err := twilio.New(twilio.Options{AccountSID: sid, AuthToken: token, MessagingServiceSID: "MG00000000000000000000000000000001",
		APIURL: srv.URL + "/twilio-proxy/", PublicURL: "https://m.example", People: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(context.Background(), notify.Message{Channel: notify.SMS, To: "ben", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages(); len(m) != 1 || m[0].MessagingServiceSID != "MG00000000000000000000000000000001" || m[0].From != "" {
		t.Fatalf("messages %+v", m)
	}
	// Calls need a From number.
	retry, err := c.Notify(context.Background(), notify.Message{Channel: notify.Voice, To: "ben", Ref: "T-1", Text: "x"})
	if err == nil || retry {
		t.Fatalf("voice without from: %v, retry %v", err, retry)
	}
}

func TestCallFetchesTaskTwiML(t *testing.T) {
	c, fake, _ := setup(t, nil)
	if _, err := c.Notify(context.Background(), notify.Message{Key: "T-12:2:voice", Channel: notify.Voice, To: "ben", Ref: "T-12", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(context.Background(), notify.Message{Channel: notify.Voice, To: "ben", Ref: "A-1", Text: "Fire at <depot> & yard"}); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if len(calls) != 2 || calls[0].URL != "https://muster.example.com/twilio/voice?task=T-12" || calls[0].Method != "POST" ||
		calls[0].StatusCallback != "https://muster.example.com/twilio/status" || calls[0].To != "+447700900102" {
		t.Fatalf("calls %+v", calls)
	}
	if !strings.Contains(calls[1].Twiml, "<Say>Fire at &lt;depot&gt; &amp; yard</Say>") {
		t.Fatalf("twiml %q", calls[1].Twiml)
	}
}

// The one place that maps Twilio's answers to retry or give up.
func TestRetryable(t *testing.T) {
	tests := []struct {
		status, code int
		retry        bool
	}{
		{429, 20429, true}, {500, 20500, true}, {503, 20503, true}, {400, 21211, false}, {400, 21610, false},
		{400, 21614, false}, {400, 21408, false}, {401, 20003, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			c, fake, _ := setup(t, nil)
			fake.FailNext("", tt.status, tt.code)
			retry, err := c.Notify(context.Background(), notify.Message{Channel: notify.SMS, To: "amara", Text: "x"})
			var te *twilio.Error
			if !errors.As(err, &te) || te.Code != tt.code || te.Status != tt.status || retry != tt.retry {
				t.Fatalf("err %v, retry %v; want code %d retry %v", err, retry, tt.code, tt.retry)
			}
			if strings.Contains(err.Error(), "+447700900101") {
				t.Fatalf("the error shows a phone number: %v", err)
			}
		})
	}
	// Nobody to send to is never retried.
	c, _, _ := setup(t, nil)
	if retry, err := c.Notify(context.Background(), notify.Message{Channel: notify.SMS, To: "nobody", Text: "x"}); err == nil || retry {
		t.Fatalf("unknown person: %v, retry %v", err, retry)
	}
	// A connection that fails is.
	c, _, _ = setup(t, func(o *twilio.Options) { o.APIURL = "http://127.0.0.1:1" })
	if retry, err := c.Notify(context.Background(), notify.Message{Channel: notify.SMS, To: "amara", Text: "x"}); err == nil || !retry {
		t.Fatalf("refused connection: %v, retry %v", err, retry)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	cfg, _ := configs.Example()
	for _, o := range []twilio.Options{
		{AuthToken: token, From: "+1", PublicURL: "https://x", People: cfg},
		{AccountSID: sid, From: "+1", PublicURL: "https://x", People: cfg},
		{AccountSID: sid, AuthToken: "has-dashes", From: "+1", PublicURL: "https://x", People: cfg},
		{AccountSID: sid, AuthToken: token, PublicURL: "https://x", People: cfg},
		{AccountSID: sid, AuthToken: token, From: "+1", People: cfg},
		{AccountSID: sid, AuthToken: token, From: "+1", PublicURL: "https://x", People: cfg, APIURL: "not a url"},
	} {
		if _, err := twilio.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		} else if strings.Contains(err.Error(), token) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}
