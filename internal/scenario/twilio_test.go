package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
)

func gateAlarmHarness(t *testing.T, o scenario.TwilioOptions) *scenario.TwilioHarness {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	scenario.GateAlarm(cfg)
	o.Config = cfg
	return scenario.NewTwilio(t, o)
}

func hasLine(lines []string, prefix string, fragments ...string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		if !strings.HasPrefix(l, prefix) {
			return false
		}
		for _, f := range fragments {
			if !strings.Contains(l, f) {
				return false
			}
		}
		return true
	})
}

// The drill of issue 4: a silent guard gets exactly one SMS after the
// first wait; a signed "ACK 1" from another person's phone acknowledges
// nothing; the same reply from the guard's phone acknowledges, and no
// further SMS or call for the task reaches Twilio.
func TestTwilioSilentGuardTextedThenAcksBySMS(t *testing.T) {
	h := gateAlarmHarness(t, scenario.TwilioOptions{})
	amara, ben, jonah := h.Phone("amara"), h.Phone("ben"), h.Phone("jonah")

	r := h.As("jonah").MustDo("/plan trigger gate-alarm @harbour Sensor 4")
	if !strings.Contains(r.Text, "A-1 triggered") {
		t.Fatalf("trigger reply: %s", r.Text)
	}
	h.ExpectSent("chat", "amara", "T-1")
	if n := len(h.Fake.Messages()); n != 0 {
		t.Fatalf("%d SMS before the first wait ran out", n)
	}
	h.Advance(2*time.Minute - time.Second)
	if n := len(h.Fake.Messages()); n != 0 {
		t.Fatalf("%d SMS before the first wait ran out", n)
	}
	h.Advance(time.Second)
	msgs := h.Fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("after the first wait the fake has %d SMS, want exactly 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.To != amara || m.From != h.Config.Twilio.From || m.Body != "T-1 Harbour Point HQ: Check the north gate alarm Reply ACK 1" ||
		m.StatusCallback != h.App.URL+"/twilio/status" || m.NumSegments != 1 {
		t.Fatalf("SMS = %+v", m)
	}
	// Twilio reports the delivery; it lands in the task's timeline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Fake.SendStatus(ctx, m.SID, "delivered", 0); err != nil {
		t.Fatal(err)
	}
	if tl := h.Timeline(1); !hasLine(tl, "delivery: ", "sms to amara: delivered") || !hasLine(tl, "sent: ", "sms to amara") {
		t.Fatalf("timeline:\n%s", strings.Join(tl, "\n"))
	}

	// The same reply from someone else's phone acknowledges nothing, a
	// supervisor's included: by SMS only one's own tasks.
	for _, from := range []string{ben, jonah} {
		twiml, status := h.Text(from, "ACK 1")
		if status != http.StatusOK || !strings.Contains(twiml, "not assigned to you") {
			t.Fatalf("ACK 1 from %s: %d %s", from, status, twiml)
		}
	}
	twiml, _ := h.Text(jonah, "ack 1 covering for amara")
	if !strings.Contains(twiml, "not assigned to you") {
		t.Fatalf("supervisor's ACK with a reason by SMS: %s", twiml)
	}
	if st := h.TaskStatus(1); st != store.TaskOpen {
		t.Fatalf("T-1 is %s after others' replies", st)
	}

	twiml, status := h.Text(amara, "ACK 1")
	if status != http.StatusOK || !strings.Contains(twiml, "<Response><Message>T-1 acknowledged by Amara Okafor") {
		t.Fatalf("ACK 1 from amara: %d %s", status, twiml)
	}
	if st := h.TaskStatus(1); st != store.TaskAcknowledged {
		t.Fatalf("T-1 is %s, want acknowledged", st)
	}
	h.Advance(30 * time.Minute) // past every remaining step of the policy
	if sms, calls := h.Fake.CountTo(amara); sms != 1 || calls != 0 {
		t.Fatalf("after the ack amara got %d SMS and %d calls in all, want 1 and 0", sms, calls)
	}
	if n, c := len(h.Fake.Messages()), len(h.Fake.Calls()); n != 1 || c != 0 {
		t.Fatalf("the fake got %d SMS and %d calls, want 1 and 0", n, c)
	}
}

// An unknown number is refused politely; a forged request is refused
// with 403 and changes nothing.
func TestTwilioInboundRefusals(t *testing.T) {
	h := gateAlarmHarness(t, scenario.TwilioOptions{})
	h.As("jonah").MustDo("/plan trigger gate-alarm @harbour")
	twiml, status := h.Text("+15550001111", "ACK 1")
	if status != http.StatusOK || !strings.Contains(twiml, "not on the muster roster") {
		t.Fatalf("unknown number: %d %s", status, twiml)
	}
	// A request signed with the wrong token.
	forged := faketwilio.New(scenario.TwilioAccountSID, "not-the-token")
	defer forged.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, status, err := forged.SendSMS(ctx, h.App.URL+"/twilio/sms", h.Phone("amara"), h.Config.Twilio.From, "ACK 1")
	if err != nil || status != http.StatusForbidden {
		t.Fatalf("forged sms: status %d, err %v", status, err)
	}
	if st := h.TaskStatus(1); st != store.TaskOpen {
		t.Fatalf("T-1 is %s after a forged ACK", st)
	}
}

// A scripted 21211 (invalid number) for the guard's SMS moves the task to
// its next step, the call, at once instead of 3 minutes later; the
// failure is in the timeline. The call's TwiML offers "press 1", and 1
// acknowledges.
func TestTwilioInvalidNumberEscalatesAtOnce(t *testing.T) {
	h := gateAlarmHarness(t, scenario.TwilioOptions{})
	amara := h.Phone("amara")
	h.Fake.Fail(faketwilio.Failure{Resource: faketwilio.ResourceMessages, To: amara, Status: http.StatusBadRequest, Code: faketwilio.CodeInvalidTo})

	h.As("jonah").MustDo("/plan trigger gate-alarm @harbour")
	start := h.Clock.Now()
	h.Advance(2 * time.Minute)
	calls := h.Fake.Calls()
	if len(calls) != 1 || calls[0].To != amara {
		t.Fatalf("calls after the failed SMS: %+v", calls)
	}
	if got := calls[0].Received.Sub(start); got != 2*time.Minute {
		t.Fatalf("the call went out %s after the trigger, want 2m (at once after the SMS failed)", got)
	}
	if n := len(h.Fake.Messages()); n != 0 {
		t.Fatalf("%d SMS accepted despite the 21211", n)
	}
	tl := h.Timeline(1)
	if !hasLine(tl, "failed: ", "sms to amara failed", "21211") || !hasLine(tl, "advanced: ") {
		t.Fatalf("timeline:\n%s", strings.Join(tl, "\n"))
	}
	c := calls[0]
	if c.URL != h.App.URL+"/twilio/voice?task=T-1" || c.StatusCallback != h.App.URL+"/twilio/status" {
		t.Fatalf("call = %+v", c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	twiml, status, err := h.Fake.AnswerCall(ctx, c.SID)
	if err != nil || status != http.StatusOK || !strings.Contains(twiml, "Check the north gate alarm") || !strings.Contains(twiml, "Press 1 to acknowledge") ||
		!strings.Contains(twiml, `action="`+h.App.URL+`/twilio/voice/gather?task=T-1"`) {
		t.Fatalf("voice TwiML: %d %v %s", status, err, twiml)
	}
	twiml, status, err = h.Fake.SendVoiceGather(ctx, h.App.URL+"/twilio/voice/gather?task=T-1", c.SID, "1", c.From, c.To)
	if err != nil || status != http.StatusOK || !strings.Contains(twiml, "T-1 acknowledged by Amara Okafor") {
		t.Fatalf("gather: %d %v %s", status, err, twiml)
	}
	if st := h.TaskStatus(1); st != store.TaskAcknowledged {
		t.Fatalf("T-1 is %s after pressing 1", st)
	}
}

// An SMS Twilio reports undelivered moves the task on at once too.
func TestTwilioUndeliveredEscalatesAtOnce(t *testing.T) {
	h := gateAlarmHarness(t, scenario.TwilioOptions{})
	h.As("jonah").MustDo("/plan trigger gate-alarm @harbour")
	h.Advance(2 * time.Minute)
	msgs := h.Fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("SMS: %+v", msgs)
	}
	h.Advance(30 * time.Second)
	if n := len(h.Fake.Calls()); n != 0 {
		t.Fatalf("%d calls before the SMS failed", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Fake.SendStatus(ctx, msgs[0].SID, "undelivered", faketwilio.CodeUnreachable); err != nil {
		t.Fatal(err)
	}
	// Twilio may repeat a callback: the second changes nothing.
	if err := h.Fake.SendStatus(ctx, msgs[0].SID, "undelivered", faketwilio.CodeUnreachable); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if n := len(h.Fake.Calls()); n != 1 {
		t.Fatalf("%d calls right after the SMS was undelivered, want 1", n)
	}
	if tl := h.Timeline(1); !hasLine(tl, "delivery: ", "undelivered (error 30003)") {
		t.Fatalf("timeline:\n%s", strings.Join(tl, "\n"))
	}
}

// A run of 429s is retried with backoff, and each message is delivered
// exactly once.
func TestTwilio429sRetriedEachDeliveredOnce(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	// Three tasks for the harbour guard, SMS at once.
	cfg.Plans = append(cfg.Plans, configs.Plan{ID: "three", Name: "Three", Version: 1, Broadcast: "THREE",
		TriggeredBy: []string{configs.RoleSupervisor}, Target: configs.Duration(5 * time.Minute),
		Tasks: []configs.PlanTask{{Title: "One", Role: "guard", Policy: "critical"}, {Title: "Two", Role: "guard", Policy: "critical"},
			{Title: "Three", Role: "guard", Policy: "critical"}}})
	h := scenario.NewTwilio(t, scenario.TwilioOptions{Options: scenario.Options{Config: cfg}})
	h.Fake.Fail(faketwilio.Failure{Resource: faketwilio.ResourceMessages, Status: http.StatusTooManyRequests, Times: 7})

	h.As("jonah").MustDo("/plan trigger three @harbour")
	for i := 0; i < 20 && len(h.Fake.Messages()) < 3; i++ {
		h.Advance(time.Second)
	}
	msgs := h.Fake.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d SMS delivered, want 3", len(msgs))
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Body[:3]]++
	}
	for _, id := range []string{"T-1", "T-2", "T-3"} {
		if seen[id] != 1 {
			t.Errorf("%s delivered %d times", id, seen[id])
		}
	}
	n429 := 0
	for _, r := range h.Fake.Requests() {
		if r.Status == http.StatusTooManyRequests {
			n429++
		}
	}
	if n429 != 7 || h.Fake.PendingFailures() != 0 {
		t.Fatalf("%d requests answered 429, %d scripted left; want 7 and 0", n429, h.Fake.PendingFailures())
	}
	h.Advance(30 * time.Second) // nothing more for the first step
	if n := len(h.Fake.Messages()); n != 3 {
		t.Fatalf("%d SMS after settling, want 3", n)
	}
}

// secondConnection opens another client onto st's Redis and namespace:
// another process.
func secondConnection(t *testing.T, st *store.Store) *store.Store {
	t.Helper()
	url := storetest.URL()
	if st.Embedded() {
		url = "redis://" + st.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The first connection cleans the namespace up; this one only closes.
	s, err := store.Open(ctx, store.Options{URL: url, Namespace: st.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// A process killed with messages still queued loses none: process A sends
// ten of forty SMS and dies while taking the eleventh (its connection to
// Redis gone, nothing recorded); process B takes the eleventh over when
// A's lease ends and sends the rest. Twilio gets each exactly once.
func TestTwilioKilledProcessLosesNoMessage(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	fake := faketwilio.New(scenario.TwilioAccountSID, scenario.TwilioAuthToken)
	api := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); api.Close() })
	base := storetest.Open(t, nil)
	procA := secondConnection(t, base)
	client, err := twilio.New(twilio.Options{AccountSID: scenario.TwilioAccountSID, AuthToken: scenario.TwilioAuthToken,
		From: cfg.Twilio.From, APIURL: api.URL, PublicURL: "https://muster.example.com", People: cfg, Deliveries: base})
	if err != nil {
		t.Fatal(err)
	}
	const total = 40
	var msgs []store.OutMessage
	for i := range total {
		msgs = append(msgs, store.OutMessage{Key: fmt.Sprintf("callout:%d", i), Channel: "sms", To: cfg.People[i%len(cfg.People)].ID,
			Kind: "callout", Text: fmt.Sprintf("Call-out %d: report in", i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := base.Enqueue(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	pacing := map[string]notify.Pacing{notify.SMS: {Sender: cfg.Twilio.From, Rate: 50}}
	const lease = 500 * time.Millisecond

	ctxA, kill := context.WithCancel(ctx)
	var calls atomic.Int32
	dying := notify.NotifierFunc(func(ctx context.Context, m notify.Message) (bool, error) {
		if calls.Add(1) == 11 {
			kill()
			_ = procA.Close() // the process is gone: nothing more reaches Redis
			return true, errors.New("killed")
		}
		return client.Notify(ctx, m)
	})
	delA := notify.NewDelivererWith(notify.DelivererOptions{Store: procA, Out: dying, Consumer: "A", Lease: lease, Workers: 1, Pacing: pacing})
	doneA := make(chan struct{})
	go func() { defer close(doneA); _ = delA.Run(ctxA) }()
	select {
	case <-doneA:
	case <-ctx.Done():
		t.Fatal("process A did not die")
	}
	if n := len(fake.Messages()); n != 10 {
		t.Fatalf("process A sent %d before dying, want 10", n)
	}

	delB := notify.NewDelivererWith(notify.DelivererOptions{Store: base, Out: client, Consumer: "B", Lease: lease, Pacing: pacing})
	ctxB, stopB := context.WithCancel(ctx)
	doneB := make(chan struct{})
	go func() { defer close(doneB); _ = delB.Run(ctxB) }()
	if _, err := fake.WaitForMessages(ctx, total); err != nil {
		t.Fatalf("process B: %v (%d sent)", err, len(fake.Messages()))
	}
	stopB()
	<-doneB
	got := map[string]int{}
	for _, m := range fake.Messages() {
		got[m.Body]++
	}
	for _, m := range msgs {
		if got[m.Text] != 1 {
			t.Errorf("%q sent %d times", m.Text, got[m.Text])
		}
	}
	if n, err := base.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("%d messages left in the outbox (err %v)", n, err)
	}
}
