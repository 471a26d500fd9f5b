// Package scenario is muster's end-to-end test harness. A test reads like
// the drill it checks:
//
//	h := scenario.New(t)
//	h.As("jonah").Do("/plan trigger medical-emergency @harbour")
//	h.Advance(2 * time.Minute)
//	h.ExpectSent(notify.SMS, "ben", "T-3")
//	h.As("ben").Do("/ack")
//	h.Advance(10 * time.Minute)
//	h.ExpectNothingFor("T-3")
//
// It wires the real commands, engine, outbox and store (a real Redis when
// MUSTER_TEST_REDIS_URL is set) to a fake clock and a recording notifier.
// Time moves only when the test says so; Advance runs every deadline that
// falls due and delivers every message before it returns.
package scenario

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Harness is one muster "process" under test.
type Harness struct {
	T      testing.TB
	Config *configs.Config
	Store  *store.Store
	Clock  *clock.Fake
	Svc    *commands.Service
	Engine *notify.Engine
	Out    *Recorder
	del    *notify.Deliverer
	sealer *store.AuditSealer
	as     string
}

// Start is the instant scenarios begin at unless told otherwise: a
// Wednesday morning at 10:00 London time, mid-shift for every rotation.
var Start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// Options tune New.
type Options struct {
	Config *configs.Config // the embedded example when nil
	Start  time.Time       // scenario.Start when zero
	// Namespace joins an existing namespace (a second process).
	Namespace string
	// Clock shares a clock with another harness.
	Clock *clock.Fake
	// AuditKey signs the audit chain's heads when Settle seals them
	// (unsigned when nil); SealLog is where the heads are logged.
	AuditKey *store.AuditKey
	SealLog  string
}

// New builds a harness on the example config.
func New(t testing.TB) *Harness { return NewWith(t, Options{}) }

// NewWith builds a harness with options.
func NewWith(t testing.TB, o Options) *Harness {
	t.Helper()
	cfg := o.Config
	if cfg == nil {
		var err error
		if cfg, err = configs.Example(); err != nil {
			t.Fatal(err)
		}
	}
	if o.Start.IsZero() {
		o.Start = Start
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.NewFake(o.Start)
	}
	var st *store.Store
	if o.Namespace != "" {
		st = storetest.OpenNamespace(t, o.Namespace, clk.Now)
	} else {
		st = storetest.Open(t, clk.Now)
	}
	rec := &Recorder{}
	eng := notify.NewEngine(notify.EngineOptions{Config: cfg, Store: st, Clock: clk})
	svc := commands.New(commands.Options{Config: cfg, Store: st, Now: clk.Now, Engine: eng})
	h := &Harness{T: t, Config: cfg, Store: st, Clock: clk, Svc: svc, Engine: eng, Out: rec,
		del: notify.NewDeliverer(st, rec, nil, notify.NewToken(), cfg.Engine.Lease.D()), sealer: st.NewAuditSealer(o.AuditKey, o.SealLog)}
	if co := cfg.Coordinators(); len(co) > 0 {
		h.as = co[0].ID
	}
	return h
}

// As sets who types the next commands.
func (h *Harness) As(person string) *Harness {
	h.as = person
	return h
}

// Do runs one command and settles (delivers what it queued).
func (h *Harness) Do(line string) commands.Reply {
	h.T.Helper()
	r := h.Svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: h.as, Text: line})
	h.Settle()
	return r
}

// MustDo runs a command that must succeed.
func (h *Harness) MustDo(line string) commands.Reply {
	h.T.Helper()
	r := h.Do(line)
	if r.Error {
		h.T.Fatalf("%s (as %s) was refused: %s", line, h.as, r.Text)
	}
	return r
}

// SMSFrom runs an inbound SMS line from a phone number, then settles.
func (h *Harness) SMSFrom(phone, text string) commands.Reply {
	h.T.Helper()
	r := h.Svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformSMS, UserID: phone, Text: text})
	h.Settle()
	return r
}

// Settle runs every deadline due now and delivers the outbox, until
// nothing is left to do, then seals the audit chain (as a serve process
// does within a second).
func (h *Harness) Settle() {
	h.T.Helper()
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		wait, err := h.Engine.Tick(ctx)
		if err != nil {
			h.T.Fatalf("engine tick: %v", err)
		}
		n, err := h.drain(ctx)
		if err != nil {
			h.T.Fatalf("outbox drain: %v", err)
		}
		if wait > 0 && n == 0 {
			if _, err := h.sealer.Seal(ctx); err != nil {
				h.T.Fatalf("seal the audit chain: %v", err)
			}
			return
		}
	}
	h.T.Fatal("scenario did not settle after 1000 rounds")
}

// drain delivers the outbox. A chat adapter's Notify returns only once
// its post is made, and a Slack channel's queue waits its pacing (or a
// Retry-After) on the clock: while the drain waits on the clock, the
// clock moves a quarter second at a time.
func (h *Harness) drain(ctx context.Context) (int, error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := h.del.Drain(ctx)
		done <- result{n, err}
	}()
	for {
		changed := h.Clock.Changed()
		select {
		case r := <-done:
			return r.n, r.err
		default:
		}
		if h.Clock.Waiters() > 0 {
			h.Clock.Advance(250 * time.Millisecond)
			continue
		}
		select {
		case r := <-done:
			return r.n, r.err
		case <-changed:
		}
	}
}

// Advance moves the clock forward in one-second steps, settling after
// each, so every deadline fires at its own time and in order.
func (h *Harness) Advance(d time.Duration) {
	h.T.Helper()
	end := h.Clock.Now().Add(d)
	for h.Clock.Now().Before(end) {
		next, ok, err := h.Store.NextDue(context.Background())
		if err != nil {
			h.T.Fatal(err)
		}
		step := end
		if ok && next.After(h.Clock.Now()) && next.Before(end) {
			step = next
		}
		h.Clock.Set(step)
		h.Settle()
	}
}

// ExpectSent fails unless a message went out on channel to the person
// (or "#site") since the last Take, containing every fragment.
func (h *Harness) ExpectSent(channel, to string, fragments ...string) notify.Message {
	h.T.Helper()
	for _, m := range h.Out.Messages() {
		if m.Channel == channel && (m.To == to || "#"+m.Site == to) && containsAll(m.Text, fragments) {
			return m
		}
	}
	h.T.Fatalf("no %s to %s containing %q; sent:\n%s", channel, to, fragments, h.Out.Dump())
	return notify.Message{}
}

// ExpectNothingFor fails if any message about ref went out since the
// last Take.
func (h *Harness) ExpectNothingFor(ref string) {
	h.T.Helper()
	for _, m := range h.Out.Messages() {
		if m.Ref == ref {
			h.T.Fatalf("expected nothing for %s, but sent: %s %s/%s: %s", ref, m.Channel, m.To, m.Site, m.Text)
		}
	}
}

func containsAll(s string, fr []string) bool {
	for _, f := range fr {
		if !strings.Contains(s, f) {
			return false
		}
	}
	return true
}

// Recorder is a notifier that remembers every message.
type Recorder struct {
	// mu guards msgs.
	mu   sync.Mutex
	msgs []notify.Message
}

// Notify records m.
func (r *Recorder) Notify(_ context.Context, m notify.Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return false, nil
}

// Messages returns what was recorded since the last Take.
func (r *Recorder) Messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...)
}

// Take returns and forgets what was recorded.
func (r *Recorder) Take() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// Dump formats the recorded messages one a line.
func (r *Recorder) Dump() string {
	var b strings.Builder
	for _, m := range r.Messages() {
		b.WriteString("  " + m.Channel + " " + m.To + "#" + m.Site + " [" + m.Ref + "] " + m.Text + "\n")
	}
	return b.String()
}
