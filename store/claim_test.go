package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// ClaimDue holds each due timer until the end of the lease, carries the
// task and the step's scheduled due time, drops the timer of a task that
// is gone, claims nothing twice while the lease holds, and lets another
// process take the claims over once it ends (the due time staying the
// step's, not the lease's); the first claimer's step is then refused.
func TestClaimDueLeasesAndTakesOver(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := start
	s := storetest.Open(t, func() time.Time { return now })
	_, tasks, err := s.TriggerPlan(ctx, store.NewActivation{Plan: "fire-evacuation", PlanName: "Fire evacuation", PlanVersion: 3,
		Site: "harbour", By: "jonah", Tasks: []store.NewTask{
			{Title: "Sweep floors", Role: "guard", Policy: "standard", Assignee: "amara"},
			{Title: "Roll call", Role: "supervisor", Policy: "critical", Assignee: "ben"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	// A timer whose task is gone.
	if err := s.Client().ZAdd(ctx, s.Key("timers"), redis.Z{Score: float64(start.UnixMilli()), Member: "999"}).Err(); err != nil {
		t.Fatal(err)
	}
	now = start.Add(3 * time.Second)
	const lease = 30 * time.Second
	claims, err := s.ClaimDue(ctx, now, lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 2 {
		t.Fatalf("claimed %d, want the 2 tasks (not the gone one): %+v", len(claims), claims)
	}
	byNum := map[int64]store.Claim{}
	for _, c := range claims {
		byNum[c.Task] = c
	}
	for _, tk := range tasks {
		c, ok := byNum[tk.Num]
		if !ok {
			t.Fatalf("%s not claimed", tk.ID())
		}
		if !c.Due.Equal(start) {
			t.Errorf("%s claimed with due %s, want its scheduled %s", tk.ID(), c.Due, start)
		}
		if c.Record == nil || c.Record.Num != tk.Num || c.Record.Title != tk.Title || c.Record.Assignee != tk.Assignee ||
			c.Record.Policy != tk.Policy || c.Record.Status != store.TaskOpen {
			t.Errorf("%s claimed with record %+v, want the task as triggered", tk.ID(), c.Record)
		}
		score, err := s.Client().ZScore(ctx, s.Key("timers"), strconv.FormatInt(c.Task, 10)).Result()
		if err != nil || int64(score) != now.Add(lease).UnixMilli() {
			t.Errorf("%s timer at %v (%v), want the end of the lease %d", tk.ID(), score, err, now.Add(lease).UnixMilli())
		}
		if !c.Until.Equal(now.Add(lease)) {
			t.Errorf("%s claimed until %s, want the end of the lease %s", tk.ID(), c.Until, now.Add(lease))
		}
	}
	if err := s.Client().ZScore(ctx, s.Key("timers"), "999").Err(); err != redis.Nil {
		t.Errorf("the gone task's timer is still there (%v)", err)
	}

	// Nothing is claimed twice while the lease holds.
	now = now.Add(lease - time.Millisecond)
	if again, err := s.ClaimDue(ctx, now, lease, 10); err != nil || len(again) != 0 {
		t.Fatalf("during the lease B claimed %d (%v), want none", len(again), err)
	}
	// When it ends, B takes both over, still at the steps' due time.
	now = now.Add(time.Millisecond)
	taken, err := s.ClaimDue(ctx, now, lease, 10)
	if err != nil || len(taken) != 2 {
		t.Fatalf("after the lease B claimed %d (%v), want 2", len(taken), err)
	}
	for _, c := range taken {
		if !c.Due.Equal(start) {
			t.Errorf("T-%d taken over with due %s, want its scheduled %s", c.Task, c.Due, start)
		}
	}
	// A's late step is refused; B's runs.
	run := store.StepRun{Task: tasks[0].Num, Until: claims[0].Until, Step: 0, Wait: 2 * time.Minute, Note: "step 1", Audit: map[string]any{"step": 0}}
	if res, err := s.RunStep(ctx, run); err != nil || res != store.StepStale {
		t.Errorf("A's step after the take-over: %q (%v), want %q", res, err, store.StepStale)
	}
	run.Until = taken[0].Until
	if res, err := s.RunStep(ctx, run); err != nil || res != store.StepOK {
		t.Errorf("B's step: %q (%v), want %q", res, err, store.StepOK)
	}
	// The next step waits its full two minutes from when B ran this one,
	// not from the step's original deadline.
	want := now.Add(2 * time.Minute).UnixMilli()
	n := strconv.FormatInt(tasks[0].Num, 10)
	if score, err := s.Client().ZScore(ctx, s.Key("timers"), n).Result(); err != nil || int64(score) != want {
		t.Errorf("next step's timer at %v (%v), want %d: the take-over time plus the wait", score, err, want)
	}
	if due, _ := s.Client().HGet(ctx, s.Key("task", n), "due").Result(); due != strconv.FormatInt(want, 10) {
		t.Errorf("next step due %q, want %d", due, want)
	}
	if v := storetest.SealAndVerify(t, s); !v.OK() {
		t.Fatalf("audit chain: %v", v.Problem)
	}
}

// A claim larger than one ZADD's worth of timers (the script holds them
// in chunks) claims every one, each held to the end of the lease.
func TestClaimDueLargeBatch(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return now })
	const n = 4100 // 8,200 values: more than one unpack takes
	pipe := s.Client().Pipeline()
	due := now.Add(-time.Second).UnixMilli()
	for i := 1; i <= n; i++ {
		num := strconv.Itoa(i)
		pipe.HSet(ctx, s.Key("task", num), "num", num, "status", store.TaskOpen, "step", "0", "due", due)
		pipe.ZAdd(ctx, s.Key("timers"), redis.Z{Score: float64(due), Member: num})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDue(ctx, now, time.Minute, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != n {
		t.Fatalf("claimed %d, want all %d", len(claims), n)
	}
	held, err := s.Client().ZCount(ctx, s.Key("timers"), strconv.FormatInt(now.Add(time.Minute).UnixMilli(), 10), "+inf").Result()
	if err != nil || held != n {
		t.Fatalf("%d timers at the end of the lease (%v), want %d", held, err, n)
	}
}
