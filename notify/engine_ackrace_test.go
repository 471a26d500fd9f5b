package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// TestAckRacesDeadlines: 10,000 tasks fall due now while their assignees
// acknowledge them, two engines escalate them and a deliverer sends,
// all at once, with the clock moving on as the acks come in so later
// steps race too. For every task exactly one of "ack" and "step" wins
// each race: no step is recorded after its ack, nothing is sent for a
// step recorded after the ack, every ack succeeds, and the task's record
// agrees with its timeline.
//
// The full 10,000 run on a real Redis (CI sets MUSTER_TEST_REDIS_URL);
// on the in-process server, or with -short, 2,000.
func TestAckRacesDeadlines(t *testing.T) {
	n := 10_000
	if storetest.URL() == "" || testing.Short() {
		n = 2_000
	}
	clk := clock.NewFake(engineStart)
	stores := openShared(t, 3, clk.Now)
	cfg := exampleConfig(t)
	people := []string{"amara", "ben", "chloe", "dev", "elena"}
	nums := triggerTasks(t, stores[0], n, 200, func(int) string { return "critical" }, func(i int) string { return people[i%len(people)] })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	var recorded atomic.Int64 // escalation steps recorded, by both engines
	for i := range 2 {
		e := NewEngine(EngineOptions{Config: cfg, Store: stores[i], Clock: clk})
		e.OnStep = func(_ int64, _ int, result string, _, _ time.Time) {
			if result == store.StepOK {
				recorded.Add(1)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.Run(runCtx)
		}()
	}
	var (
		sentMu sync.Mutex
		sent   = map[int64][]int{} // task -> steps whose notice went out
	)
	out := NotifierFunc(func(_ context.Context, m Message) (bool, error) {
		if k, ok := store.ParseStepKey(m.Key); ok {
			sentMu.Lock()
			sent[k.Task] = append(sent[k.Task], k.Step)
			sentMu.Unlock()
		}
		return false, nil
	})
	var dropped atomic.Int64
	d := NewDelivererWith(DelivererOptions{Store: stores[2], Out: out, Consumer: "deliverer"})
	d.OnDeliver = func(r Delivered) {
		if r.Outcome == OutcomeDropped {
			dropped.Add(1)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = d.Run(runCtx)
	}()

	// The acks, in random order, from 8 goroutines, while the clock moves
	// 10 s on for every 1/30 of them: steps 0, 1 and 2 race the acks. The
	// acks go out in those thirtieths; after each move of the clock the
	// next thirtieth waits until the engines have recorded a step (or none
	// is due), so the engines are mid-escalation while the acks run, however
	// fast the acks are next to the steps (the embedded Redis is slower at
	// steps than a real one).
	order := rand.Perm(n)
	var (
		acked   atomic.Int64
		prevMu  sync.Mutex
		prev    = make(map[int64]string, n)
		ackErrs []string
		work    = make(chan int64)
		ackers  sync.WaitGroup
	)
	for range 8 {
		ackers.Add(1)
		go func() {
			defer ackers.Done()
			for num := range work {
				tk, err := stores[2].Task(ctx, num)
				var p string
				if err == nil {
					p, err = stores[2].AckTask(ctx, num, tk.Assignee, store.TaskActionAck, "")
				}
				prevMu.Lock()
				if err != nil {
					ackErrs = append(ackErrs, fmt.Sprintf("T-%d: %v", num, err))
				}
				prev[num] = p
				prevMu.Unlock()
				acked.Add(1)
			}
		}()
	}
	step := int64(n / 30)
	release := make(chan struct{})
	go func() {
		defer close(work)
		for k, i := range order {
			if k > 0 && int64(k)%step == 0 {
				select {
				case <-release:
				case <-ctx.Done():
					return
				}
			}
			select {
			case work <- nums[i]:
			case <-ctx.Done():
				return
			}
		}
	}()
	for next := step; ; next += step {
		waitFor(t, 2*time.Minute, "acks to progress", func() bool { return acked.Load() >= min(next, int64(n)) })
		if acked.Load() >= int64(n) {
			break
		}
		before := recorded.Load()
		clk.Advance(10 * time.Second)
		waitFor(t, 2*time.Minute, "the engines to record a step", func() bool {
			if recorded.Load() > before {
				return true
			}
			due, ok, err := stores[0].NextDue(ctx)
			return err == nil && (!ok || due.After(clk.Now()))
		})
		select {
		case release <- struct{}{}:
		case <-ctx.Done():
		}
	}
	ackers.Wait()
	for _, e := range ackErrs {
		t.Errorf("ack refused: %s", e)
	}

	// Let everything left run out, then let the outbox drain.
	clk.Advance(30 * time.Minute)
	waitFor(t, 2*time.Minute, "the engines to settle", func() bool { return settled(t, stores[0], clk, 2) })
	waitFor(t, 2*time.Minute, "the outbox to drain", func() bool {
		l, err := stores[0].OutboxLen(ctx)
		return err == nil && l == 0
	})
	stop()
	wg.Wait()

	all, err := stores[0].Tasks(ctx, nums)
	if err != nil {
		t.Fatal(err)
	}
	raced := 0
	history, err := stores[1].History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range all {
		if tk.Status != store.TaskAcknowledged {
			t.Errorf("%s ended %s, want acknowledged", tk.ID(), tk.Status)
			continue
		}
		tl := store.RecordTimeline(tk.ID(), history)
		ackAt := -1
		stepsBefore := 0
		unansweredBefore := false
		var after []string
		for i, e := range tl {
			switch {
			case e.Kind == "ack":
				if ackAt >= 0 {
					t.Errorf("%s acknowledged twice", tk.ID())
				}
				ackAt = i
			case ackAt >= 0 && (e.Kind == "step" || e.Kind == "reassigned" || e.Kind == "unanswered"):
				after = append(after, e.Kind+" "+e.Text)
			case e.Kind == "step":
				stepsBefore++
			case e.Kind == "unanswered":
				unansweredBefore = true
			}
		}
		if ackAt < 0 {
			t.Errorf("%s has no ack in its timeline", tk.ID())
			continue
		}
		if len(after) > 0 {
			t.Errorf("%s escalated after its ack: %s", tk.ID(), strings.Join(after, "; "))
		}
		if tk.Step != stepsBefore {
			t.Errorf("%s record says %d steps ran, its timeline %d before the ack", tk.ID(), tk.Step, stepsBefore)
		}
		if p := prev[tk.Num]; (p == store.TaskUnanswered) != unansweredBefore || (p != store.TaskOpen && p != store.TaskUnanswered) {
			t.Errorf("%s was %q when acknowledged; timeline unanswered before the ack: %v", tk.ID(), p, unansweredBefore)
		}
		if stepsBefore > 1 {
			raced++
		}
		// Nothing went out for a step that lost to the ack.
		sentMu.Lock()
		for _, s := range sent[tk.Num] {
			if s >= stepsBefore {
				t.Errorf("%s: the notice of step %d went out, but only %d step(s) ran before the ack", tk.ID(), s, stepsBefore)
			}
		}
		sentMu.Unlock()
	}
	t.Logf("%d tasks: %d acknowledged after an escalation beyond the first notice; %d queued notices dropped because their task was acknowledged first",
		n, raced, dropped.Load())
	if raced == 0 {
		t.Errorf("no task escalated before its ack: the clock never raced the acks")
	}
}
