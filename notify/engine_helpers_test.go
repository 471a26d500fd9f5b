package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// engineStart is when the engine tests begin: mid-shift on a Wednesday.
var engineStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// openShared opens n store handles onto one namespace, as n processes
// would: the Redis of MUSTER_TEST_REDIS_URL, else one in-process
// miniredis that every handle dials. The first handle removes the keys.
//
// The in-process server here runs without miniredis's ClockTTL: with it
// (as store.Open's embedded server runs) every command sorts every key
// of the server, which makes thousands of tasks take minutes. These
// tests rely on no key expiry (leases are timer scores, not TTLs).
func openShared(t testing.TB, n int, now func() time.Time) []*store.Store {
	t.Helper()
	url := storetest.URL()
	if url == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			t.Fatalf("start miniredis: %v", err)
		}
		t.Cleanup(m.Close)
		url = "redis://" + m.Addr()
	}
	ns := storetest.Namespace()
	var out []*store.Store
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := store.Open(ctx, store.Options{URL: url, Namespace: ns, Now: now})
		cancel()
		if err != nil {
			t.Fatalf("open store handle %d on %s: %v", i, ns, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if i == 0 {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := s.DeleteAll(ctx); err != nil {
					t.Errorf("clean up namespace %s: %v", ns, err)
				}
			})
		}
		out = append(out, s)
	}
	return out
}

func exampleConfig(t testing.TB) *configs.Config {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// triggerTasks writes n open tasks at harbour, perActivation to a
// trigger, each with policy(i) and assigned to assignee(i). It returns
// the task numbers in order.
func triggerTasks(t testing.TB, st *store.Store, n, perActivation int, policy, assignee func(i int) string) []int64 {
	t.Helper()
	ctx := context.Background()
	var nums []int64
	for i := 0; i < n; i += perActivation {
		in := store.NewActivation{Plan: "fire-evacuation", PlanName: "Fire evacuation", PlanVersion: 3, Site: "harbour", By: "jonah"}
		for j := i; j < min(n, i+perActivation); j++ {
			in.Tasks = append(in.Tasks, store.NewTask{Title: fmt.Sprintf("task %d", j), Role: "guard", Policy: policy(j), Assignee: assignee(j), Note: "test"})
		}
		_, tasks, err := st.TriggerPlan(ctx, in)
		if err != nil {
			t.Fatalf("trigger: %v", err)
		}
		for _, tk := range tasks {
			nums = append(nums, tk.Num)
		}
	}
	return nums
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// settled reports whether the engines are idle at the clock's time: no
// deadline is due and the running engines all wait on the clock.
func settled(t testing.TB, st *store.Store, clk *clock.Fake, running int) bool {
	t.Helper()
	if clk.Waiters() < running {
		return false
	}
	next, ok, err := st.NextDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return !ok || next.After(clk.Now())
}

// stepEvent is one OnStep call.
type stepEvent struct {
	engine      string
	task        int64
	step        int
	result      string
	due, fired  time.Time
	recordedSeq int
}

// stepLog records OnStep calls of several engines.
type stepLog struct {
	// mu guards the fields that follow.
	mu     sync.Mutex
	events []stepEvent
}

func (l *stepLog) hook(engine string) func(task int64, step int, result string, due, fired time.Time) {
	return func(task int64, step int, result string, due, fired time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events = append(l.events, stepEvent{engine: engine, task: task, step: step, result: result, due: due, fired: fired, recordedSeq: len(l.events)})
	}
}

func (l *stepLog) snapshot() []stepEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]stepEvent(nil), l.events...)
}

// stepsOf reads the "step k:" numbers and the closing kind of a task's
// timeline, in timeline order: [1 2 3 ... unanswered] as ints with -1 for
// the unanswered entry.
func stepsOf(tl []store.TimelineEntry) (steps []int, kinds []string) {
	for _, e := range tl {
		kinds = append(kinds, e.Kind)
		switch e.Kind {
		case "step":
			f := strings.Fields(e.Text)
			if len(f) >= 2 && f[0] == "step" {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[1], ":"))
				steps = append(steps, n)
			}
		case "unanswered":
			steps = append(steps, -1)
		}
	}
	return steps, kinds
}
