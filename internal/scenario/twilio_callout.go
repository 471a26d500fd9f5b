package scenario

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
)

// Callout is a running muster process (engine, outbox, Twilio client) on
// the wall clock, set up for a call-out to many responders against a fake
// Twilio: the plan "callout" has one task per responder, each escalating
// at once to its own person by SMS.
type Callout struct {
	T      testing.TB
	Config *configs.Config
	Store  *store.Store
	Svc    *commands.Service
	Fake   *faketwilio.Server
	Del    *notify.Deliverer
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields that follow.
	mu      sync.Mutex
	sent    int
	sentAt  []time.Time
	waiters map[int]chan struct{}
	steps   int
	queued  chan struct{} // closed when every task's first step ran
	tasks   int
}

// CalloutConfig is the example config plus n responders r0001... with
// their own phones, one policy each (escalate to the responder, SMS, wait
// 30m) and the plan "callout" with one task per responder.
func CalloutConfig(t testing.TB, n int) *configs.Config {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	plan := configs.Plan{ID: "callout", Name: "Call-out", Version: 1, TriggeredBy: []string{configs.RoleSupervisor},
		Broadcast: "CALL-OUT: all responders report in.", Target: configs.Duration(15 * time.Minute)}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("r%04d", i)
		cfg.People = append(cfg.People, configs.Person{ID: id, Name: "Responder " + id, Phone: fmt.Sprintf("+447701%06d", i), Roles: []string{configs.RoleGuard}})
		cfg.Policies = append(cfg.Policies, configs.Policy{ID: "to-" + id, Steps: []configs.Step{{
			EscalateTo: &configs.Target{Person: id}, Notify: []string{configs.ChannelSMS}, Wait: configs.Duration(30 * time.Minute)}}})
		plan.Tasks = append(plan.Tasks, configs.PlanTask{Title: "Report in to the control room", Role: configs.RoleGuard, Policy: "to-" + id})
	}
	cfg.Plans = append(cfg.Plans, plan)
	return cfg
}

// NewCallout starts a process for cfg against a fake Twilio that answers
// every request after latency, pacing SMS at rate per second (0: off).
func NewCallout(t testing.TB, cfg *configs.Config, latency time.Duration, rate float64) *Callout {
	t.Helper()
	fake := faketwilio.New(TwilioAccountSID, TwilioAuthToken)
	fake.SetLatency(latency)
	api := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); api.Close() })
	st := storetest.Open(t, nil)
	cfg.Server.PublicURL = "https://muster.example.com"
	client, err := twilio.New(twilio.Options{AccountSID: TwilioAccountSID, AuthToken: TwilioAuthToken, From: cfg.Twilio.From,
		APIURL: api.URL, PublicURL: cfg.Server.PublicURL, People: cfg, Deliveries: st})
	if err != nil {
		t.Fatal(err)
	}
	disp := notify.NewDispatcher(nil)
	disp.AddChat(notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil }))
	disp.SetSMS(client)
	disp.SetVoice(client)
	var pacing map[string]notify.Pacing
	if rate > 0 {
		pacing = map[string]notify.Pacing{notify.SMS: {Sender: cfg.Twilio.From, Rate: rate}}
	}
	del := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: disp, Pacing: pacing})
	eng := notify.NewEngine(notify.EngineOptions{Config: cfg, Store: st})
	svc := commands.New(commands.Options{Config: cfg, Store: st, Engine: eng})
	ctx, cancel := context.WithCancel(context.Background())
	c := &Callout{T: t, Config: cfg, Store: st, Svc: svc, Fake: fake, Del: del, cancel: cancel, waiters: map[int]chan struct{}{},
		queued: make(chan struct{})}
	if p, ok := cfg.Plan("callout"); ok {
		c.tasks = len(p.Tasks)
	}
	eng.OnStep = func(_ int64, step int, result string, _, _ time.Time) {
		if step != 0 || result != store.StepOK {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.steps++
		if c.steps == c.tasks {
			close(c.queued)
		}
	}
	// Counting sends here rather than waiting on the fake's records keeps
	// the measurement from paying for copies of those records.
	del.OnDeliver = func(d notify.Delivered) {
		if d.Outcome != notify.OutcomeSent || d.Msg.Channel != notify.SMS {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sent++
		c.sentAt = append(c.sentAt, time.Now())
		if ch, ok := c.waiters[c.sent]; ok {
			close(ch)
			delete(c.waiters, c.sent)
		}
	}
	for _, run := range []func(context.Context) error{eng.Run, del.Run} {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_ = run(ctx)
		}()
	}
	t.Cleanup(c.Stop)
	return c
}

// Trigger runs /plan trigger callout as the coordinator and returns when
// the reply was written.
func (c *Callout) Trigger() time.Time {
	c.T.Helper()
	r := c.Svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: "jonah", Text: "/plan trigger callout @harbour"})
	if r.Error {
		c.T.Fatalf("trigger: %s", r.Text)
	}
	return time.Now()
}

// WaitMessages waits until n SMS were sent, or timeout, and returns what
// the fake accepted.
func (c *Callout) WaitMessages(n int, timeout time.Duration) []faketwilio.Message {
	c.T.Helper()
	c.mu.Lock()
	done := c.sent >= n
	ch, ok := c.waiters[n]
	if !ok {
		ch = make(chan struct{})
		c.waiters[n] = ch
	}
	c.mu.Unlock()
	if !done {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-ch:
		case <-t.C:
			c.T.Fatalf("%d of %d SMS sent after %s", len(c.Fake.Messages()), n, timeout)
		}
	}
	return c.Fake.Messages()
}

// RateOnceQueued waits until the whole call-out is queued (every task's
// first step ran), then until sample more SMS were sent, and returns the
// rate of those sends: the outbox's pace, whatever the engine's.
func (c *Callout) RateOnceQueued(sample int, timeout time.Duration) float64 {
	c.T.Helper()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.queued:
	case <-t.C:
		c.T.Fatalf("the call-out was not queued after %s", timeout)
	}
	c.mu.Lock()
	from := c.sent
	c.mu.Unlock()
	c.WaitMessages(from+sample, timeout)
	// The requests' arrival at Twilio, in order: the send decisions,
	// without the jitter of recording each outcome.
	var at []time.Time
	for _, r := range c.Fake.Requests() {
		if r.Status == http.StatusCreated && strings.HasSuffix(r.Path, "/Messages.json") {
			at = append(at, r.Received)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	first, last := at[from], at[from+sample-1]
	return float64(sample-1) / last.Sub(first).Seconds()
}

// FirstRequest is when the fake received its first request.
func (c *Callout) FirstRequest() time.Time {
	reqs := c.Fake.Requests()
	if len(reqs) == 0 {
		return time.Time{}
	}
	first := reqs[0].Received
	for _, r := range reqs {
		if r.Received.Before(first) {
			first = r.Received
		}
	}
	return first
}

// Stop stops the process and waits for it.
func (c *Callout) Stop() {
	c.cancel()
	c.wg.Wait()
}
