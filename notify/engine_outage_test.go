package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// TestEngineCatchesUpAfterOutage: no engine runs for 30 minutes after a
// trigger. The first engine to start runs each task's overdue step once,
// at the restart; every later step then waits its full policy wait from
// when the step before it ran, and a task goes unanswered only after its
// last step had its whole wait. Nobody is paged twice in one catch-up.
func TestEngineCatchesUpAfterOutage(t *testing.T) {
	clk := clock.NewFake(engineStart)
	st := openShared(t, 1, clk.Now)[0]
	cfg := exampleConfig(t)
	policies := []string{"standard", "critical", "standard"}
	people := []string{"amara", "ben", "chloe"}
	nums := triggerTasks(t, st, len(policies), len(policies), func(i int) string { return policies[i] }, func(i int) string { return people[i] })

	outage := 30 * time.Minute
	clk.Advance(outage)
	restart := clk.Now()

	log := &stepLog{}
	e := NewEngine(EngineOptions{Config: cfg, Store: st, Clock: clk})
	e.OnStep = log.hook("late")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = e.Run(runCtx)
	}()
	// Move the clock from deadline to deadline, a millisecond short of
	// each first (nothing may run early), until no deadline is left.
	for range 100 {
		waitFor(t, 30*time.Second, "the engine to settle", func() bool { return settled(t, st, clk, 1) })
		next, ok, err := st.NextDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		before := len(log.snapshot())
		clk.Set(next.Add(-time.Millisecond))
		waitFor(t, 30*time.Second, "the engine to settle", func() bool { return settled(t, st, clk, 1) })
		if n := len(log.snapshot()); n != before {
			t.Fatalf("%d steps ran a millisecond before the next deadline", n-before)
		}
		// The engine wakes a millisecond after a deadline (never early).
		clk.Set(next.Add(time.Millisecond))
	}
	stop()
	wg.Wait()

	events := log.snapshot()
	for i, n := range nums {
		p, _ := cfg.Policy(policies[i])
		steps := Steps(p)
		var got []int
		var prev stepEvent
		for _, ev := range events {
			if ev.task != n {
				continue
			}
			got = append(got, ev.step)
			if ev.result != store.StepOK {
				t.Errorf("T-%d step %d: %s, want ok", n, ev.step, ev.result)
			}
			switch {
			case ev.step == 0:
				if !ev.fired.Equal(restart) {
					t.Errorf("T-%d step 1 ran at +%s, want at the restart (+%s): the overdue step runs at once", n, ev.fired.Sub(engineStart), outage)
				}
			case ev.step <= len(steps):
				wait := steps[ev.step-1].Wait.D()
				if want, late := prev.fired.Add(wait), ev.fired.Sub(ev.due); !ev.due.Equal(want) || late < 0 || late > time.Millisecond {
					t.Errorf("T-%d step %d was due +%s and ran at +%s, want due +%s (the full %s after the step before it ran, +%s) and run then",
						n, ev.step, ev.due.Sub(engineStart), ev.fired.Sub(engineStart), want.Sub(engineStart), wait, prev.fired.Sub(engineStart))
				}
			}
			prev = ev
		}
		want := make([]int, len(steps)+1)
		for k := range want {
			want[k] = k
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("T-%d (%s) ran steps %v, want %v in order, each once", n, policies[i], got, want)
		}
		tk, err := st.Task(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != store.TaskUnanswered {
			t.Errorf("T-%d is %s after the catch-up, want unanswered", n, tk.Status)
		}
		tl, err := st.TaskTimeline(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if s, kinds := stepsOf(tl); len(s) != len(steps)+1 || s[len(s)-1] != -1 || kinds[len(kinds)-1] != "unanswered" {
			t.Errorf("T-%d timeline %v, want %d steps then unanswered last", n, kinds, len(steps))
		}
	}

	// The outbox holds each task's sends in step order, the unanswered
	// notices last.
	msgs, err := st.Client().XRange(ctx, st.Key("outbox"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nums {
		id := store.FormatID("T", n)
		var keys []string
		for _, m := range msgs {
			if e := store.OutboxEntryOf(m); e.Msg.Ref == id {
				keys = append(keys, e.Msg.Key)
			}
		}
		p, _ := cfg.Policy(policies[i])
		var want []string
		for k, s := range Steps(p) {
			for _, ch := range s.Notify {
				want = append(want, fmt.Sprintf("%s:%d:%s", id, k, ch))
			}
		}
		var unanswered []string
		for _, k := range keys {
			if strings.Contains(k, ":unanswered:") {
				unanswered = append(unanswered, k)
			}
		}
		if len(unanswered) == 0 {
			t.Errorf("%s: no unanswered notice queued; queued %v", id, keys)
			continue
		}
		if got := keys[:len(keys)-len(unanswered)]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s queued %v before the unanswered notices, want %v", id, got, want)
		}
		for _, k := range keys[len(keys)-len(unanswered):] {
			if !strings.Contains(k, ":unanswered:") {
				t.Errorf("%s queued %v: the unanswered notices must come last", id, keys)
				break
			}
		}
	}
}
