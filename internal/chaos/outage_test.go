package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// stepWait is the wait of every step of the chaos policy.
const stepWait = 3 * time.Second

// Redis is down longer than a step's wait, right after every task's first
// step: the second steps fall due during the outage. When Redis is back,
// each overdue step runs once, and every later step still gets its whole
// wait, counted from when the step before it actually ran (the promise:
// nobody is paged for the next step, or marked unanswered, before they
// had a step's full wait to answer). It fails on any step run twice or
// missing, on any wait shorter than the policy's, and when no step was
// overdue (the outage covered nothing).
func TestChaosOutageKeepsEveryWait(t *testing.T) {
	needChaos(t)
	began := time.Now()
	w := newWorld(t, 2)
	// The drill's deadline starts once the binary is built and the
	// replicas run.
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	cfg, err := configs.Load(w.replicas[0].cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{URL: w.url, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func() string { return fmt.Sprintf("+%v", time.Since(began).Round(time.Millisecond)) }

	acts := []int64{w.trigger(ctx, w.replicas[0], "chaos", "harbour"), w.trigger(ctx, w.replicas[1], "chaos", "depot")}
	all, err := tasksOf(ctx, st, acts)
	if err != nil {
		t.Fatal(err)
	}
	if !waitUntil(ctx, 10*time.Second, func() bool { return stepsRun(ctx, st, 1) >= len(all) }) {
		t.Fatal("the first steps did not run")
	}
	const outage = 5 * time.Second // longer than stepWait
	w.redis.kill()
	down := time.Now()
	t.Logf("%s Redis killed (SIGKILL) after every task's first step", at())
	tm := time.NewTimer(outage)
	<-tm.C
	w.redis.start()
	t.Logf("%s Redis restarted on its AOF after %v", at(), time.Since(down).Round(time.Millisecond))

	tasks, ok := settle(ctx, st, acts, 60*time.Second)
	if !ok {
		t.Fatalf("escalation did not run to its end; logs in %s", w.dir)
	}
	late, shortest := 0, time.Duration(1<<62)
	for _, tk := range tasks {
		tl, err := st.TaskTimeline(ctx, tk.Num)
		if err != nil {
			t.Fatal(err)
		}
		var runs []time.Time // each step, then unanswered
		for _, e := range tl {
			if e.Kind == "step" || e.Kind == "unanswered" {
				runs = append(runs, e.At)
			}
		}
		if len(runs) != policySteps+1 {
			t.Errorf("%s ran %d steps and unanswered, want %d once each", tk.ID(), len(runs), policySteps+1)
			continue
		}
		for i := 1; i < len(runs); i++ {
			gap := runs[i].Sub(runs[i-1])
			shortest = min(shortest, gap)
			if gap < stepWait {
				t.Errorf("%s: step %d ran %v after the step before it, want at least the policy's %v", tk.ID(), i+1, gap, stepWait)
			}
			if gap >= stepWait+time.Second {
				late++
			}
		}
	}
	if late == 0 {
		t.Error("no step was overdue after the outage: the drill tested nothing")
	}
	steps := countSteps(ctx, st, tasks)
	msgs := w.count(ctx, st, cfg, tasks, acts)
	for _, p := range msgs.problems {
		t.Logf("outage: %s", p)
	}
	fmt.Printf("chaos outage: Redis down %.1f s after every task's first step (each step waits %v)\n", outage.Seconds(), stepWait)
	fmt.Printf("chaos outage: %d tasks; %s; %d steps ran late, once each; the shortest wait after any step %.2f s (policy %v)\n",
		len(tasks), steps, late, shortest.Seconds(), stepWait)
	fmt.Printf("chaos outage: %s\n", msgs)
	fmt.Printf("chaos outage: runtime %v\n", time.Since(began).Round(100*time.Millisecond))
}
