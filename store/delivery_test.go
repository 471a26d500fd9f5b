package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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
// for many) and each is found again, with its expiry, by its status
// callback's lookup and by DeliveryKeys.
func TestConcurrentDeliveriesAreAllRemembered(t *testing.T) {
	st := storetest.Open(t, time.Now)
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
		if ttl := st.Client().PTTL(ctx, st.Key("twilio", "sid", ids[i])).Val(); ttl <= 0 || ttl > store.DeliveryTTL {
			t.Fatalf("%s expires in %s, want within %s", ids[i], ttl, store.DeliveryTTL)
		}
	}
}
