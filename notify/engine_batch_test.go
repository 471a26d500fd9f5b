package notify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// One Tick works through a backlog many batches deep (each batch claimed
// while the one before is recorded) and returns only when nothing more
// is due; over the whole escalation every step of every task runs
// exactly once, in order, never before its deadline.
func TestTickDrainsABacklogInOrder(t *testing.T) {
	const (
		tasks = 95
		batch = 10
	)
	clk := clock.NewFake(engineStart)
	st := openShared(t, 1, clk.Now)[0]
	cfg := exampleConfig(t)
	nums := triggerTasks(t, st, tasks, 50, func(int) string { return "critical" }, func(int) string { return "amara" })
	e := NewEngine(EngineOptions{Config: cfg, Store: st, Clock: clk, Batch: batch})
	log := &stepLog{}
	e.OnStep = log.hook("A")
	ctx := context.Background()

	wait, err := e.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(log.snapshot()); got != tasks {
		t.Fatalf("one Tick ran %d steps, want all %d due (%d batches of %d)", got, tasks, (tasks+batch-1)/batch, batch)
	}
	pol, _ := cfg.Policy("critical")
	firstWait := Steps(pol)[0].Wait.D()
	if wait <= 0 || wait > firstWait+time.Millisecond {
		t.Errorf("after the backlog Tick says wait %s, want the first step's wait (%s)", wait, firstWait)
	}

	drive(t, e, st, clk, engineStart.Add(24*time.Hour))
	want := len(Steps(pol)) + 1 // the steps, then unanswered
	next := map[int64]int{}
	for _, ev := range log.snapshot() {
		if ev.result != store.StepOK {
			t.Errorf("T-%d step %d: %s", ev.task, ev.step, ev.result)
			continue
		}
		if ev.step != next[ev.task] {
			t.Errorf("T-%d ran step %d after step %d", ev.task, ev.step, next[ev.task]-1)
		}
		next[ev.task] = ev.step + 1
		if ev.fired.Before(ev.due) {
			t.Errorf("T-%d step %d fired at %s, before its deadline %s", ev.task, ev.step, ev.fired, ev.due)
		}
	}
	for _, n := range nums {
		if next[n] != want {
			t.Errorf("T-%d ran %d steps, want %d", n, next[n], want)
		}
	}
}

// A step's audit event carries what report reads: the step, its
// channels and its recipient.
func TestStepAuditEventNamesTheStep(t *testing.T) {
	clk := clock.NewFake(engineStart)
	st := openShared(t, 1, clk.Now)[0]
	triggerTasks(t, st, 1, 1, func(int) string { return "critical" }, func(int) string { return "amara" })
	e := NewEngine(EngineOptions{Config: exampleConfig(t), Store: st, Clock: clk})
	if _, err := e.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := st.AuditEvents(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var step *store.AuditEvent
	for i := range evs {
		if evs[i].Kind == "task.escalated" {
			step = &evs[i]
		}
	}
	if step == nil {
		t.Fatalf("no task.escalated event among %d", len(evs))
	}
	var d struct {
		Step   *int     `json:"step"`
		Notify []string `json:"notify"`
		To     string   `json:"to"`
	}
	if err := json.Unmarshal([]byte(step.Data), &d); err != nil || d.Step == nil || *d.Step != 1 || len(d.Notify) != 2 || d.To != "amara" {
		t.Errorf("step event data %s (%v): want step 1, the critical policy's two channels, to amara", step.Data, err)
	}
	if v := storetest.SealAndVerify(t, st); !v.OK() {
		t.Fatalf("audit chain: %v", v.Problem)
	}
}
