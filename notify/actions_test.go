package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// reminderEnv is the example organization on a fake clock, with an
// incident to record actions against.
func reminderEnv(t *testing.T, start time.Time) (*clock.Fake, *store.Store, *notify.ActionReminders, func() []notify.Message) {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(start)
	st := storetest.Open(t, clk.Now)
	if _, err := st.RaiseIncident(context.Background(), store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2", Reporter: "amara", Text: "Gate B forced"}); err != nil {
		t.Fatal(err)
	}
	var got []notify.Message
	rec := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		got = append(got, m)
		return false, nil
	})
	del := notify.NewDeliverer(st, rec, nil, "t", time.Minute)
	sent := func() []notify.Message {
		t.Helper()
		got = nil
		if _, err := del.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		return got
	}
	return clk, st, notify.NewActionReminders(cfg, st, clk, nil), sent
}

func describe(ms []notify.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Channel+" "+m.To+": "+m.Text)
	}
	return strings.Join(out, "\n")
}

// An action due Monday 16 March 2026 (London on GMT): Ben gets a chat at
// 09:00 that day and an SMS at 13:00, each once; the coordinator is told
// at 09:00 on Tuesday that it is overdue. A done action gets nothing.
func TestActionReminders(t *testing.T) {
	ctx := context.Background()
	clk, st, rm, sent := reminderEnv(t, time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC))
	a, err := st.RecordAction(ctx, store.NewAction{Subject: "INC-1", Owner: "ben", Due: "2026-03-16", Text: "Replace the lock on gate B", By: "farid"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.RecordAction(ctx, store.NewAction{Subject: "INC-1", Owner: "chloe", Due: "2026-03-16", Text: "Check the other gates", By: "farid"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CloseAction(ctx, b.Num, "chloe", "all fine"); err != nil {
		t.Fatal(err)
	}

	step := func(at time.Time, wantNext time.Time, want ...string) {
		t.Helper()
		clk.Set(at)
		next, err := rm.Remind(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !next.Equal(wantNext) {
			t.Errorf("at %s: next reminder %s, want %s", at, next, wantNext)
		}
		got := describe(sent())
		if got != strings.Join(want, "\n") {
			t.Errorf("at %s sent:\n%s\nwant:\n%s", at, got, strings.Join(want, "\n"))
		}
	}
	nineMon, oneMon, nineTue := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 13, 0, 0, 0, time.UTC), time.Date(2026, 3, 17, 9, 0, 0, 0, time.UTC)
	step(time.Date(2026, 3, 16, 8, 59, 0, 0, time.UTC), nineMon)
	step(nineMon, oneMon, "chat ben: CA-1 (INC-1) is due today: Replace the lock on gate B. When it is done: /action done CA-1 [note]")
	step(nineMon.Add(time.Minute), oneMon) // once only
	step(oneMon, nineTue, "sms ben: muster: CA-1 due today: Replace the lock on gate B Reply ACTION DONE CA-1 when done")
	step(nineTue, time.Time{}, "chat jonah: CA-1 (INC-1) is overdue: it was due 2026-03-16 and Ben Walsh has not marked it done: Replace the lock on gate B")
	step(nineTue.Add(24*time.Hour), time.Time{})

	got, err := st.Action(ctx, a.Num)
	if err != nil || len(got.Reminded) != 3 || !got.Reminded[notify.ReminderDueSMS].Equal(oneMon) {
		t.Errorf("CA-1 reminders recorded: %+v %v", got.Reminded, err)
	}
}

// The loop sends what is due when it wakes, and sleeps until the next.
func TestActionRemindersRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk, st, rm, sent := reminderEnv(t, time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC))
	if _, err := st.RecordAction(ctx, store.NewAction{Subject: "review", Owner: "grace", Due: "2026-03-16", Text: "Write the lone-working procedure", By: "jonah"}); err != nil {
		t.Fatal(err)
	}
	waiting := clk.Changed()
	stopped := make(chan struct{})
	go func() { _ = rm.Run(ctx); close(stopped) }()
	<-waiting // it looked, found nothing due, and sleeps
	if got := sent(); len(got) != 0 {
		t.Fatalf("before 09:00: %s", describe(got))
	}
	waiting = clk.Changed()
	clk.Set(time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC))
	<-waiting // it woke at 09:00, reminded, and sleeps again
	if got := describe(sent()); got != "chat grace: CA-1 (review) is due today: Write the lone-working procedure. When it is done: /action done CA-1 [note]" {
		t.Errorf("at 09:00 sent %q", got)
	}
	cancel()
	<-stopped
}
