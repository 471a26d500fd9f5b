package scenario_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// The representative suite run on a Redis Cluster and on Sentinel
// (cluster_test.go, sentinel_test.go): every kind of transition script,
// the outbox consumer group, the change feed's consumer groups, pub/sub
// wake-ups between processes, and DeleteAll at cleanup. Each scenario
// gets a namespace from ns (on the Cluster: one on a chosen master) and,
// after it and before its cleanup, check(t, ns) may inspect where its
// keys landed.
type suiteTarget struct {
	ns    func(t *testing.T) string
	check func(t *testing.T, ns string)
}

// suiteScenarios are the scenarios of the suite, by name.
var suiteScenarios = []struct {
	name string
	run  func(t *testing.T, ns string)
}{
	{"incident lifecycle and change feed", suiteIncidentLifecycle},
	{"plan trigger, escalation and ack", suitePlanEscalation},
	{"wake-up across processes", suiteWakeAcrossProcesses},
	{"connection lease", suiteLease},
}

// runSuite runs every scenario against the Redis the test store points
// at (storetest.WithURL).
func runSuite(t *testing.T, tg suiteTarget) {
	for _, sc := range suiteScenarios {
		t.Run(sc.name, func(t *testing.T) {
			ns := tg.ns(t)
			sc.run(t, ns)
			// Before the cleanup deletes the namespace.
			if tg.check != nil {
				tg.check(t, ns)
			}
		})
	}
}

// An incident is raised, updated and resolved: each step is recorded,
// fanned out through the outbox, lands in the change feed (read by a
// consumer group, as the chat adapters do), and in the audit chain.
func suiteIncidentLifecycle(t *testing.T, ns string) {
	h := scenario.NewWith(t, scenario.Options{Namespace: ns})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The first read creates the group at the end of the feed.
	if _, err := h.Store.ReadChanges(ctx, "cards-suite", "p1", 100, -1); err != nil {
		t.Fatalf("read changes: %v", err)
	}

	r := h.As("amara").MustDo("/incident raise intrusion sev2 @harbour Fence cut near gate B")
	if r.Ref != "INC-1" || !strings.Contains(r.Text, "INC-1 raised") {
		t.Fatalf("raise reply: %+v", r)
	}
	h.ExpectSent(notify.Chat, "#harbour", "INC-1", "Fence cut near gate B")
	if err := h.Store.AddCard(ctx, "slack", "INC-1", "C0HARBOUR/1.0001"); err != nil {
		t.Fatalf("add card: %v", err)
	}
	h.As("amara").MustDo("/incident update INC-1 Intruder seen near the warehouse")
	h.As("farid").MustDo("/incident resolve INC-1 Police detained one person")

	inc, err := h.Store.Incident(ctx, 1)
	if err != nil || inc.Status != store.StatusResolved {
		t.Fatalf("INC-1 after resolve: %+v, %v", inc, err)
	}
	tl, err := h.Store.IncidentTimeline(ctx, 1)
	if err != nil || len(tl) < 3 {
		t.Fatalf("INC-1 timeline: %d entries, %v; want raise, update, resolve", len(tl), err)
	}
	cards, err := h.Store.Cards(ctx, "slack", "INC-1")
	if err != nil || !slices.Equal(cards, []string{"C0HARBOUR/1.0001"}) {
		t.Fatalf("cards of INC-1: %v, %v", cards, err)
	}

	ch, err := h.Store.ReadChanges(ctx, "cards-suite", "p1", 100, -1)
	if err != nil {
		t.Fatalf("read changes: %v", err)
	}
	var ids []string
	n := 0
	for _, c := range ch {
		ids = append(ids, c.ID)
		if c.Ref == "INC-1" {
			n++
		}
	}
	if n < 3 {
		t.Fatalf("change feed has INC-1 %d times, want raise, update and resolve: %+v", n, ch)
	}
	if err := h.Store.AckChange(ctx, "cards-suite", ids...); err != nil {
		t.Fatalf("ack changes: %v", err)
	}
	// Another consumer of the same group gets nothing: each change is
	// handled once per platform.
	if again, err := h.Store.ReadChanges(ctx, "cards-suite", "p2", 100, -1); err != nil || len(again) != 0 {
		t.Fatalf("second consumer read %v, %v; want nothing", again, err)
	}

	if v := storetest.SealAndVerify(t, h.Store); !v.OK() {
		t.Fatalf("audit chain: %v", v.Problem)
	}
}

// A plan is triggered; the silent guard is texted after the first wait;
// their ack stops the escalation; stand-down closes the activation.
func suitePlanEscalation(t *testing.T, ns string) {
	h := scenario.NewWith(t, scenario.Options{Namespace: ns})
	r := h.As("jonah").MustDo("/plan trigger medical-emergency @harbour Visitor collapsed in reception")
	if !strings.Contains(r.Text, "A-1 triggered") {
		t.Fatalf("trigger reply: %s", r.Text)
	}
	h.ExpectSent(notify.Chat, "#harbour", "MEDICAL EMERGENCY")
	h.ExpectSent(notify.Chat, "amara", "T-3", "/ack T-3")
	h.Out.Take()

	h.Advance(2 * time.Minute)
	h.ExpectSent(notify.SMS, "amara", "T-3", "Reply ACK 3")
	h.Out.Take()
	r = h.As("amara").MustDo("/ack T-3")
	if !strings.Contains(r.Text, "T-3 acknowledged by Amara Okafor") {
		t.Fatalf("ack reply: %s", r.Text)
	}
	h.Advance(12 * time.Minute)
	h.ExpectNothingFor("T-3")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	task, err := h.Store.Task(ctx, 3)
	if err != nil || task.Status != store.TaskAcknowledged || task.AckedBy != "amara" {
		t.Fatalf("T-3: %+v, %v", task, err)
	}
	h.As("jonah").MustDo("/plan standdown A-1")
	a, err := h.Store.Activation(ctx, 1)
	if err != nil || a.Status != "stood_down" {
		t.Fatalf("A-1 after stand-down: %+v, %v", a, err)
	}
	if n, err := h.Store.PendingTimers(ctx); err != nil || n != 0 {
		t.Fatalf("pending timers after stand-down: %d, %v", n, err)
	}
	if v := storetest.SealAndVerify(t, h.Store); !v.OK() {
		t.Fatalf("audit chain: %v", v.Problem)
	}
}

// One process runs its engine and sleeps (its clock never moves); another
// triggers a plan. Only the wake-up published by the trigger script can
// make the first engine run the tasks' first steps.
func suiteWakeAcrossProcesses(t *testing.T, ns string) {
	a := scenario.NewWith(t, scenario.Options{Namespace: ns})
	b := scenario.NewWith(t, scenario.Options{Namespace: ns, Clock: a.Clock})
	steps := make(chan int64, 16)
	a.Engine.OnStep = func(task int64, _ int, _ string, _, _ time.Time) {
		select {
		case steps <- task:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Engine.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// Wait until a's engine sleeps on its clock: it has subscribed.
	bound := time.NewTimer(10 * time.Second)
	defer bound.Stop()
	for a.Clock.Waiters() == 0 {
		select {
		case <-a.Clock.Changed():
		case <-bound.C:
			t.Fatal("engine never went to sleep")
		}
	}
	// b's command pokes only b's engine, which is not running.
	r := b.Svc.Handle(ctx, commandAs("jonah", "/plan trigger medical-emergency @harbour Wake-up check"))
	if r.Error {
		t.Fatalf("trigger: %s", r.Text)
	}
	select {
	case task := <-steps:
		t.Logf("engine woken by pub/sub ran T-%d", task)
	case <-bound.C:
		t.Fatal("the sleeping engine never ran the new tasks: no wake-up reached it")
	}
}

// Two replicas contend for the chat connection lease: one holds it; the
// other gets it once the first releases it.
func suiteLease(t *testing.T, ns string) {
	h := scenario.NewWith(t, scenario.Options{Namespace: ns})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l, err := h.Store.AcquireLease(ctx, "slack-socket", "A", 9*time.Second); err != nil || !l.Held {
		t.Fatalf("A acquires: %+v, %v", l, err)
	}
	if l, err := h.Store.AcquireLease(ctx, "slack-socket", "B", 9*time.Second); err != nil || l.Held || l.Holder != "A" {
		t.Fatalf("B acquires A's lease: %+v, %v", l, err)
	}
	if l, err := h.Store.RenewLease(ctx, "slack-socket", "A", 9*time.Second); err != nil || !l.Held {
		t.Fatalf("A renews: %+v, %v", l, err)
	}
	if ok, err := h.Store.ReleaseLease(ctx, "slack-socket", "A"); err != nil || !ok {
		t.Fatalf("A releases: %v, %v", ok, err)
	}
	if l, err := h.Store.AcquireLease(ctx, "slack-socket", "B", 9*time.Second); err != nil || !l.Held {
		t.Fatalf("B acquires the released lease: %+v, %v", l, err)
	}
}
