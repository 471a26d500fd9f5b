package notify_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// attemptLog answers each attempt with the next of its answers (then
// success) and records the MaybeSent each one saw.
type attemptLog struct {
	mu      sync.Mutex
	answers []error
	seen    []time.Time
}

func (a *attemptLog) Notify(_ context.Context, m notify.Message) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, m.MaybeSent)
	if len(a.answers) == 0 {
		return false, nil
	}
	err := a.answers[0]
	a.answers = a.answers[1:]
	return true, err
}

func (a *attemptLog) maybeSent() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.seen...)
}

func drainAll(t *testing.T, d *notify.Deliverer) {
	t.Helper()
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A message whose taker died mid-send (its claim still set when the lease
// ran out) is taken over marked unsure, with the time of its first take;
// messages whose every outcome was recorded are not.
func TestTakeOverAfterUnrecordedSendIsUnsure(t *testing.T) {
	t0 := time.UnixMilli(time.Now().UnixMilli())
	clk := clock.NewFake(t0)
	st := storetest.Open(t, clk.Now)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, smsBatch(1, "u")...); err != nil {
		t.Fatal(err)
	}
	out := &attemptLog{answers: []error{errors.New("twilio sms: 429 20429: Too Many Requests")}}
	const lease = 30 * time.Second
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out, Clock: clk, Lease: lease,
		Backoff: func(int) time.Duration { return time.Second }})

	drainAll(t, d) // attempt 1: a 429, recorded
	clk.Advance(time.Second)
	// Attempt 2 by a process that dies before it records anything.
	tk, err := st.TakeOutbox(ctx, store.Take{Lane: notify.SMS, Limit: 1, Now: clk.Now(), Lease: lease, Token: "dead"})
	if err != nil || len(tk.Entries) != 1 {
		t.Fatalf("take: %+v, %v", tk, err)
	}
	if e := tk.Entries[0]; e.Unsure || !e.MaybeSent().IsZero() || !e.First.Equal(t0) || e.Attempts != 2 {
		t.Fatalf("after a recorded 429 the entry is %+v; want sure, first taken at %v", e, t0)
	}
	drainAll(t, d) // still under the dead taker's lease: nothing to take
	clk.Advance(lease)
	drainAll(t, d) // attempt 3 takes it over
	got := out.maybeSent()
	if len(got) != 2 || !got[0].IsZero() || !got[1].Equal(t0) {
		t.Fatalf("the notifier saw MaybeSent %v; want zero, then the first take %v", got, t0)
	}
	if n, err := st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (err %v)", n, err)
	}
}

// A retry whose error says the outcome is unknown makes the next attempt
// unsure, and every one after it, whatever their errors; another error
// does not.
func TestOutcomeUnknownErrorMakesRetriesUnsure(t *testing.T) {
	t0 := time.UnixMilli(time.Now().UnixMilli())
	clk := clock.NewFake(t0)
	st := storetest.Open(t, clk.Now)
	ctx := context.Background()
	if _, err := st.Enqueue(ctx, smsBatch(1, "a")...); err != nil {
		t.Fatal(err)
	}
	out := &attemptLog{answers: []error{
		errors.New("twilio sms: 503 20503: Service Unavailable"),
		fmt.Errorf("twilio sms: %s: Post \"https://api.twilio.com/...\": context deadline exceeded", store.OutcomeUnknown),
		errors.New("twilio sms: 429 20429: Too Many Requests"),
	}}
	d := notify.NewDelivererWith(notify.DelivererOptions{Store: st, Out: out, Clock: clk,
		Backoff: func(int) time.Duration { return time.Second }})
	for range 4 {
		drainAll(t, d)
		clk.Advance(time.Second)
	}
	got := out.maybeSent()
	want := []time.Time{{}, {}, t0, t0}
	if len(got) != len(want) {
		t.Fatalf("%d attempts, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("attempt %d saw MaybeSent %v, want %v (all: %v)", i+1, got[i], want[i], got)
		}
	}
}
