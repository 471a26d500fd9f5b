package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// A roll call started with an ask has everyone's question queued by the
// start itself, before any engine runs: each person's first step is
// recorded (step 1, next due a full wait later) and their chat and SMS are
// on the outbox with the engine's own idempotency keys. People who join
// later are asked by the engine (their first step due at once).
func TestStartRollCallQueuesEveryonesQuestion(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return now })
	if err := s.EnsureOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	people := []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "hugo", Site: "harbour"}, {Person: "lena", Site: "depot"}}
	ask := &store.RollCallAsk{Channels: []string{"chat", "sms"}, Wait: 2 * time.Minute, Texts: map[string]map[string]string{
		"harbour": {"chat": "Roll call " + store.IDPlaceholder + " at Harbour: are you safe?", "sms": "Harbour " + store.IDPlaceholder + ": Reply SAFE or HELP"},
		"depot":   {"chat": "Roll call " + store.IDPlaceholder + " at Depot: are you safe?", "sms": "Depot " + store.IDPlaceholder + ": Reply SAFE or HELP"},
	}}
	num, tasks, err := s.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour", "depot"}, By: "farid", People: people, Ask: ask})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.ReadOutbox(ctx, "test", 100, -1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.OutMessage{}
	for _, e := range msgs {
		got[e.Msg.Key] = e.Msg
	}
	if len(msgs) != 6 {
		t.Errorf("%d messages queued by the start, want 6 (chat and SMS for each of 3): %+v", len(msgs), msgs)
	}
	for _, p := range people {
		tn := tasks[p.Person]
		task, err := s.Task(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		if task.Step != 1 || !task.Due.Equal(now.Add(2*time.Minute)) {
			t.Errorf("%s: step %d due %s, want step 1 due %s", p.Person, task.Step, task.Due, now.Add(2*time.Minute))
		}
		for _, ch := range []string{"chat", "sms"} {
			key := fmt.Sprintf("T-%d:0:%s", tn, ch)
			m, ok := got[key]
			want := strings.ReplaceAll(ask.Texts[p.Site][ch], store.IDPlaceholder, fmt.Sprintf("R-%d", num))
			if !ok || m.To != p.Person || m.Channel != ch || m.Kind != "task" || m.Ref != fmt.Sprintf("T-%d", tn) {
				t.Errorf("%s %s: %+v (found %v)", p.Person, ch, m, ok)
			}
			if ok && m.Text != want {
				t.Errorf("%s %s text %q, want %q", p.Person, ch, m.Text, want)
			}
		}
	}
	next, ok, err := s.NextDue(ctx)
	if err != nil || !ok || !next.Equal(now.Add(2*time.Minute)) {
		t.Errorf("next deadline %s %v %v, want the reminders at %s", next, ok, err, now.Add(2*time.Minute))
	}

	// Someone who came on duty: the engine asks them, at once.
	added, err := s.JoinRollCall(ctx, num, []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "jonah", Site: "harbour"}})
	if err != nil || len(added) != 1 {
		t.Fatalf("join: %v %v", added, err)
	}
	task, err := s.Task(ctx, added["jonah"])
	if err != nil {
		t.Fatal(err)
	}
	if task.Step != 0 || !task.Due.Equal(now) {
		t.Errorf("joined: step %d due %s, want step 0 due now", task.Step, task.Due)
	}
}

// The tally drawn from a sample of each line (what the cards read) reads
// exactly as the tally drawn from everyone, as people answer, change
// their answer, and join; so does a roll call recorded without the lines
// (read whole and cut).
func TestRollCallSampleDrawsTheSameTally(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return now })
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	var people []store.RollCallMember
	for i := range 2*notify.TallyLimit + 7 {
		site := "harbour"
		if i%3 == 0 {
			site = "depot"
		}
		people = append(people, store.RollCallMember{Person: fmt.Sprintf("p%03d", (i*37)%101), Site: site})
	}
	num, _, err := s.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour", "depot"}, By: "farid", People: people})
	if err != nil {
		t.Fatal(err)
	}
	same := func(when string) {
		t.Helper()
		rc, err := s.RollCall(ctx, num)
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.RollCallPeople(ctx, num)
		if err != nil {
			t.Fatal(err)
		}
		sample, err := s.RollCallSample(ctx, num, notify.TallyLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(sample) > 3*notify.TallyLimit {
			t.Errorf("%s: sample of %d people, more than %d lines of %d", when, len(sample), 3, notify.TallyLimit)
		}
		want := notify.TallyText(cfg, rc, all, time.UTC)
		if got := notify.TallyText(cfg, rc, sample, time.UTC); got != want {
			t.Errorf("%s: tally from the sample\n%s\nwant\n%s", when, got, want)
		}
	}
	same("nobody answered")
	for i, p := range people {
		answer := store.AnswerSafe
		if i%4 == 1 {
			answer = store.AnswerHelp
		}
		now = now.Add(time.Second)
		if _, err := s.AnswerRollCall(ctx, store.RollCallAnswer{Num: num, Person: p.Person, Answer: answer, Channel: "sms"}); err != nil {
			t.Fatal(err)
		}
		if i == 5 || i == 40 {
			same(fmt.Sprintf("after %d answers", i+1))
		}
		if i == 45 {
			break
		}
	}
	if _, err := s.AnswerRollCall(ctx, store.RollCallAnswer{Num: num, Person: people[0].Person, Answer: store.AnswerHelp, Note: "smoke", Channel: "sms"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinRollCall(ctx, num, []store.RollCallMember{{Person: "a-late", Site: "harbour"}}); err != nil {
		t.Fatal(err)
	}
	same("after a change of answer and a join")
}
