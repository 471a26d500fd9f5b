package store_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// AdvanceTask moves the timer only while the task is open and still
// waiting to run the step named.
func TestAdvanceTaskOnlyAtTheSameStep(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	st := storetest.Open(t, func() time.Time { return now })
	ctx := context.Background()
	_, tasks, err := st.TriggerPlan(ctx, store.NewActivation{Plan: "p", PlanName: "P", Site: "harbour", By: "jonah",
		Tasks: []store.NewTask{{Title: "Sweep", Role: "guard", Policy: "standard", Assignee: "amara"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := tasks[0].Num
	check := func(step int, want string) {
		t.Helper()
		got, err := st.AdvanceTask(ctx, n, step, "sms failed")
		if err != nil || got != want {
			t.Fatalf("AdvanceTask(step %d) = %q, %v; want %q", step, got, err, want)
		}
	}
	check(1, store.AdvanceMoved) // step 0 has not run
	check(0, store.AdvanceDue)   // and is due already
	claims, err := st.ClaimDue(ctx, now, time.Minute, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v %v", claims, err)
	}
	check(0, store.AdvanceRunning) // an engine holds it
	if res, err := st.RunStep(ctx, store.StepRun{Task: n, Until: claims[0].Until, Step: 0, Wait: 2 * time.Minute, Note: "step 1"}); err != nil || res != store.StepOK {
		t.Fatalf("run step: %v %v", res, err)
	}
	check(2, store.AdvanceMoved)
	check(1, store.AdvanceOK)
	if next, ok, err := st.NextDue(ctx); err != nil || !ok || !next.Equal(now) {
		t.Fatalf("next due %v %v %v, want now", next, ok, err)
	}
	check(1, store.AdvanceDue)
	if _, err := st.AckTask(ctx, n, "amara", store.TaskActionAck, ""); err != nil {
		t.Fatal(err)
	}
	check(1, store.AdvanceClosed)
	check(1, store.AdvanceClosed)
	if got, _ := st.AdvanceAfter(ctx, "A-1:broadcast", "x"); got != store.AdvanceGone {
		t.Fatalf("AdvanceAfter on a non-task key = %q", got)
	}
}

func TestStepKey(t *testing.T) {
	for key, want := range map[string]store.StepKey{"T-3:1:sms": {3, 1, "sms"}, "T-17:0:voice": {17, 0, "voice"}} {
		k, ok := store.ParseStepKey(key)
		if !ok || k != want {
			t.Errorf("%s: %+v %v", key, k, ok)
		}
		if k.String() != key {
			t.Errorf("%+v.String() = %q, want %q", k, k.String(), key)
		}
	}
	for _, key := range []string{"", "T-3:unanswered:site", "A-1:0:chat", "T-3:1", "3:1:sms", "T-3:-1:sms", "T-3:1:"} {
		if _, ok := store.ParseStepKey(key); ok {
			t.Errorf("%q parsed", key)
		}
	}
}

// Provider ids remembered at once are written together (one transaction
// for many) into their day's hash, which expires DeliveryTTL after the
// day ends, and each is found again by DeliveryKeys.
func TestConcurrentDeliveriesAreAllRemembered(t *testing.T) {
	sent := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st := storetest.Open(t, func() time.Time { return sent })
	ctx := context.Background()
	const n = 200
	ids := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		ids[i] = fmt.Sprintf("SM%032d", i)
		go func() {
			errs <- st.MapDelivery(ctx, ids[i], store.Delivery{Task: int64(i + 1), Key: fmt.Sprintf("T-%d:0:sms", i+1), Channel: "sms", To: "amara"})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	keys, err := st.DeliveryKeys(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("T-%d:0:sms", i+1); k != want {
			t.Fatalf("%s maps to %q, want %q", ids[i], k, want)
		}
		if ttl := st.Client().PTTL(ctx, st.Key("twilio", "sids", strconv.FormatInt(sent.UnixMilli()/86_400_000, 10))).Val(); ttl <= store.DeliveryTTL || ttl > store.DeliveryTTL+24*time.Hour {
			t.Fatalf("%s expires in %s, want within %s", ids[i], ttl, store.DeliveryTTL)
		}
	}
}

// A status callback finds its message in the hash of the day it was sent
// while DeliveryTTL lasts (days later, across midnight), records each
// status once, and knows nothing of an id past DeliveryTTL or never
// mapped. An id mapped the way muster kept ids before (a key of its own)
// is still found.
func TestDeliveryStatusFindsTheDayItWasSent(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 2, 23, 59, 0, 0, time.UTC))
	st := storetest.Open(t, clk.Now)
	ctx := context.Background()
	if err := st.MapDelivery(ctx, "SMlate", store.Delivery{Task: 7, Key: "T-7:1:sms", Channel: "sms", To: "amara"}); err != nil {
		t.Fatal(err)
	}
	record := func(sid, status string) (store.Delivery, string) {
		t.Helper()
		d, res, err := st.RecordDelivery(ctx, sid, status, "", false)
		if err != nil {
			t.Fatal(err)
		}
		return d, res
	}
	clk.Advance(2 * time.Minute) // past midnight: the next day
	if d, res := record("SMlate", "sent"); res != store.DeliveryRecorded || d != (store.Delivery{Task: 7, Key: "T-7:1:sms", Channel: "sms", To: "amara"}) {
		t.Fatalf("sent after midnight: %q %+v", res, d)
	}
	if _, res := record("SMlate", "sent"); res != store.DeliveryDup {
		t.Fatalf("the same status again: %q, want dup", res)
	}
	clk.Advance(6 * 24 * time.Hour)
	if _, res := record("SMlate", "delivered"); res != store.DeliveryRecorded {
		t.Fatalf("delivered six days later: %q", res)
	}
	if keys, err := st.DeliveryKeys(ctx, []string{"SMnever", "SMlate"}); err != nil || keys[0] != "" || keys[1] != "T-7:1:sms" {
		t.Fatalf("DeliveryKeys = %q, %v", keys, err)
	}
	clk.Advance(2 * 24 * time.Hour)
	if _, res := record("SMlate", "read"); res != store.DeliveryUnknown {
		t.Fatalf("past DeliveryTTL: %q, want unknown", res)
	}
	if _, res := record("SMnever", "sent"); res != store.DeliveryUnknown {
		t.Fatalf("an id never mapped: %q, want unknown", res)
	}

	old := st.Key("twilio", "sid", "SMold")
	if err := st.Client().HSet(ctx, old, "task", "9", "key", "T-9:0:sms", "channel", "sms", "to", "jonah", "ref", "T-9").Err(); err != nil {
		t.Fatal(err)
	}
	if d, res := record("SMold", "delivered"); res != store.DeliveryRecorded || d.Task != 9 || d.Key != "T-9:0:sms" {
		t.Fatalf("an id with a key of its own: %q %+v", res, d)
	}
	if _, res := record("SMold", "delivered"); res != store.DeliveryDup {
		t.Fatalf("its status again: %q, want dup", res)
	}
}
