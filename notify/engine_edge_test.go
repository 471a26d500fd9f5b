package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// drive ticks the engine, moving the clock to each next deadline, until
// nothing is pending or until is reached.
func drive(t *testing.T, e *Engine, st *store.Store, clk *clock.Fake, until time.Time) {
	t.Helper()
	ctx := context.Background()
	for range 1000 {
		if _, err := e.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		next, ok, err := st.NextDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || next.After(until) {
			return
		}
		if next.After(clk.Now()) {
			clk.Set(next)
		}
	}
	t.Fatal("the engine did not settle")
}

// outbox lists the queued messages as "key channel to#site: text".
func outbox(t *testing.T, st *store.Store) []string {
	t.Helper()
	msgs, err := st.Client().XRange(context.Background(), st.Key("outbox"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		e := store.OutboxEntryOf(m).Msg
		out = append(out, e.Key+" "+e.Channel+" "+e.To+"#"+e.Site+": "+e.Text)
	}
	return out
}

// A task whose policy left the config (renamed since the trigger) is
// still notified once, by chat and SMS, before it goes unanswered; it is
// not silently marked unanswered.
func TestEngineMissingPolicyStillNotifies(t *testing.T) {
	clk := clock.NewFake(engineStart)
	st := openShared(t, 1, clk.Now)[0]
	nums := triggerTasks(t, st, 1, 1, func(int) string { return "retired-policy" }, func(int) string { return "amara" })
	e := NewEngine(EngineOptions{Config: exampleConfig(t), Store: st, Clock: clk})
	drive(t, e, st, clk, engineStart.Add(4*time.Minute))
	got := strings.Join(outbox(t, st), "\n")
	for _, want := range []string{"T-1:0:chat chat amara#", "T-1:0:sms sms amara#"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q queued for a task with a missing policy:\n%s", want, got)
		}
	}
	if tk, _ := st.Task(context.Background(), nums[0]); tk.Status != store.TaskOpen {
		t.Errorf("after its notice the task is %s, want still open", tk.Status)
	}
	drive(t, e, st, clk, engineStart.Add(time.Hour))
	if tk, _ := st.Task(context.Background(), nums[0]); tk.Status != store.TaskUnanswered {
		t.Errorf("after the fallback wait the task is %s, want unanswered", tk.Status)
	}
}

// A task nobody holds (nobody on duty, no coordinator) is posted to its
// site's channel instead of to nobody.
func TestEngineUnassignedTaskGoesToTheSite(t *testing.T) {
	clk := clock.NewFake(engineStart)
	st := openShared(t, 1, clk.Now)[0]
	triggerTasks(t, st, 1, 1, func(int) string { return "standard" }, func(int) string { return "" })
	e := NewEngine(EngineOptions{Config: exampleConfig(t), Store: st, Clock: clk})
	drive(t, e, st, clk, engineStart)
	got := outbox(t, st)
	if len(got) != 1 || !strings.HasPrefix(got[0], "T-1:0:site chat #harbour: T-1 ") || !strings.Contains(got[0], "nobody is assigned") {
		t.Errorf("queued %q, want one post to #harbour saying nobody is assigned", got)
	}
	for _, m := range got {
		if strings.Contains(m, " #: ") || strings.Contains(m, "chat #:") {
			t.Errorf("a message to nobody: %q", m)
		}
	}
}
