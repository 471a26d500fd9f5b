package notify

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// TestEngineTakeoverExactlyOnce: three engines (three processes on one
// Redis, one shared clock) escalate 1,000 tasks. Mid-escalation one of
// them claims a batch of due steps and dies without running them; when
// its lease ends the other two take the batch over. Every step of every
// task runs exactly once, in order, never early; the taken-over steps run
// late by the lease, and each step after one of them still waits its full
// policy wait from when the taken-over step actually ran.
func TestEngineTakeoverExactlyOnce(t *testing.T) {
	const (
		lease = 10 * time.Second
		batch = 50
	)
	tasks := 1000
	if testing.Short() {
		tasks = 200
	}
	clk := clock.NewFake(engineStart)
	stores := openShared(t, 3, clk.Now)
	cfg := exampleConfig(t)
	policy := func(i int) string {
		if i%2 == 0 {
			return "standard"
		}
		return "critical"
	}
	people := []string{"amara", "ben", "chloe"}
	nums := triggerTasks(t, stores[0], tasks, 100, policy, func(i int) string { return people[i%3] })
	policyOf := make(map[int64]string, tasks)
	for i, n := range nums {
		policyOf[n] = policy(i)
	}
	// schedule[policy][k] is when step k is due when nothing runs late:
	// the sum of the waits before it; the last entry is the unanswered
	// step. waits[policy][k] is the wait after step k.
	schedule := map[string][]time.Duration{}
	waits := map[string][]time.Duration{}
	for _, id := range []string{"standard", "critical"} {
		p, _ := cfg.Policy(id)
		var at time.Duration
		for _, st := range Steps(p) {
			schedule[id] = append(schedule[id], at)
			waits[id] = append(waits[id], st.Wait.D())
			at += st.Wait.D()
		}
		schedule[id] = append(schedule[id], at)
	}

	log := &stepLog{}
	engines := map[string]*Engine{}
	for i, name := range []string{"A", "B", "C"} {
		e := NewEngine(EngineOptions{Config: cfg, Store: stores[i], Clock: clk, Lease: lease, Batch: batch})
		e.OnStep = log.hook(name)
		engines[name] = e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctxC, crashC := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(ctx context.Context, e *Engine) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.Run(ctx)
		}()
	}
	runAB, stopAB := context.WithCancel(ctx)
	run(runAB, engines["A"])
	run(runAB, engines["B"])
	doneC := make(chan struct{})
	go func() {
		defer close(doneC)
		_ = engines["C"].Run(ctxC)
	}()
	defer func() { stopAB(); crashC(); wg.Wait(); <-doneC }()

	running := 3
	crashAt := 5 * time.Minute
	var held []store.Claim
	for at := time.Duration(0); ; at += time.Minute {
		if at == crashAt {
			// C dies mid-escalation: it stops, then (as if in its last
			// breath) claims a batch of the steps falling due now and
			// never runs them.
			crashC()
			<-doneC
			running = 2
			var err error
			held, err = engines["C"].claim(ctx, engineStart.Add(at))
			if err != nil {
				t.Fatal(err)
			}
			if len(held) != batch {
				t.Fatalf("the crashing engine claimed %d steps, want a full batch of %d", len(held), batch)
			}
		}
		clk.Set(engineStart.Add(at))
		waitFor(t, time.Minute, fmt.Sprintf("the engines to settle at +%s", at), func() bool {
			return settled(t, stores[0], clk, running)
		})
		if _, pending, err := stores[0].NextDue(ctx); err != nil {
			t.Fatal(err)
		} else if !pending {
			break
		}
		if at > time.Hour {
			t.Fatal("deadlines still pending an hour in")
		}
	}

	// Exactly once: one "ok" per task and step, and only those steps.
	events := log.snapshot()
	type key struct {
		task int64
		step int
	}
	ok := map[key]stepEvent{}
	for _, ev := range events {
		if ev.result != store.StepOK {
			t.Errorf("T-%d step %d by %s: %s, want every claimed step to run", ev.task, ev.step, ev.engine, ev.result)
			continue
		}
		k := key{ev.task, ev.step}
		if prev, dup := ok[k]; dup {
			t.Errorf("T-%d step %d ran twice: by %s and by %s", ev.task, ev.step, prev.engine, ev.engine)
		}
		ok[k] = ev
		if ev.engine == "C" && ev.fired.Sub(engineStart) >= crashAt {
			t.Errorf("T-%d step %d ran on the crashed engine", ev.task, ev.step)
		}
	}
	byEngine := map[string]int{}
	for _, n := range nums {
		sched := schedule[policyOf[n]]
		var prev stepEvent
		for k := range sched {
			ev, found := ok[key{n, k}]
			if !found {
				t.Errorf("T-%d (%s) step %d never ran", n, policyOf[n], k)
				break
			}
			byEngine[ev.engine]++
			// Step k is due its full wait after step k-1 ran.
			want := engineStart
			if k > 0 {
				want = prev.fired.Add(waits[policyOf[n]][k-1])
			}
			if !ev.due.Equal(want) {
				t.Errorf("T-%d step %d was due +%s, want +%s (the wait counted from when step %d ran, +%s)",
					n, k, ev.due.Sub(engineStart), want.Sub(engineStart), k-1, prev.fired.Sub(engineStart))
			}
			prev = ev
			if ev.fired.Before(ev.due) {
				t.Errorf("T-%d step %d fired early: at +%s, due +%s", n, k, ev.fired.Sub(engineStart), ev.due.Sub(engineStart))
			}
		}
		if extra, found := ok[key{n, len(sched)}]; found {
			t.Errorf("T-%d ran a step %d beyond its policy (by %s)", n, len(sched), extra.engine)
		}
	}
	// The held batch was taken over once the lease ended, by A or B.
	for _, c := range held {
		var step int
		for k, due := range schedule[policyOf[c.Task]] {
			if due == crashAt {
				step = k
			}
		}
		ev := ok[key{c.Task, step}]
		if ev.engine != "A" && ev.engine != "B" {
			t.Errorf("T-%d step %d (held by the crashed engine) ran on %q, want A or B", c.Task, step, ev.engine)
		}
		if late := ev.fired.Sub(ev.due); late < lease {
			t.Errorf("T-%d step %d ran %s after its deadline, before the crashed engine's lease (%s) ended", c.Task, step, late, lease)
		}
		// The person paged by the taken-over step still gets the whole wait.
		if after, found := ok[key{c.Task, step + 1}]; found {
			if got, wait := after.fired.Sub(ev.fired), waits[policyOf[c.Task]][step]; got < wait {
				t.Errorf("T-%d step %d ran %s after the taken-over step %d, want its full wait of %s", c.Task, step+1, got, step, wait)
			}
		}
	}
	if byEngine["A"] == 0 || byEngine["B"] == 0 || byEngine["C"] == 0 {
		t.Errorf("steps per engine %v: want all three to have worked", byEngine)
	}

	// In order: each timeline reads assigned, step 1, step 2, ...,
	// unanswered, and each task ended unanswered.
	all, err := stores[1].Tasks(ctx, nums)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range all {
		if tk.Status != store.TaskUnanswered {
			t.Errorf("%s ended %s, want unanswered", tk.ID(), tk.Status)
		}
	}
	history, err := stores[2].History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nums {
		tl := store.RecordTimeline(store.FormatID("T", n), history)
		steps, kinds := stepsOf(tl)
		want := len(schedule[policyOf[n]]) - 1
		good := len(steps) == want+1 && steps[want] == -1
		for k := 0; good && k < want; k++ {
			good = steps[k] == k+1
		}
		if !good {
			t.Errorf("T-%d timeline steps %v (kinds %v), want 1..%d then unanswered", n, steps, kinds, want)
		}
	}
	t.Logf("steps run per engine: %v; %d held by the crashed engine and taken over", byEngine, len(held))
}
