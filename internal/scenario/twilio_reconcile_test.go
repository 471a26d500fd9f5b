package scenario_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
)

// later is the wall clock moved on by d: a process whose clock reads past
// another's lease, without the test waiting for it.
type later struct{ d time.Duration }

func (l later) Now() time.Time { return time.Now().Add(l.d) }
func (l later) After(d time.Duration) (<-chan time.Time, func()) {
	return clock.Real{}.After(d)
}

// twilioProcess is one muster process's outbox and Twilio client, on its
// own connection to the shared Redis namespace.
func twilioProcess(t *testing.T, cfg *configs.Config, ns, api, name string, clk clock.Clock, lease time.Duration) (*store.Store, *notify.Deliverer) {
	t.Helper()
	st := storetest.OpenNamespace(t, ns, nil)
	client, err := twilio.New(twilio.Options{AccountSID: scenario.TwilioAccountSID, AuthToken: scenario.TwilioAuthToken,
		From: cfg.Twilio.From, APIURL: api, PublicURL: "https://muster.example.com", People: cfg, Deliveries: st})
	if err != nil {
		t.Fatal(err)
	}
	return st, notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: client, Consumer: name, Clock: clk, Lease: lease})
}

// The drill: a process sends an SMS call-out; Twilio accepts it, and the
// process stops before it hears back. When the request times out (its
// outcome unknown) or the lease ends, another process takes the message
// over, finds it at Twilio, and does not send it again: the guard gets
// one SMS, and its status reports still find it.
func TestTakeoverAfterAcceptedSMSDoesNotSendTwice(t *testing.T) {
	if storetest.URL() == "" {
		t.Skip("set MUSTER_TEST_REDIS_URL: two processes share an outbox only on a real Redis")
	}
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	fake := faketwilio.New(scenario.TwilioAccountSID, scenario.TwilioAuthToken)
	api := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); api.Close() })
	ns := storetest.Namespace()
	const lease = 30 * time.Second
	st1, first := twilioProcess(t, cfg, ns, api.URL, "first", nil, lease)
	_, second := twilioProcess(t, cfg, ns, api.URL, "second", later{lease + time.Second}, lease)
	sent := make(chan notify.Delivered, 1)
	second.OnDeliver = func(d notify.Delivered) { sent <- d }

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Twilio takes the first process's request and keeps the answer.
	fake.Hold()
	if _, err := st1.Enqueue(ctx, store.OutMessage{Key: "T-9:0:sms", Channel: notify.SMS, To: "amara", Kind: "task",
		Ref: "T-9", Text: "T-9 Harbour: Report in. Reply ACK 9"}); err != nil {
		t.Fatal(err)
	}
	ctx1, stop1 := context.WithCancel(ctx)
	done1 := make(chan struct{})
	go func() { defer close(done1); _ = first.Run(ctx1) }()
	if err := fake.WaitFor(ctx, func() bool { return fake.Held() == 1 }); err != nil {
		t.Fatal(err)
	}
	// The first process stops taking work; its request hangs, as a dead
	// process's would.
	stop1()

	secondStarted := time.Now()
	ctx2, stop2 := context.WithCancel(ctx)
	done2 := make(chan struct{})
	go func() { defer close(done2); _ = second.Run(ctx2) }()
	var d notify.Delivered
	select {
	case d = <-sent:
	case <-ctx.Done():
		t.Fatalf("the second process did not deliver: %d messages at the fake, requests %+v", len(fake.Messages()), fake.Requests())
	}
	stop2()
	<-done2
	if d.Outcome != notify.OutcomeSent || d.Attempt != 2 {
		t.Fatalf("second process: %+v; want attempt 2 recorded sent", d)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].To != "+447700900101" {
		t.Fatalf("the fake holds %+v; want the one SMS to amara", msgs)
	}
	// One POST in all: the first process's. (The fake records a held
	// request once its client gives up on it, with the time it came in.)
	posts := 0
	for _, r := range fake.Requests() {
		if r.Method != http.MethodPost {
			continue
		}
		posts++
		if r.Received.After(secondStarted) {
			t.Fatalf("the second process sent %s %s at %v (it started at %v)", r.Method, r.Path, r.Received, secondStarted)
		}
	}
	if posts != 1 {
		t.Fatalf("%d POSTs reached Twilio, want the first process's one: %+v", posts, fake.Requests())
	}
	// Its status reports still find the task.
	del, res, err := st1.RecordDelivery(ctx, msgs[0].SID, "delivered", "", false)
	if err != nil || res != store.DeliveryRecorded || del.Key != "T-9:0:sms" {
		t.Fatalf("status report for %s: %+v %s %v", msgs[0].SID, del, res, err)
	}

	// The first process's request comes back at last: nothing more goes out.
	fake.Release()
	<-done1
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("the fake holds %d messages after the first process finished, want 1", n)
	}
	if n, err := st1.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (err %v)", n, err)
	}
}

// The normal case of a call-out looks nothing up: one POST per SMS, no
// GET (the 1,000-responder benchmark's path).
func TestCalloutSendsWithoutLookups(t *testing.T) {
	const n = 25
	c := scenario.NewCallout(t, scenario.CalloutConfig(t, n), 0, 0)
	c.Trigger()
	c.WaitMessages(n, 30*time.Second)
	c.Stop()
	posts := 0
	for _, r := range c.Fake.Requests() {
		if r.Method != http.MethodPost {
			t.Fatalf("a call-out sent %s %s", r.Method, r.Path)
		}
		posts++
	}
	if posts != n {
		t.Fatalf("%d POSTs for %d SMS", posts, n)
	}
}
