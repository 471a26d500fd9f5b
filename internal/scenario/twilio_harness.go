package scenario

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/bot/sms"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
)

// Credentials of the fake Twilio account the Twilio scenarios run against.
const (
	TwilioAccountSID = "AC00000000000000000000000000000001"
	TwilioAuthToken  = "0123456789abcdef0123456789abcdef"
)

// TwilioHarness is a Harness whose SMS and calls go through the real
// Twilio client to a fake Twilio, and whose Twilio webhooks (/twilio/sms,
// /twilio/status, /twilio/voice, /twilio/voice/gather) are served on
// App, the public URL the fake signs its callbacks for. Chat still goes
// to the Recorder.
type TwilioHarness struct {
	*Harness
	Fake   *faketwilio.Server
	API    *httptest.Server // the fake Twilio API
	App    *httptest.Server // muster's webhooks
	Client *twilio.Client
	Del    *notify.Deliverer
}

// TwilioOptions tune NewTwilio.
type TwilioOptions struct {
	Options
	// Backoff between retries; 1s when nil.
	Backoff func(int) time.Duration
	// Pacing of SMS and voice (messages per second); unpaced when 0, as
	// time only moves when the test says so.
	Rate float64
}

// NewTwilio builds a harness wired to a fake Twilio.
func NewTwilio(t testing.TB, o TwilioOptions) *TwilioHarness {
	t.Helper()
	fake := faketwilio.New(TwilioAccountSID, TwilioAuthToken)
	api := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); api.Close() })

	var (
		mu  sync.RWMutex
		app http.Handler = http.NotFoundHandler()
	)
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := app
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(appSrv.Close)

	cfg := o.Config
	if cfg == nil {
		var err error
		if cfg, err = configs.Example(); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Server.PublicURL = appSrv.URL
	cfg.Twilio.APIURL = api.URL
	cfg.Twilio.AccountSID = TwilioAccountSID
	o.Config = cfg
	h := NewWith(t, o.Options)
	fake.SetClock(h.Clock.Now)

	client, err := twilio.New(twilio.Options{
		AccountSID: TwilioAccountSID, AuthToken: TwilioAuthToken, From: cfg.Twilio.From,
		MessagingServiceSID: cfg.Twilio.MessagingServiceSID, APIURL: cfg.Twilio.APIURL,
		PublicURL: cfg.Server.PublicURL, People: cfg, Deliveries: h.Store,
	})
	if err != nil {
		t.Fatal(err)
	}
	disp := notify.NewDispatcher(nil)
	disp.AddChat(h.Out)
	disp.SetSMS(client)
	disp.SetVoice(client)
	backoff := o.Backoff
	if backoff == nil {
		backoff = func(int) time.Duration { return time.Second }
	}
	var pacing map[string]notify.Pacing
	if o.Rate > 0 {
		sender := cfg.Twilio.From
		pacing = map[string]notify.Pacing{notify.SMS: {Sender: sender, Rate: o.Rate}, notify.Voice: {Sender: sender, Rate: o.Rate}}
	}
	del := notify.NewDelivererWith(notify.DelivererOptions{Store: h.Store, Out: disp, Clock: h.Clock,
		Lease: cfg.Engine.Lease.D(), Backoff: backoff, Pacing: pacing, Consumer: notify.NewToken()})
	h.del = del

	handlers, err := sms.New(sms.Options{Config: cfg, Commands: h.Svc, Store: h.Store,
		AuthToken: TwilioAuthToken, PublicURL: cfg.Server.PublicURL})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	handlers.Mount(mux)
	mu.Lock()
	app = mux
	mu.Unlock()
	return &TwilioHarness{Harness: h, Fake: fake, API: api, App: appSrv, Client: client, Del: del}
}

// Phone is a person's phone number.
func (h *TwilioHarness) Phone(person string) string {
	h.T.Helper()
	p, ok := h.Config.Person(person)
	if !ok {
		h.T.Fatalf("no person %q", person)
	}
	return p.Phone
}

// Text sends an inbound SMS from a person's phone (or any number), signed
// as Twilio signs it, and returns muster's TwiML answer and status.
func (h *TwilioHarness) Text(from, body string) (string, int) {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	twiml, status, err := h.Fake.SendSMS(ctx, h.App.URL+"/twilio/sms", from, h.Config.Twilio.From, body)
	if err != nil {
		h.T.Fatalf("inbound sms: %v", err)
	}
	h.Settle()
	return twiml, status
}

// SMSTo returns the SMS the fake accepted for a phone number.
func (h *TwilioHarness) SMSTo(phone string) []faketwilio.Message {
	var out []faketwilio.Message
	for _, m := range h.Fake.Messages() {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

// TaskStatus reads a task's status.
func (h *TwilioHarness) TaskStatus(num int64) string {
	h.T.Helper()
	t, err := h.Store.Task(context.Background(), num)
	if err != nil {
		h.T.Fatal(err)
	}
	return t.Status
}

// Timeline returns a task's timeline as "kind: text" lines.
func (h *TwilioHarness) Timeline(num int64) []string {
	h.T.Helper()
	tl, err := h.Store.TaskTimeline(context.Background(), num)
	if err != nil {
		h.T.Fatal(err)
	}
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Kind + ": " + e.Text
	}
	return out
}

// GateAlarm adds a one-task plan, "gate-alarm", whose task goes to the
// harbour guard on the standard policy (chat, 2m, sms, 3m, voice, 3m,
// supervisor...), so a scenario follows exactly one task.
func GateAlarm(cfg *configs.Config) {
	cfg.Plans = append(cfg.Plans, configs.Plan{
		ID: "gate-alarm", Name: "Gate alarm", Version: 1, TriggeredBy: []string{configs.RoleGuard, configs.RoleSupervisor},
		Broadcast: "GATE ALARM: north gate sensor tripped.", Target: configs.Duration(5 * time.Minute),
		Tasks: []configs.PlanTask{{Title: "Check the north gate alarm", Role: configs.RoleGuard, Policy: "standard"}},
	})
}
